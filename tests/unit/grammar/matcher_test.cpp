// Matcher: the fast mask (cached context-independent masks + run-time checks of the uncertain tokens)
// against a brute force that replays the prefix and every token's bytes byte by byte on a fresh matcher,
// along random walks; plus accept/rollback/end semantics.
#include <gtest/gtest.h>

#include <random>

#include "grammar/compiled_grammar.h"
#include "grammar/grammar.h"
#include "unit/grammar/test_vocab.h"

namespace tandem::grammar {
namespace {

bool bit(const std::vector<uint32_t>& m, int32_t t) { return (m[t >> 5] >> (t & 31)) & 1u; }

// Random walks through the grammar; at every step the mask must equal the brute force.
void check_masks(Compiler& c, const TokenTable& table, std::shared_ptr<const Grammar> g, int walks, int steps,
                 uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> mask(c.mask_words());
  for (int w = 0; w < walks; ++w) {
    Matcher m(g);
    std::string prefix;
    for (int s = 0; s < steps; ++s) {
      bool any = m.fill_next_token_mask(mask);
      std::vector<int32_t> allowed;
      for (int32_t t = 0; t < static_cast<int32_t>(table.bytes.size()); ++t) {
        bool expect;
        if (table.special[t]) {
          expect = false;
        } else {
          Matcher fresh(g);
          expect = fresh.accept_bytes(prefix) && fresh.accept_bytes(table.bytes[t]);
        }
        bool is_stop = t == table.stop_ids[0];
        if (is_stop) expect = m.can_end();
        ASSERT_EQ(bit(mask, t), expect) << "token " << t << " '" << table.bytes[t] << "' after '" << prefix << "'";
        if (expect && !is_stop) allowed.push_back(t);
      }
      ASSERT_EQ(any, !allowed.empty() || m.can_end());
      if (allowed.empty() || (m.can_end() && rng() % 4 == 0)) break;
      int32_t pick = allowed[rng() % allowed.size()];
      ASSERT_TRUE(m.accept(pick));
      prefix += table.bytes[pick];
    }
  }
}

TEST(Matcher, MaskEqualsBruteForceForJsonSchemas) {
  TokenTable table = testing::small_table();
  Compiler c(table);
  for (
      const char* schema : {
          R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":-5,"maximum":130}},"required":["name"]})",
          R"({"type":"array","items":{"enum":["cat","dog",1,null]},"minItems":1,"maxItems":3})",
          R"({"$defs":{"n":{"type":"object","properties":{"v":{"type":"number"},"next":{"$ref":"#/$defs/n"}},"required":["v"]}},"$ref":"#/$defs/n"})",
          R"({"anyOf":[{"type":"string","format":"date"},{"type":"boolean"},{"type":"string","pattern":"^a[bc]+$"}]})",
          R"({"type":"string","minLength":2,"maxLength":4})",
      }) {
    auto g = c.json_schema(schema);
    ASSERT_TRUE(g.ok()) << g.status().message();
    check_masks(c, table, *g, 6, 25, 7);
  }
  auto g = c.any_json_object();
  ASSERT_TRUE(g.ok());
  check_masks(c, table, *g, 6, 25, 9);
}

TEST(Matcher, MaskEqualsBruteForceForRegexAndGrammar) {
  TokenTable table = testing::small_table();
  Compiler c(table);
  for (const char* re : {"(ab|ba)*c?", "[a-c]{2,5}x", "a+(b|\\d{2})*", ".{0,3}"}) {
    auto g = c.regex(re);
    ASSERT_TRUE(g.ok()) << g.status().message();
    check_masks(c, table, *g, 6, 12, 3);
  }
  auto g = c.ebnf("root ::= item (\",\" item)*\nitem ::= \"ab\" | [0-9]+ | \"(\" root \")\"\n");
  ASSERT_TRUE(g.ok()) << g.status().message();
  check_masks(c, table, *g, 6, 15, 5);
}

TEST(Matcher, AcceptRollbackAndEnd) {
  TokenTable table = testing::small_table();
  const int32_t eos = table.stop_ids[0];
  Compiler c(table);
  std::vector<std::string> options = {"cat", "catalog"};
  auto g = c.choice(options);
  ASSERT_TRUE(g.ok());
  Matcher m(*g);
  EXPECT_FALSE(m.can_end());
  EXPECT_FALSE(m.accept(eos));
  EXPECT_FALSE(m.accept('x'));
  EXPECT_EQ(m.accepted_tokens(), 0);
  const int32_t cat =
      static_cast<int32_t>(std::find(table.bytes.begin(), table.bytes.end(), "cat") - table.bytes.begin());
  ASSERT_TRUE(m.accept(cat));
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(m.finished());  // "alog" may follow
  ASSERT_TRUE(m.accept('a'));
  EXPECT_FALSE(m.can_end());
  m.rollback(1);
  EXPECT_TRUE(m.can_end());
  EXPECT_EQ(m.accepted_tokens(), 1);
  for (char ch : std::string("alog")) ASSERT_TRUE(m.accept(static_cast<uint8_t>(ch)));
  EXPECT_TRUE(m.finished());
  std::vector<uint32_t> mask(c.mask_words());
  ASSERT_TRUE(m.fill_next_token_mask(mask));
  for (int32_t t = 0; t < static_cast<int32_t>(table.bytes.size()); ++t) EXPECT_EQ(bit(mask, t), t == eos) << t;
  ASSERT_TRUE(m.accept(eos));
  EXPECT_TRUE(m.finished());
  EXPECT_FALSE(m.accept('a'));
  ASSERT_TRUE(m.fill_next_token_mask(mask));
  EXPECT_TRUE(bit(mask, eos));
  m.rollback(100);
  EXPECT_EQ(m.accepted_tokens(), 0);
  EXPECT_FALSE(m.can_end());
  // Special tokens are never allowed.
  EXPECT_FALSE(m.accept(eos + 1));
}

TEST(Matcher, NoStopIdMeansFalseWhenNothingIsAllowed) {
  TokenTable table = testing::small_table();
  table.stop_ids.clear();
  Compiler c(table);
  auto g = c.regex("ab");
  ASSERT_TRUE(g.ok());
  Matcher m(*g);
  ASSERT_TRUE(m.accept_bytes("ab"));
  std::vector<uint32_t> mask(c.mask_words(), 0xFFFFFFFFu);
  EXPECT_FALSE(m.fill_next_token_mask(mask));
  for (uint32_t w : mask) EXPECT_EQ(w, 0u);
  EXPECT_TRUE(m.finished());
}

TEST(Matcher, MemoryBudgetFallbackGivesTheSameMasks) {
  TokenTable table = testing::small_table();
  Compiler fast(table);
  const char* schema = R"({"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}}}})";
  auto gf = fast.json_schema(schema, false);
  ASSERT_TRUE(gf.ok());
  // The smallest budget that compiles: (almost) no position mask fits, so masks are walked from the
  // real stack instead.
  Limits tight;
  tight.max_memory_bytes = 1024;
  auto compiles = [&](size_t budget) {
    Limits l;
    l.max_memory_bytes = budget;
    return Compiler(table, l).json_schema(schema, false).ok();
  };
  size_t lo = 1, hi = 1 << 24;  // lo fails, hi compiles
  ASSERT_TRUE(compiles(hi));
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    (compiles(mid) ? hi : lo) = mid;
  }
  tight.max_memory_bytes = hi;
  Compiler slow(table, tight);
  auto gs = slow.json_schema(schema, false);
  ASSERT_TRUE(gs.ok());
  Matcher ms(*gs), mf(*gf);
  std::vector<uint32_t> a(fast.mask_words()), b(fast.mask_words());
  for (const char* piece : {"{", "\"a\"", ":", " [", "\"x", "\",", "\"y\"", "]", "}"}) {
    ms.fill_next_token_mask(a);
    mf.fill_next_token_mask(b);
    EXPECT_EQ(a, b) << "before " << piece;
    ASSERT_TRUE(ms.accept_bytes(piece) && mf.accept_bytes(piece)) << piece;
  }
  EXPECT_TRUE(mf.can_end());
  EXPECT_LT((*gs)->cached_positions() + 3, (*gf)->cached_positions());
}

}  // namespace
}  // namespace tandem::grammar
