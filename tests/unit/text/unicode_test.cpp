// text::unicode: categories, UTF-8 repair and NFC, Python's str character
// model. Expected values come from Python's unicodedata / str methods /
// bytes.decode("utf-8", "replace") (see comments); the exhaustive comparison
// with Python is tests/reference/jinja/test_unicode_differential.py.
#include "text/unicode.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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
  EXPECT_EQ(to_valid_utf8("abc\xff"
                          "def"),
            "abc\xEF\xBF\xBD"
            "def");
  EXPECT_EQ(to_valid_utf8("\xe2\x82 euro"), "\xEF\xBF\xBD euro");                    // one U+FFFD for E2 82
  EXPECT_EQ(to_valid_utf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong: two
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: three
  EXPECT_EQ(to_valid_utf8("\xf4\x90\x80\x80"),
            std::string(4 * 3, ' ').replace(0, 12, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
  EXPECT_EQ(to_valid_utf8("\xf0\x9f\x98"), "\xEF\xBF\xBD");  // truncated 4-byte: one
  EXPECT_EQ(to_valid_utf8("ok \xf0\x9f\x98\x80"), "ok \xf0\x9f\x98\x80");
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9llo \xe4\xb8\xad \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xef\xbf"));
}

TEST(UnicodeTest, NfcComposesReordersAndLeavesNfcAlone) {
  EXPECT_EQ(nfc("e\xcc\x81"), "\xc3\xa9");                                 // e + U+0301 -> é
  EXPECT_EQ(nfc("\xe2\x84\xab"), "\xc3\x85");                              // U+212B ANGSTROM SIGN -> Å
  EXPECT_EQ(nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81");  // jamo G A G -> 각
  // a + U+0307 + U+0323 -> U+1EA1 (ạ) + U+0307: marks reordered by class, then composed.
  EXPECT_EQ(nfc("a\xcc\x87\xcc\xa3"), "\xe1\xba\xa1\xcc\x87");
  EXPECT_EQ(nfc("\xef\xac\x81"), "\xef\xac\x81");  // ﬁ is NFC already (compat only)
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

std::u32string decode_all(std::string_view s) {
  std::u32string out;
  size_t pos = 0;
  while (pos < s.size()) out.push_back(decode_utf8(s, pos));
  return out;
}

std::u32string cps(const CaseMapping& m) { return std::u32string(m.cps, m.cps + m.size); }

TEST(UnicodeTest, DecodeUtf8ReadsInvalidBytesAsToValidUtf8Does) {
  EXPECT_EQ(decode_all("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"), U"a\u00e9\u4e2d\U0001F600");
  EXPECT_EQ(decode_all("\xe2\x82 x"), U"\uFFFD x");              // one U+FFFD for the maximal subpart E2 82
  EXPECT_EQ(decode_all("\xc0\xaf"), U"\uFFFD\uFFFD");            // overlong: two
  EXPECT_EQ(decode_all("\xed\xa0\x80"), U"\uFFFD\uFFFD\uFFFD");  // surrogate: three
  EXPECT_EQ(decode_all("\xf0\x9f\x98"), U"\uFFFD");              // truncated at the end
  for (std::string_view bad : {"\xff\xfe\xc3", "ok\xf4\x90\x80\x80!", "\x80\xbf\xe0\x80\x80", "\xef\xbf"}) {
    EXPECT_EQ(decode_all(bad), decode_all(to_valid_utf8(bad))) << bad;
  }
}

TEST(UnicodeTest, PythonPredicates) {
  // Python: c.isalpha(), c.isdecimal(), c.isdigit(), c.isnumeric()
  EXPECT_TRUE(py_is_alpha(U'ß') && py_is_alpha(U'ª') && py_is_alpha(U'一') && py_is_alpha(0x2B0));
  EXPECT_FALSE(py_is_alpha(U'Ⅻ') || py_is_alpha(0x345) || py_is_alpha(U'٣') || py_is_alpha(U'_'));
  EXPECT_TRUE(py_is_decimal(U'٣') && py_is_digit(U'٣') && py_is_numeric(U'٣'));
  EXPECT_TRUE(!py_is_decimal(U'²') && py_is_digit(U'²') && py_is_numeric(U'²'));
  EXPECT_TRUE(!py_is_digit(U'½') && py_is_numeric(U'½') && py_is_numeric(U'Ⅻ') && py_is_numeric(U'一'));
  EXPECT_TRUE(py_is_alnum(U'½') && py_is_alnum(U'ж') && !py_is_alnum(U'_') && !py_is_alnum(0x2019));
  // str.isspace includes U+001C..U+001F (not White_Space); U+200B is not space.
  EXPECT_TRUE(py_is_space(0x1C) && py_is_space(0xA0) && py_is_space(0x2028) && !py_is_space(0x200B));
  // str.isprintable: Other and Separator categories are not, except ' '.
  EXPECT_TRUE(py_is_printable(U' ') && py_is_printable(U'é') && py_is_printable(0x2019));
  EXPECT_FALSE(py_is_printable(0xAD) || py_is_printable(0xA0) || py_is_printable(0x2028) || py_is_printable(0x378) ||
               py_is_printable(0x1C) || py_is_printable(0xE000));
  // Lowercase / Uppercase properties (not only Ll / Lu): ª and ʰ are lower, Ⅻ upper, ǅ neither.
  EXPECT_TRUE(is_lowercase(U'ª') && is_lowercase(0x2B0) && is_lowercase(0x345) && is_uppercase(U'Ⅻ'));
  EXPECT_TRUE(!is_lowercase(0x1C5) && !is_uppercase(0x1C5) && is_titlecase(0x1C5) && is_cased(0x1C5));
  EXPECT_TRUE(is_case_ignorable(0x2019) && is_case_ignorable(0x301) && is_case_ignorable(0xAD));
  EXPECT_FALSE(is_cased(U'一') || is_case_ignorable(U'a') || is_case_ignorable(U' '));
}

TEST(UnicodeTest, FullCaseMappingsArePythons) {
  // Python: c.upper(), c.lower(), c.title(), c.casefold()
  EXPECT_EQ(cps(to_upper_full(U'ß')), U"SS");
  EXPECT_EQ(cps(to_title_full(U'ß')), U"Ss");
  EXPECT_EQ(cps(case_fold_full(U'ß')), U"ss");
  EXPECT_EQ(cps(to_lower_full(U'ß')), U"ß");
  EXPECT_EQ(cps(to_lower_full(U'İ')), U"i\u0307");
  EXPECT_EQ(cps(to_upper_full(U'ŉ')), U"\u02BCN");
  EXPECT_EQ(cps(to_upper_full(U'ǆ')), U"Ǆ");
  EXPECT_EQ(cps(to_title_full(U'ǆ')), U"ǅ");
  EXPECT_EQ(cps(to_upper_full(U'ﬁ')), U"FI");
  EXPECT_EQ(cps(to_title_full(U'ﬁ')), U"Fi");
  EXPECT_EQ(cps(to_upper_full(U'ᾳ')), U"ΑΙ");
  EXPECT_EQ(cps(to_title_full(U'ᾳ')), U"ᾼ");
  EXPECT_EQ(cps(to_lower_full(U'Σ')), U"σ");  // final sigma is the string-level caller's
  EXPECT_EQ(cps(case_fold_full(U'ς')), U"σ");
  EXPECT_EQ(cps(to_upper_full(U'ς')), U"Σ");
  EXPECT_EQ(cps(to_lower_full(U'Ⅻ')), U"ⅻ");
  EXPECT_EQ(cps(to_upper_full(0x10428)), U"\U00010400");  // Deseret
  EXPECT_EQ(cps(to_upper_full(U'q')), U"Q");
  EXPECT_EQ(cps(to_lower_full(U'Q')), U"q");
  EXPECT_EQ(cps(to_upper_full(U'一')), U"一");
  EXPECT_EQ(cps(to_upper_full(0x110000)), std::u32string(1, char32_t{0x110000}));
}

}  // namespace
}  // namespace tandem::text::unicode
