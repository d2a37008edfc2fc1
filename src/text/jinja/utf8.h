// Code-point helpers and Python str algorithms over UTF-8 strings, for the
// Jinja interpreter. Character facts (Python's str predicates, full case
// mappings) and UTF-8 decoding/encoding come from text/unicode.h; invalid
// bytes read as U+FFFD per maximal subpart (never a crash).
//
// Case mapping is CPython 3.11's (unicodeobject.c): full mappings, so one
// code point may become up to three ('ß'.upper() == "SS", 'İ'.lower() ==
// "i̇"), and U+03A3 lowers to final sigma U+03C2 when a cased letter precedes
// it and none follows (case-ignorable characters skipped) in lower(),
// capitalize(), title() and swapcase(). casefold() applies no final sigma.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text::jinja::utf8 {

std::vector<char32_t> to_code_points(std::string_view s);
std::string from_code_points(const std::vector<char32_t>& cps, size_t begin, size_t end);
bool is_ascii(std::string_view s);
// Number of code points (Python len()).
size_t length(std::string_view s);

// Python str methods of the same names.
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string casefold(std::string_view s);
std::string swapcase(std::string_view s);
std::string capitalize(std::string_view s);
std::string python_title(std::string_view s);  // str.title (not Jinja's title filter)
bool is_lower(std::string_view s);             // str.islower
bool is_upper(std::string_view s);             // str.isupper
bool is_title(std::string_view s);             // str.istitle
// s is non-empty and pred holds for each code point (str.isalpha, isdigit, ...).
bool all_code_points(std::string_view s, bool (*pred)(char32_t));

// Appends Python's escape of one code point as repr() writes it:
// \xNN below U+0100, \uNNNN below U+10000, else \UNNNNNNNN.
void append_python_escape(std::string& out, char32_t cp);

// Python str.strip family: `chars` null means whitespace (str.isspace).
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);

}  // namespace tandem::text::jinja::utf8
