#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "unit/grammar/test_vocab.h"

namespace tandem::grammar {
namespace {

bool full_match(Compiler& c, const std::string& pattern, const std::string& text) {
  auto g = c.regex(pattern);
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return false;
  Matcher m(*g);
  return m.accept_bytes(text) && m.can_end();
}

TEST(RegexParser, MatchesLikePythonFullmatch) {
  Compiler c(testing::small_table());
  EXPECT_TRUE(full_match(c, "abc", "abc"));
  EXPECT_FALSE(full_match(c, "abc", "ab"));
  EXPECT_FALSE(full_match(c, "abc", "abcd"));
  EXPECT_TRUE(full_match(c, "a|bc", "bc"));
  EXPECT_TRUE(full_match(c, "(ab)+", "ababab"));
  EXPECT_FALSE(full_match(c, "(ab)+", ""));
  EXPECT_TRUE(full_match(c, "[a-c]{2,3}x?", "cbx"));
  EXPECT_FALSE(full_match(c, "[a-c]{2,3}", "abca"));
  EXPECT_TRUE(full_match(c, "\\d+\\.\\d*", "12."));
  EXPECT_TRUE(full_match(c, "[^a]", "\xc3\xa9"));
  EXPECT_TRUE(full_match(c, "[^a]", "\n"));
  EXPECT_FALSE(full_match(c, ".", "\n"));
  EXPECT_TRUE(full_match(c, "\\w\\s\\W", "_ !"));
  EXPECT_TRUE(full_match(c, "^a{,2}$", "aa"));
  EXPECT_TRUE(full_match(c, "a{", "a{"));
  EXPECT_TRUE(full_match(c, "[\\u00e0-\\u00ff]+", "\xc3\xa9\xc3\xa0"));
  EXPECT_TRUE(full_match(c, "(?:x|y)(?P<n>z)*?", "yzz"));
}

TEST(RegexParser, ErrorsNameTheOffset) {
  Compiler c(testing::small_table());
  struct Case {
    const char* pattern;
    const char* message;
  };
  for (const Case& k :
       {Case{"ab(c", "missing ')' at offset 4"}, Case{"a)", "unbalanced ')' at offset 1"},
        Case{"*a", "nothing to repeat at offset 0"}, Case{"[b-a]", "bad character range"},
        Case{"a(?=b)", "unsupported group construct"}, Case{"a\\1", "unsupported escape \\1 at offset 1"},
        Case{"[abc", "unterminated character class at offset 0"}, Case{"a{3,2}", "min repeat greater than max repeat"},
        Case{"a**", "multiple repeat"}, Case{"a^b", "'^' is only supported at the start"}}) {
    auto g = c.regex(k.pattern);
    ASSERT_FALSE(g.ok()) << k.pattern;
    EXPECT_EQ(g.status().kind(), ErrorKind::kInvalidRequest);
    EXPECT_NE(g.status().message().find(k.message), std::string::npos) << k.pattern << ": " << g.status().message();
  }
}

}  // namespace
}  // namespace tandem::grammar
