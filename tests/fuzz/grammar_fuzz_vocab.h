// The vocabulary and limits the grammar fuzz targets share: every byte, a few multi-byte tokens, one
// special and one stop id; compile limits tight enough that no input can make a run slow.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace tandem::grammar::fuzz {

inline Compiler& compiler() {
  static Compiler* c = [] {
    TokenTable t;
    for (int b = 0; b < 256; ++b) t.bytes.push_back(std::string(1, static_cast<char>(b)));
    for (const char* s : {"\"", "\",", "{\"", "\"}", "true", "null", "12", "ab", " \"", "\xc3\xa9"})
      t.bytes.push_back(s);
    t.special.assign(t.bytes.size(), false);
    t.bytes.push_back("<s>");
    t.special.push_back(true);
    t.bytes.push_back("<eos>");
    t.special.push_back(true);
    t.stop_ids.push_back(static_cast<int32_t>(t.bytes.size() - 1));
    Limits l;
    l.max_compile_seconds = 0.5;
    l.max_states = 20000;
    l.max_memory_bytes = 16u << 20;
    return new Compiler(std::move(t), l);
  }();
  return *c;
}

// Walks the matcher with choices taken from `choices`, checking the mask against accept() and rollback.
// Traps on a broken invariant.
inline void exercise(std::shared_ptr<const Grammar> g, std::span<const uint8_t> choices) {
  Compiler& c = compiler();
  Matcher m(std::move(g));
  std::vector<uint32_t> mask(c.mask_words());
  for (size_t i = 0; i < choices.size() && i < 64; ++i) {
    bool any = m.fill_next_token_mask(mask);
    std::vector<int32_t> allowed;
    for (int32_t t = 0; t < c.vocab_size(); ++t) {
      if (mask[t >> 5] >> (t & 31) & 1u) allowed.push_back(t);
    }
    if (any != !allowed.empty()) __builtin_trap();
    if (allowed.empty()) return;
    // A token outside the mask is refused and leaves the state alone.
    int32_t other = static_cast<int32_t>(choices[i]);
    if (!(mask[other >> 5] >> (other & 31) & 1u)) {
      int before = m.accepted_tokens();
      if (m.accept(other) || m.accepted_tokens() != before) __builtin_trap();
    }
    int32_t pick = allowed[choices[i] % allowed.size()];
    if (!m.accept(pick)) __builtin_trap();
    if (choices[i] & 1) {
      m.rollback(1);
      if (!m.accept(pick)) __builtin_trap();
    }
    if (m.finished()) return;
  }
}

}  // namespace tandem::grammar::fuzz
