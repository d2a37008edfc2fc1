#include "support/token_table.h"

namespace tandem::testing {

grammar::TokenTable token_table_from(const text::Tokenizer& tok, int32_t width) {
  grammar::TokenTable t;
  const int32_t n = tok.vocab_size();
  const int32_t total = width > n ? width : n;
  t.bytes.resize(total);
  t.special.assign(total, true);
  for (int32_t id = 0; id < n; ++id) {
    text::TokenKind k = tok.kind(id);
    t.special[id] = k == text::TokenKind::kControl || k == text::TokenKind::kUnused;
    t.bytes[id] = tok.token_bytes(id);
  }
  if (tok.eos_id() >= 0) t.stop_ids.push_back(tok.eos_id());
  return t;
}

}  // namespace tandem::testing
