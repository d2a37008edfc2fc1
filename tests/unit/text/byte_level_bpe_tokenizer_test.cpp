// text::ByteLevelBpeTokenizer: results do not depend on the piece cache or on
// concurrent callers (the cache is shared by all threads).
#include "text/byte_level_bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "text/tokenizer_loader.h"
#include "text/unicode.h"

namespace tandem::text {
namespace {

TEST(ByteLevelBpeTokenizerTest, ConcurrentEncodesAgreeWithAColdTokenizer) {
  const std::string path = std::string(TANDEM_TEST_DATA) + "/tokenizer/tiny_byte_level.json";
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += "hello the world " + std::to_string(i * 7919) + " \xc3\xa9t\xc3\xa9 'll <mask> \xe4\xb8\xad\xe6\x96\x87\n";
  }
  auto cold = load_tokenizer_json(path);
  ASSERT_TRUE(cold.ok()) << cold.status().to_string();
  const std::vector<int32_t> want = (*cold)->encode(text, false, true);
  ASSERT_GT(want.size(), 1000u);
  // Lossless except for the white space that <mask> (lstrip + rstrip) absorbs.
  std::string expected = text;
  for (size_t at; (at = expected.find(" <mask> ")) != std::string::npos;) expected.replace(at, 8, "<mask>");
  EXPECT_EQ((*cold)->decode(want, false), expected);

  auto shared = load_tokenizer_json(path);
  ASSERT_TRUE(shared.ok());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 20; ++r) {
        if ((*shared)->encode(text, false, true) != want) ++mismatches[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(ByteLevelBpeTokenizerTest, ArbitraryBytesAndIdsNeverCrash) {
  std::mt19937 rng(5);
  for (const char* file : {"tiny_byte_level.json", "tiny_sentencepiece.json"}) {
    auto tok = load_tokenizer_json(std::string(TANDEM_TEST_DATA) + "/tokenizer/" + file);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    const Tokenizer& t = **tok;
    for (int i = 0; i < 500; ++i) {
      std::string bytes(rng() % 64, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      const std::vector<int32_t> ids = t.encode(bytes, i % 2 == 0, i % 3 == 0);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < t.vocab_size()) << file;
      // Whatever the bytes, the text that comes back is valid UTF-8.
      const std::string back = t.decode(ids, false);
      ASSERT_TRUE(unicode::is_valid_utf8(back)) << file;
      std::vector<int32_t> junk(rng() % 16);
      for (int32_t& id : junk) id = static_cast<int32_t>(rng() % (t.vocab_size() + 10)) - 5;
      ASSERT_TRUE(unicode::is_valid_utf8(t.decode(junk, i % 2 == 1)));
      for (int32_t id : junk) (void)t.token_bytes(id), (void)t.kind(id), (void)t.token_text(id);
    }
  }
}

}  // namespace
}  // namespace tandem::text
