// A small byte-level vocabulary for the grammar unit tests: every single byte, a few multi-byte
// tokens that cross JSON and regex boundaries, two special tokens and an EOS stop id.
#pragma once

#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace tandem::grammar::testing {

inline TokenTable small_table() {
  TokenTable t;
  for (int b = 0; b < 256; ++b) t.bytes.push_back(std::string(1, static_cast<char>(b)));
  for (const char* s :
       {"\"",  "\",", "\"}", "\":",  "{\"", "true", "false",   "null",     "ab",   "abc",    "ba",  "12",
        "1,",  "0}",  " \"", "\n  ", "  ",  ", \"", "\":\"",   "name",     "age",  "[1",     "]}",  "\"]",
        "aaa", "-1",  ".5",  "e1",   "xyz", "\\\"", "\\u00e9", "\xc3\xa9", "\xc3", "\xa9\"", "cat", "dog"}) {
    t.bytes.emplace_back(s);
  }
  t.special.assign(t.bytes.size(), false);
  t.bytes.push_back("<eos>");
  t.special.push_back(true);
  t.bytes.push_back("<pad>");
  t.special.push_back(true);
  t.stop_ids = {static_cast<int32_t>(t.bytes.size() - 2)};
  return t;
}

}  // namespace tandem::grammar::testing
