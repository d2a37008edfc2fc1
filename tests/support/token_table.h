// A grammar::TokenTable from a text::Tokenizer, for tools and benchmarks (the server builds its own).
// `width`: pad the table to this many ids (a model's logits width) with special entries; 0 = vocab size.
#pragma once

#include "grammar/grammar.h"
#include "text/tokenizer.h"

namespace tandem::testing {

grammar::TokenTable token_table_from(const text::Tokenizer& tok, int32_t width = 0);

}  // namespace tandem::testing
