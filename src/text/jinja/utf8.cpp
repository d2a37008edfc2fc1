#include "text/jinja/utf8.h"

#include <cstdio>

#include "text/unicode.h"

namespace tandem::text::jinja::utf8 {

namespace {

constexpr char32_t kCapitalSigma = 0x3A3;
constexpr char32_t kSmallSigma = 0x3C3;
constexpr char32_t kFinalSigma = 0x3C2;

void append_mapping(std::string& out, const unicode::CaseMapping& m) {
  for (uint8_t i = 0; i < m.size; ++i) unicode::append_utf8(out, m.cps[i]);
}

// CPython's handle_capital_sigma: cps[i] is U+03A3 in the Final_Sigma
// context \p{cased}\p{case-ignorable}* U+03A3 !(\p{case-ignorable}* \p{cased}).
bool final_sigma(const std::vector<char32_t>& cps, size_t i) {
  size_t j = i;
  while (j > 0 && unicode::is_case_ignorable(cps[j - 1])) --j;
  if (j == 0 || !unicode::is_cased(cps[j - 1])) return false;
  size_t k = i + 1;
  while (k < cps.size() && unicode::is_case_ignorable(cps[k])) ++k;
  return k == cps.size() || !unicode::is_cased(cps[k]);
}

// CPython's lower_ucs4: the full lower-case mapping of cps[i], final sigma included.
void append_lower(std::string& out, const std::vector<char32_t>& cps, size_t i) {
  if (cps[i] == kCapitalSigma) {
    unicode::append_utf8(out, final_sigma(cps, i) ? kFinalSigma : kSmallSigma);
    return;
  }
  append_mapping(out, unicode::to_lower_full(cps[i]));
}

// CPython's islower/isupper: at least one `want` character, no `other` or title-case one.
bool cased_only_as(std::string_view s, bool (*want)(char32_t), bool (*other)(char32_t)) {
  bool any_cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = unicode::decode_utf8(s, pos);
    if (other(cp) || unicode::is_titlecase(cp)) return false;
    any_cased = any_cased || want(cp);
  }
  return any_cased;
}

template <typename Map>
std::string map_each(std::string_view s, Map map) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) append_mapping(out, map(unicode::decode_utf8(s, pos)));
  return out;
}

}  // namespace

std::vector<char32_t> to_code_points(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) out.push_back(unicode::decode_utf8(s, pos));
  return out;
}

std::string from_code_points(const std::vector<char32_t>& cps, size_t begin, size_t end) {
  std::string out;
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) unicode::append_utf8(out, cps[i]);
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

size_t length(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t pos = 0;
  size_t n = 0;
  while (pos < s.size()) {
    unicode::decode_utf8(s, pos);
    ++n;
  }
  return n;
}

std::string upper(std::string_view s) { return map_each(s, unicode::to_upper_full); }

std::string casefold(std::string_view s) { return map_each(s, unicode::case_fold_full); }

std::string lower(std::string_view s) {
  const auto cps = to_code_points(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) append_lower(out, cps, i);
  return out;
}

std::string swapcase(std::string_view s) {
  const auto cps = to_code_points(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    if (unicode::is_uppercase(cps[i])) {
      append_lower(out, cps, i);
    } else if (unicode::is_lowercase(cps[i])) {
      append_mapping(out, unicode::to_upper_full(cps[i]));
    } else {
      unicode::append_utf8(out, cps[i]);
    }
  }
  return out;
}

std::string capitalize(std::string_view s) {
  const auto cps = to_code_points(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0) {
      append_mapping(out, unicode::to_title_full(cps[i]));
    } else {
      append_lower(out, cps, i);
    }
  }
  return out;
}

std::string python_title(std::string_view s) {
  const auto cps = to_code_points(s);
  std::string out;
  out.reserve(s.size());
  bool previous_cased = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (previous_cased) {
      append_lower(out, cps, i);
    } else {
      append_mapping(out, unicode::to_title_full(cps[i]));
    }
    previous_cased = unicode::is_cased(cps[i]);
  }
  return out;
}

bool is_lower(std::string_view s) { return cased_only_as(s, unicode::is_lowercase, unicode::is_uppercase); }

bool is_upper(std::string_view s) { return cased_only_as(s, unicode::is_uppercase, unicode::is_lowercase); }

bool is_title(std::string_view s) {
  bool any_cased = false;
  bool previous_cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = unicode::decode_utf8(s, pos);
    if (unicode::is_uppercase(cp) || unicode::is_titlecase(cp)) {
      if (previous_cased) return false;
      previous_cased = any_cased = true;
    } else if (unicode::is_lowercase(cp)) {
      if (!previous_cased) return false;
      previous_cased = any_cased = true;
    } else {
      previous_cased = false;
    }
  }
  return any_cased;
}

bool all_code_points(std::string_view s, bool (*pred)(char32_t)) {
  if (s.empty()) return false;
  size_t pos = 0;
  while (pos < s.size()) {
    if (!pred(unicode::decode_utf8(s, pos))) return false;
  }
  return true;
}

void append_python_escape(std::string& out, char32_t cp) {
  char buf[16];
  const unsigned v = static_cast<unsigned>(cp);
  if (cp < 0x100) {
    std::snprintf(buf, sizeof(buf), "\\x%02x", v);
  } else if (cp < 0x10000) {
    std::snprintf(buf, sizeof(buf), "\\u%04x", v);
  } else {
    std::snprintf(buf, sizeof(buf), "\\U%08x", v);
  }
  out += buf;
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::vector<char32_t> set;
  if (chars != nullptr) set = to_code_points(*chars);
  auto strippable = [&](char32_t cp) {
    if (chars == nullptr) return unicode::py_is_space(cp);
    for (char32_t c : set) {
      if (c == cp) return true;
    }
    return false;
  };
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end) {
      size_t next = begin;
      const char32_t cp = unicode::decode_utf8(s, next);
      if (!strippable(cp)) break;
      begin = next;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t probe = start;
      const char32_t cp = unicode::decode_utf8(s, probe);
      if (probe != end) {
        // A malformed tail: treat the last byte on its own.
        start = end - 1;
        probe = start;
        if (!strippable(unicode::decode_utf8(s, probe))) break;
        end = start;
        continue;
      }
      if (!strippable(cp)) break;
      end = start;
    }
  }
  return std::string(s.substr(begin, end - begin));
}

}  // namespace tandem::text::jinja::utf8
