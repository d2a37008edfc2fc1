// text::unicode: categories, UTF-8 repair and NFC. Expected values come from
// Python's unicodedata / bytes.decode("utf-8", "replace") (see comments).
#include "text/unicode.h"

#include <gtest/gtest.h>

namespace tandem::text::unicode {
namespace {

TEST(UnicodeTest, GeneralCategories) {
  EXPECT_EQ(general_category(U'A'), GeneralCategory::kLu);
  EXPECT_EQ(general_category(U'ß'), GeneralCategory::kLl);
  EXPECT_EQ(general_category(U'中'), GeneralCategory::kLo);
  EXPECT_EQ(general_category(U'٣'), GeneralCategory::kNd);
  EXPECT_EQ(general_category(U'Ⅻ'), GeneralCategory::kNl);
  EXPECT_EQ(general_category(U'½'), GeneralCategory::kNo);
  EXPECT_EQ(general_category(0x0301), GeneralCategory::kMn);
  EXPECT_EQ(general_category(U'€'), GeneralCategory::kSc);
  EXPECT_EQ(general_category(0x1F600), GeneralCategory::kSo);
  EXPECT_EQ(general_category(0x200D), GeneralCategory::kCf);
  EXPECT_EQ(general_category(0x0378), GeneralCategory::kCn);  // unassigned
  EXPECT_EQ(general_category(0x110000), GeneralCategory::kCn);
  EXPECT_TRUE(is_letter(U'ж'));
  EXPECT_TRUE(is_number(U'７'));
  EXPECT_TRUE(is_punctuation(U'«'));
  EXPECT_TRUE(is_symbol(U'+'));
  EXPECT_TRUE(is_mark(0x0E31));
  EXPECT_FALSE(is_letter(U'1'));
}

TEST(UnicodeTest, WhiteSpaceIsThePropertyNotIsspace) {
  for (char32_t c : {U' ', U'\t', U'\n', U'\r', char32_t{0x0B}, char32_t{0x0C}, char32_t{0x85}, char32_t{0xA0},
                     char32_t{0x1680}, char32_t{0x2000}, char32_t{0x200A}, char32_t{0x2028}, char32_t{0x2029},
                     char32_t{0x202F}, char32_t{0x205F}, char32_t{0x3000}}) {
    EXPECT_TRUE(is_white_space(c)) << std::hex << static_cast<uint32_t>(c);
  }
  // Python's str.isspace() says True for U+001C..U+001F; White_Space does not.
  for (char32_t c : {char32_t{0x1C}, char32_t{0x1F}, char32_t{0x200B}, char32_t{0x180E}, char32_t{0xFEFF}, U'x'}) {
    EXPECT_FALSE(is_white_space(c)) << std::hex << static_cast<uint32_t>(c);
  }
}

TEST(UnicodeTest, InvalidUtf8BecomesReplacementPerMaximalSubpart) {
  // Python: b"...".decode("utf-8", "replace")
  EXPECT_EQ(to_valid_utf8("abc\xff" "def"), "abc\xEF\xBF\xBD" "def");
  EXPECT_EQ(to_valid_utf8("\xe2\x82 euro"), "\xEF\xBF\xBD euro");             // one U+FFFD for E2 82
  EXPECT_EQ(to_valid_utf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");           // overlong: two
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: three
  EXPECT_EQ(to_valid_utf8("\xf4\x90\x80\x80"), std::string(4 * 3, ' ').replace(0, 12, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
  EXPECT_EQ(to_valid_utf8("\xf0\x9f\x98"), "\xEF\xBF\xBD");                  // truncated 4-byte: one
  EXPECT_EQ(to_valid_utf8("ok \xf0\x9f\x98\x80"), "ok \xf0\x9f\x98\x80");
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9llo \xe4\xb8\xad \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xef\xbf"));
}

TEST(UnicodeTest, NfcComposesReordersAndLeavesNfcAlone) {
  EXPECT_EQ(nfc("e\xcc\x81"), "\xc3\xa9");                              // e + U+0301 -> é
  EXPECT_EQ(nfc("\xe2\x84\xab"), "\xc3\x85");                           // U+212B ANGSTROM SIGN -> Å
  EXPECT_EQ(nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81");  // jamo G A G -> 각
  // a + U+0307 + U+0323 -> U+1EA1 (ạ) + U+0307: marks reordered by class, then composed.
  EXPECT_EQ(nfc("a\xcc\x87\xcc\xa3"), "\xe1\xba\xa1\xcc\x87");
  EXPECT_EQ(nfc("\xef\xac\x81"), "\xef\xac\x81");                       // ﬁ is NFC already (compat only)
  EXPECT_FALSE(may_need_nfc("plain ASCII and caf\xc3\xa9 \xe4\xb8\xad"));
  EXPECT_TRUE(may_need_nfc("e\xcc\x81"));
  EXPECT_EQ(nfc("already NFC \xc3\xa9"), "already NFC \xc3\xa9");
}

TEST(UnicodeTest, AppendUtf8RejectsSurrogates) {
  std::string s;
  append_utf8(s, 0xD800);
  append_utf8(s, 0x1F600);
  EXPECT_EQ(s, "\xEF\xBF\xBD\xF0\x9F\x98\x80");
}

}  // namespace
}  // namespace tandem::text::unicode
