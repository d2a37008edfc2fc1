// UTF-8 and code-point helpers with Python str semantics (len, indexing,
// isspace, case mapping) for the Jinja interpreter. Strings are UTF-8 bytes;
// invalid bytes decode as U+FFFD one byte at a time (never a crash).
// Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic;
// other scripts are left unchanged (a documented gap, see README.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text::jinja::utf8 {

// Decodes the code point at `pos` and advances `pos`.
char32_t decode(std::string_view s, size_t& pos);
void append(std::string& out, char32_t cp);
std::vector<char32_t> to_code_points(std::string_view s);
std::string from_code_points(const std::vector<char32_t>& cps, size_t begin, size_t end);
bool is_ascii(std::string_view s);
// Number of code points (Python len()).
size_t length(std::string_view s);

bool is_space(char32_t cp);      // Python str.isspace
bool is_alpha(char32_t cp);      // letters (approximation of Python's isalpha)
bool is_digit(char32_t cp);      // ASCII digits and other decimal digits (Nd subset)
bool is_word(char32_t cp);       // regex \w: alpha, digit or '_'
bool is_printable(char32_t cp);  // Python str.isprintable for repr()
bool is_cased_lower(char32_t cp);
bool is_cased_upper(char32_t cp);
char32_t to_upper(char32_t cp);
char32_t to_lower(char32_t cp);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);   // Python str.capitalize
std::string python_title(std::string_view s); // Python str.title

// Python str.strip family: `chars` null means whitespace.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);

}  // namespace tandem::text::jinja::utf8
