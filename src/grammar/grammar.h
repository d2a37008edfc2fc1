// grammar: constrained decoding. A request's format (JSON Schema, any JSON object, regex, list of choices,
// GBNF grammar) is compiled once into a byte-level grammar (grammar/rule_set.h), then into an automaton of
// rules (grammar/automaton.h); a Matcher walks it with a persistent stack and tells, per step, which
// tokens may come next as a bitmask. Leaf module: depends only on common (README.md).
//
// Threading: Compiler is thread-safe (one per served model). Grammar is immutable once built apart from
// its lazily filled, internally locked per-position token-mask cache, and is shared between threads and
// sequences. A Matcher belongs to one sequence and is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tandem::grammar {

// What the compiler needs to know of the vocabulary: for every token id, the raw bytes it contributes to the
// output (text::Tokenizer::token_bytes), whether it is special/control (never allowed by a grammar), and the
// ids that end a sequence (EOS / end-of-turn ids): allowed by the mask exactly when the grammar may end.
// A non-special token with no bytes is never allowed either.
struct TokenTable {
  std::vector<std::string> bytes;  // [vocab]
  std::vector<bool> special;       // [vocab] true: never produced inside a grammar
  std::vector<int32_t> stop_ids;   // allowed iff the matcher can end
};

// Compilation is bounded; past a limit the compile returns kInvalidRequest naming the limit.
struct Limits {
  double max_compile_seconds = 2.0;
  size_t max_states = 200000;            // automaton nodes of one grammar
  size_t max_memory_bytes = 256u << 20;  // automaton plus cached token masks of one grammar
};

class Grammar;  // compiled, immutable, shareable between threads and sequences
class Vocab;    // the TokenTable sorted into a trie (grammar/vocab.h)
class GrammarCache;
class SharedMasks;

class Compiler {  // one per served model; thread-safe; caches compiled grammars (LRU, bounded)
 public:
  explicit Compiler(TokenTable tokens, Limits limits = {});
  ~Compiler();
  Compiler(const Compiler&) = delete;
  Compiler& operator=(const Compiler&) = delete;

  // Each returns kInvalidRequest with a message naming what is wrong (unsupported keyword and its JSON
  // pointer, bad regex and the offset, grammar syntax error with line:col, limit exceeded) -> HTTP 400.
  Result<std::shared_ptr<const Grammar>> json_schema(std::string_view schema_json, bool strict = true);
  Result<std::shared_ptr<const Grammar>> any_json_object();  // response_format {"type":"json_object"}
  Result<std::shared_ptr<const Grammar>> regex(std::string_view pattern);
  Result<std::shared_ptr<const Grammar>> choice(std::span<const std::string> options);
  Result<std::shared_ptr<const Grammar>> ebnf(std::string_view grammar_text);  // GBNF dialect, root = "root"
  int32_t vocab_size() const;
  size_t mask_words() const;  // (vocab + 31) / 32

  // Cache statistics (for tests and the bench).
  size_t cache_hits() const;
  size_t cache_size() const;

 private:
  template <class Build>
  Result<std::shared_ptr<const Grammar>> cached(std::string key, Build build);

  std::shared_ptr<const Vocab> vocab_;
  Limits limits_;
  std::unique_ptr<GrammarCache> cache_;
  std::shared_ptr<SharedMasks> shared_masks_;
};

class StackSet;  // grammar/stack.h

class Matcher {  // one per sequence; used by one thread at a time
 public:
  explicit Matcher(std::shared_ptr<const Grammar> g);
  ~Matcher();
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;

  // Bit t of word t/32 (bit t%32) set = token t is allowed as the next token. Stop ids are allowed iff
  // can_end(). Never returns an all-zero mask silently: returns false when no token is allowed.
  // `mask` must hold at least mask_words() words; words past that are left alone.
  bool fill_next_token_mask(std::span<uint32_t> mask) const;
  bool accept(int32_t token);   // advance; false and unchanged state if the token is not allowed
  void rollback(int n_tokens);  // undo the last n accepted tokens (stop-string rollback); clamps at 0
  bool can_end() const;         // the bytes so far form a complete match
  bool finished() const;        // can_end() and no further byte is possible (force stop)
  int accepted_tokens() const;

  // Accepts raw bytes (not a token): false and unchanged state if they do not keep a valid prefix.
  // For tests and tools; not counted as an accepted token and not undone by rollback.
  bool accept_bytes(std::string_view bytes);

 private:
  std::shared_ptr<const Grammar> grammar_;
  std::unique_ptr<StackSet> stacks_;
};

}  // namespace tandem::grammar
