#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "unit/grammar/test_vocab.h"

namespace tandem::grammar {
namespace {

bool matches(Compiler& c, const std::string& grammar, const std::string& text) {
  auto g = c.ebnf(grammar);
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return false;
  Matcher m(*g);
  return m.accept_bytes(text) && m.can_end();
}

TEST(GbnfParser, LlamaCppSyntax) {
  Compiler c(testing::small_table());
  const std::string arith =
      "# arithmetic\n"
      "root  ::= expr\n"
      "expr  ::= term (\"+\" term)*\n"
      "term  ::= num | \"(\" expr \")\"\n"
      "num   ::= [0-9]+\n";
  EXPECT_TRUE(matches(c, arith, "1+(23+4)"));
  EXPECT_FALSE(matches(c, arith, "1+"));
  EXPECT_FALSE(matches(c, arith, "(1"));
  EXPECT_TRUE(matches(c, "root ::= \"a\"{2,3} [^a-c]? \"\\x41\\u00e9\\n\"", "aaxA\xc3\xa9\n"));
  EXPECT_FALSE(matches(c, "root ::= \"a\"{2,3}", "aaaa"));
  EXPECT_TRUE(matches(c, "root ::= ( \"x\" |\n  \"y\" )+ .", "xyx\xc3\xa9"));
  EXPECT_TRUE(matches(c, "root ::= item{,2}\nitem ::= \"ab\"", "abab"));
  EXPECT_TRUE(matches(c, "root ::= \"\"", ""));
}

TEST(GbnfParser, ErrorsNameLineAndColumn) {
  Compiler c(testing::small_table());
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& k : {
           Case{"root ::= \"a\" b\n", "rule 'b' is not defined at line 1:14"},
           Case{"root ::= \"a\n", "unterminated string at line 1:10"},
           Case{"root ::= [ab", "unterminated character class at line 1:10"},
           Case{"root ::= [z-a]", "bad character range at line 1:14"},
           Case{"root ::= (\"a\"\n", "missing ')' at line 2:1"},
           Case{"item ::= \"a\"\n", "no rule named 'root'"},
           Case{"root ::= \"a\"\nroot ::= \"b\"\n", "rule 'root' is defined twice at line 2:1"},
           Case{"root ::= x\nx ::= x \"a\" | \"b\"\n", "rule 'x' is left-recursive"},
           Case{"root ::= \"a\"{3,2}\n", "min repeat greater than max repeat"},
           Case{"root = \"a\"\n", "expected '::=' after rule name 'root' at line 1:6"},
           Case{"root ::= [^\\x00-\\U0010FFFF]\n", "the grammar matches no string"},
       }) {
    auto g = c.ebnf(k.text);
    ASSERT_FALSE(g.ok()) << k.text;
    EXPECT_EQ(g.status().kind(), ErrorKind::kInvalidRequest);
    EXPECT_NE(g.status().message().find(k.message), std::string::npos) << k.text << " -> " << g.status().message();
  }
}

}  // namespace
}  // namespace tandem::grammar
