// Small scanning helpers shared by the parsers that read model output as it
// streams (reasoning_parser, tool_call_parser): ASCII whitespace, and the
// length of a tail that may still grow into a marker. Pure functions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace tandem::text {

inline bool is_output_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The first index at or after `i` that is not whitespace (s.size() if none).
inline size_t skip_output_space(std::string_view s, size_t i) {
  while (i < s.size() && is_output_space(s[i])) ++i;
  return i;
}

// `s` without its trailing whitespace.
inline std::string_view trim_output_space_end(std::string_view s) {
  size_t e = s.size();
  while (e > 0 && is_output_space(s[e - 1])) --e;
  return s.substr(0, e);
}

// Length of the longest suffix of `s` that is a proper prefix of `marker`:
// the bytes to hold back until the next text shows whether the marker follows.
inline size_t partial_marker_length(std::string_view s, std::string_view marker) {
  for (size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace tandem::text
