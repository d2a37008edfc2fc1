// GrammarConstraints: the served model's ConstraintCompiler over the real
// grammar engine, on the byte tokenizer (one token per byte, three control
// ids): the token table, one independent matcher per factory call, masks as
// the scheduler reads them (engine::token_allowed over a possibly wider mask),
// finishing, and compile errors carrying the request field.
#include "frontend/grammar_constraints.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/sampling.h"
#include "support/byte_tokenizer.h"

namespace tandem::frontend {
namespace {

using test::ByteTokenizer;

std::vector<int32_t> allowed_ids(scheduler::TokenConstraint& c, size_t words, bool* any = nullptr) {
  std::vector<uint32_t> mask(words, 0u);
  const bool ok = c.fill_next_token_mask(mask);
  if (any != nullptr) *any = ok;
  std::vector<int32_t> ids;
  for (int32_t t = 0; t < static_cast<int32_t>(words * 32); ++t) {
    if (engine::token_allowed(mask, t)) ids.push_back(t);
  }
  return ids;
}

const std::vector<int32_t> kStop{ByteTokenizer::kEndOfText};

TEST(GrammarConstraints, TokenTableFromTheTokenizer) {
  ByteTokenizer tok;
  const std::vector<int32_t> stops{ByteTokenizer::kEndOfText, 5000, -1};
  const grammar::TokenTable t = GrammarConstraints::token_table(tok, stops);
  ASSERT_EQ(t.bytes.size(), static_cast<size_t>(ByteTokenizer::kVocabSize));
  EXPECT_EQ(t.bytes['a'], "a");
  EXPECT_FALSE(t.special['a']);
  EXPECT_TRUE(t.special[ByteTokenizer::kImStart]);
  EXPECT_TRUE(t.bytes[ByteTokenizer::kImStart].empty());
  EXPECT_EQ(t.stop_ids, kStop);  // out-of-range ids dropped
}

TEST(GrammarConstraints, ChoiceMatchersAreIndependentAndFinish) {
  ByteTokenizer tok;
  GrammarConstraints gc(tok, kStop);
  StructuredOutput spec;
  spec.kind = StructuredKind::kChoice;
  spec.choices = {"yes", "no"};
  spec.field = "guided_choice";
  auto factory = gc.compile(spec);
  ASSERT_TRUE(factory.ok()) << factory.status().message();
  auto a = factory.value()();
  auto b = factory.value()();
  ASSERT_NE(a.get(), b.get());
  const size_t words = (ByteTokenizer::kVocabSize + 31) / 32 + 2;  // wider than the vocabulary, as a padded row
  EXPECT_EQ(allowed_ids(*a, words), (std::vector<int32_t>{'n', 'y'}));
  ASSERT_TRUE(a->accept('y'));
  EXPECT_FALSE(a->accept('o'));  // refused, state unchanged
  EXPECT_EQ(allowed_ids(*a, words), (std::vector<int32_t>{'e'}));
  EXPECT_EQ(allowed_ids(*b, words), (std::vector<int32_t>{'n', 'y'}));  // b has not moved
  ASSERT_TRUE(a->accept('e'));
  EXPECT_FALSE(a->finished());
  ASSERT_TRUE(a->accept('s'));
  EXPECT_TRUE(a->finished());  // nothing may follow "yes"
  a->rollback(1);
  EXPECT_FALSE(a->finished());
  EXPECT_EQ(allowed_ids(*a, words), (std::vector<int32_t>{'s'}));
}

TEST(GrammarConstraints, RegexAllowsTheStopIdOnlyWhenTheOutputMayEnd) {
  ByteTokenizer tok;
  GrammarConstraints gc(tok, kStop);
  StructuredOutput spec;
  spec.kind = StructuredKind::kRegex;
  spec.source = "[0-9]{1,2}";
  spec.field = "structured_outputs";
  auto factory = gc.compile(spec);
  ASSERT_TRUE(factory.ok()) << factory.status().message();
  auto m = factory.value()();
  const size_t words = (ByteTokenizer::kVocabSize + 31) / 32;
  std::vector<int32_t> digits;
  for (int32_t d = '0'; d <= '9'; ++d) digits.push_back(d);
  EXPECT_EQ(allowed_ids(*m, words), digits);
  ASSERT_TRUE(m->accept('4'));
  std::vector<int32_t> after = digits;
  after.push_back(ByteTokenizer::kEndOfText);
  EXPECT_EQ(allowed_ids(*m, words), after);
  ASSERT_TRUE(m->accept(ByteTokenizer::kEndOfText));
  EXPECT_TRUE(m->finished());
}

TEST(GrammarConstraints, AMaskNarrowerThanTheVocabularyKeepsWhatFits) {
  ByteTokenizer tok;
  GrammarConstraints gc(tok, kStop);
  StructuredOutput spec;
  spec.kind = StructuredKind::kChoice;
  spec.choices = {"a", "\xc3\xa9"};  // 'a' (97) and a first byte 0xc3 (195, past a 4-word row)
  spec.field = "guided_choice";
  auto m = gc.compile(spec).value()();
  bool any = false;
  EXPECT_EQ(allowed_ids(*m, 4, &any), (std::vector<int32_t>{'a'}));
  EXPECT_TRUE(any);
}

TEST(GrammarConstraints, JsonSchemaOutputAndCompileErrorsNameTheField) {
  ByteTokenizer tok;
  GrammarConstraints gc(tok, kStop);
  StructuredOutput spec;
  spec.kind = StructuredKind::kJsonSchema;
  spec.source = R"({"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]})";
  spec.field = "response_format";
  auto m = gc.compile(spec).value()();
  for (char c : std::string(R"({"ok":true})")) ASSERT_TRUE(m->accept(static_cast<unsigned char>(c))) << c;
  const size_t words = (ByteTokenizer::kVocabSize + 31) / 32;
  const std::vector<int32_t> next = allowed_ids(*m, words);
  EXPECT_NE(std::find(next.begin(), next.end(), ByteTokenizer::kEndOfText), next.end());

  spec.source = R"({"type":"object","minProperties":2})";
  auto bad = gc.compile(spec);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(bad.status().param(), "response_format");
  EXPECT_EQ(bad.status().message().rfind("'response_format': ", 0), 0u) << bad.status().message();
  EXPECT_NE(bad.status().message().find("minProperties"), std::string::npos) << bad.status().message();

  StructuredOutput re;
  re.kind = StructuredKind::kRegex;
  re.source = "(ab";
  re.field = "guided_regex";
  auto bad_re = gc.compile(re);
  ASSERT_FALSE(bad_re.ok());
  EXPECT_EQ(bad_re.status().param(), "guided_regex");
  StructuredOutput g;
  g.kind = StructuredKind::kGrammar;
  g.source = "root ::= undefined-rule";
  g.field = "guided_grammar";
  EXPECT_EQ(gc.compile(g).status().param(), "guided_grammar");
}

}  // namespace
}  // namespace tandem::frontend
