// text::load_tokenizer and its two sources. Expected ids for the tiny
// fixtures (tests/data/tokenizer/) were produced by HF tokenizers 0.23 on the
// same files: Tokenizer.from_file(...).encode(text, add_special_tokens=...).
#include "text/tokenizer_loader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model_files/gguf_file.h"

namespace tandem::text {
namespace {

using Ids = std::vector<int32_t>;

std::string data_path(const std::string& name) { return std::string(TANDEM_TEST_DATA) + "/tokenizer/" + name; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TokenizerLoaderTest, ByteLevelJsonMatchesHf) {
  auto tok = load_tokenizer_json(data_path("tiny_byte_level.json"), data_path("tiny_byte_level_config.json"));
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const Tokenizer& t = **tok;
  EXPECT_EQ(t.encode("hello the world", false, true), (Ids{257, 260, 258, 261, 111, 114, 108, 100}));
  // <mask> is a non-special added token with lstrip/rstrip: always matched, eats the spaces.
  EXPECT_EQ(t.encode("the <mask>  x", false, false), (Ids{116, 257, 264, 120}));
  EXPECT_EQ(t.encode("<|im_start|>hello<|im_end|>", false, true), (Ids{262, 257, 260, 263}));
  // Not allowed: the control token is spelled out as plain text.
  EXPECT_EQ(t.encode("<|im_start|>hello", false, false),
            (Ids{60, 124, 105, 109, 95, 115, 116, 97, 114, 116, 124, 62, 257, 260}));
  EXPECT_EQ(t.encode("it's", false, false), (Ids{105, 116, 39, 115}));
  // tokenizer_config.json: add_bos_token with bos <|im_start|>.
  EXPECT_EQ(t.bos_id(), 262);
  EXPECT_EQ(t.eos_id(), 263);
  EXPECT_EQ(t.encode("x", true, false), (Ids{262, 120}));
  EXPECT_EQ(t.decode({262, 257, 260, 263}, false), "<|im_start|>hello<|im_end|>");
  EXPECT_EQ(t.decode({262, 257, 260, 263}, true), "hello");
  // Ids 0..255 are the bytes here: a lone lead byte 0xC3 decodes to U+FFFD.
  EXPECT_EQ(t.decode({0xC3, 0x20}, false), "\xEF\xBF\xBD ");
  EXPECT_EQ(t.token_bytes(258), " the");  // "Ġthe"
  EXPECT_EQ(t.kind(262), TokenKind::kControl);
  EXPECT_EQ(t.kind(264), TokenKind::kUserDefined);
  EXPECT_EQ(t.token_id("<|im_end|>"), 263);
  EXPECT_EQ(t.token_text(263), "<|im_end|>");
  EXPECT_EQ(t.vocab_size(), 265);
}

TEST(TokenizerLoaderTest, SentencePieceJsonMatchesHf) {
  auto tok = load_tokenizer(data_path("tiny_sentencepiece.json"));
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const Tokenizer& t = **tok;
  // HF: add_special_tokens=True adds <s> (TemplateProcessing); legacy Prepend
  // normalizer puts "▁" before every segment, also after a special token.
  EXPECT_EQ(t.encode("hello world", true, true), (Ids{1, 259, 267, 271, 277}));
  EXPECT_EQ(t.encode(" hello", true, true), (Ids{1, 259, 259, 267, 271}));
  EXPECT_EQ(t.encode("hello<s>world", true, true), (Ids{1, 259, 267, 271, 1, 277}));
  EXPECT_EQ(t.encode("h\xc3\xa9llo", true, true), (Ids{1, 269, 198, 172, 271}));  // byte fallback for é
  EXPECT_EQ(t.encode("", true, true), (Ids{1}));
  EXPECT_EQ(t.decode({1, 259, 267, 271, 277}, true), "hello world");
  EXPECT_EQ(t.decode({1, 259, 267, 271, 277}, false), "<s> hello world");
  EXPECT_EQ(t.decode({1, 259, 259, 267, 271}, false), "<s>  hello");
  EXPECT_EQ(t.decode({1, 269, 198, 172, 271}, true), "h\xc3\xa9llo");
  EXPECT_EQ(t.decode({198}, true), "\xEF\xBF\xBD");  // incomplete byte sequence -> one U+FFFD per byte
  EXPECT_EQ(t.token_bytes(198), "\xc3");
  EXPECT_EQ(t.token_bytes(277), " world");
  EXPECT_TRUE(t.strips_leading_space());
  EXPECT_EQ(t.kind(198), TokenKind::kByte);
  EXPECT_EQ(t.bos_id(), 1);
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(TokenizerLoaderTest, ErrorsNameTheFileAndKey) {
  const std::string good = slurp(data_path("tiny_byte_level.json"));
  auto bad_json = parse_tokenizer_json("{\"model\": [1, 2", "", "x/tokenizer.json");
  ASSERT_FALSE(bad_json.ok());
  EXPECT_EQ(bad_json.status().kind(), ErrorKind::kMalformedFile);
  EXPECT_NE(bad_json.status().message().find("x/tokenizer.json"), std::string::npos);
  EXPECT_NE(bad_json.status().message().find("line 1"), std::string::npos);

  auto unknown_regex = parse_tokenizer_json(replace_once(good, "(?i:'s", "(?i:'x"), "", "t.json");
  ASSERT_FALSE(unknown_regex.ok());
  EXPECT_EQ(unknown_regex.status().kind(), ErrorKind::kUnsupported);
  EXPECT_NE(unknown_regex.status().message().find("unknown regex \"(?i:'x"), std::string::npos)
      << unknown_regex.status().message();

  auto wordpiece =
      parse_tokenizer_json(replace_once(good, "\"type\": \"BPE\"", "\"type\": \"WordPiece\""), "", "t.json");
  ASSERT_FALSE(wordpiece.ok());
  EXPECT_EQ(wordpiece.status().kind(), ErrorKind::kUnsupported);
  EXPECT_NE(wordpiece.status().message().find("model.type"), std::string::npos);

  auto bad_merge = parse_tokenizer_json(replace_once(good, "\"Ġ t\"", "\"Ġ zzz\""), "", "t.json");
  ASSERT_FALSE(bad_merge.ok());
  EXPECT_EQ(bad_merge.status().kind(), ErrorKind::kMalformedFile);
  EXPECT_NE(bad_merge.status().message().find("model.merges[0]"), std::string::npos) << bad_merge.status().message();

  auto no_vocab = parse_tokenizer_json("{\"model\": {\"type\": \"BPE\"}}", "", "t.json");
  ASSERT_FALSE(no_vocab.ok());
  EXPECT_NE(no_vocab.status().message().find("model.vocab"), std::string::npos);

  auto huge_id = parse_tokenizer_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 999999999}}}", "", "t.json");
  ASSERT_FALSE(huge_id.ok());
  EXPECT_EQ(huge_id.status().kind(), ErrorKind::kMalformedFile);
  EXPECT_NE(huge_id.status().message().find("far beyond"), std::string::npos);

  auto not_bpe_kind = parse_tokenizer_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", "", "t.json");
  ASSERT_FALSE(not_bpe_kind.ok());  // neither ByteLevel nor SentencePiece pre-processing
  EXPECT_EQ(not_bpe_kind.status().kind(), ErrorKind::kUnsupported);

  auto bad_config = parse_tokenizer_json(good, "{\"bos_token\": \"<nope>\"}", "t.json");
  ASSERT_FALSE(bad_config.ok());
  EXPECT_NE(bad_config.status().message().find("bos_token"), std::string::npos);

  auto missing = load_tokenizer("/nonexistent/model.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), ErrorKind::kIo);
}

TEST(TokenizerLoaderTest, GarbageNeverCrashes) {
  const std::string good = slurp(data_path("tiny_sentencepiece.json"));
  std::mt19937 rng(99);
  for (int i = 0; i < 300; ++i) {
    std::string s = good.substr(0, rng() % good.size());
    if (i % 2 && !s.empty()) s[rng() % s.size()] = static_cast<char>(rng());
    auto r = parse_tokenizer_json(s, "", "fuzz.json");
    if (r.ok()) (*r)->encode("hello world", true, true);
  }
  SUCCEED();
}

// A minimal GGUF v3 writer for metadata-only files.
class GgufBuilder {
 public:
  void str(const std::string& key, const std::string& v) { kv(key, 8), s(v), ++n_; }
  void u32(const std::string& key, uint32_t v) { kv(key, 4), raw(&v, 4), ++n_; }
  void boolean(const std::string& key, bool v) { kv(key, 7), buf_.push_back(v ? 1 : 0), ++n_; }
  void strings(const std::string& key, const std::vector<std::string>& v) {
    kv(key, 9);
    put32(8);
    put64(v.size());
    for (const auto& x : v) s(x);
    ++n_;
  }
  void i32s(const std::string& key, const std::vector<int32_t>& v) {
    kv(key, 9);
    put32(5);
    put64(v.size());
    for (int32_t x : v) raw(&x, 4);
    ++n_;
  }
  void f32s(const std::string& key, const std::vector<float>& v) {
    kv(key, 9);
    put32(6);
    put64(v.size());
    for (float x : v) raw(&x, 4);
    ++n_;
  }
  std::vector<std::byte> bytes() const {
    std::string out = "GGUF";
    auto add = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
    const uint32_t version = 3;
    const uint64_t n_tensors = 0, n_kv = n_;
    add(&version, 4);
    add(&n_tensors, 8);
    add(&n_kv, 8);
    out += buf_;
    while (out.size() % 32) out.push_back('\0');
    std::vector<std::byte> b(out.size());
    std::memcpy(b.data(), out.data(), out.size());
    return b;
  }

 private:
  void raw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  void put32(uint32_t v) { raw(&v, 4); }
  void put64(uint64_t v) { raw(&v, 8); }
  void s(const std::string& v) { put64(v.size()), buf_ += v; }
  void kv(const std::string& key, uint32_t type) { s(key), put32(type); }
  std::string buf_;
  uint64_t n_ = 0;
};

TEST(TokenizerLoaderTest, GgufSentencePieceUsesScores) {
  // Vocabulary: <unk> <s> </s>, pieces with scores; "▁ab" wins over "ab" pairs by score.
  std::vector<std::string> tokens = {"<unk>",
                                     "<s>",
                                     "</s>",
                                     "\xe2\x96\x81",
                                     "a",
                                     "b",
                                     "ab",
                                     "\xe2\x96\x81"
                                     "a",
                                     "\xe2\x96\x81"
                                     "ab",
                                     "[X]"};
  std::vector<float> scores = {0, 0, 0, -1, -2, -3, -4, -5, -6, 0};
  std::vector<int32_t> types = {2, 3, 3, 1, 1, 1, 1, 1, 1, 4};
  GgufBuilder g;
  g.str("general.architecture", "llama");
  g.str("tokenizer.ggml.model", "llama");
  g.strings("tokenizer.ggml.tokens", tokens);
  g.f32s("tokenizer.ggml.scores", scores);
  g.i32s("tokenizer.ggml.token_type", types);
  g.u32("tokenizer.ggml.bos_token_id", 1);
  g.u32("tokenizer.ggml.eos_token_id", 2);
  g.u32("tokenizer.ggml.unknown_token_id", 0);
  auto file = model_files::GgufFile::parse(g.bytes(), "mem.gguf");
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto tok = load_tokenizer_gguf(*file);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const Tokenizer& t = **tok;
  // "ab ab": ▁a b ▁a b -> "ab" (score -4) is better than "▁ab" (-6) but "▁a" (-5)... merges by score:
  // pairs: (▁,a)->▁a -5, (a,b)->ab -4: ab first, then (▁,ab)->▁ab -6.
  EXPECT_EQ(t.encode("ab ab", false, false), (Ids{8, 8}));
  EXPECT_EQ(t.encode("ab", true, false), (Ids{1, 8}));  // add_bos_token defaults to true for "llama"
  // No byte fallback tokens here: unknown characters become <unk>, consecutive ones fused.
  EXPECT_EQ(t.encode("zz", false, false), (Ids{3, 0}));
  // User-defined [X] is matched even without allow_special; <s> only with it.
  EXPECT_EQ(t.encode("a[X]", false, false), (Ids{7, 9}));
  EXPECT_EQ(t.encode("<s>", false, true), (Ids{1}));
  EXPECT_EQ(t.decode({1, 8, 8}, true), "ab ab");
  EXPECT_EQ(t.eos_id(), 2);
}

TEST(TokenizerLoaderTest, GgufErrors) {
  GgufBuilder g;
  g.str("tokenizer.ggml.model", "bert");
  auto file = model_files::GgufFile::parse(g.bytes(), "bert.gguf");
  ASSERT_TRUE(file.ok());
  auto tok = load_tokenizer_gguf(*file);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().kind(), ErrorKind::kUnsupported);
  EXPECT_NE(tok.status().message().find("bert"), std::string::npos);

  GgufBuilder g2;
  g2.str("tokenizer.ggml.model", "gpt2");
  g2.strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
  g2.strings("tokenizer.ggml.merges", {"a b"});
  g2.str("tokenizer.ggml.pre", "my-new-model");
  auto file2 = model_files::GgufFile::parse(g2.bytes(), "new.gguf");
  ASSERT_TRUE(file2.ok());
  auto tok2 = load_tokenizer_gguf(*file2);
  ASSERT_FALSE(tok2.ok());
  EXPECT_EQ(tok2.status().kind(), ErrorKind::kUnsupported);
  EXPECT_NE(tok2.status().message().find("my-new-model"), std::string::npos);

  GgufBuilder g3;
  g3.str("tokenizer.ggml.model", "gpt2");
  g3.strings("tokenizer.ggml.tokens", {"a", "b"});
  auto file3 = model_files::GgufFile::parse(g3.bytes(), "nomerges.gguf");
  ASSERT_TRUE(file3.ok());
  auto tok3 = load_tokenizer_gguf(*file3);
  ASSERT_FALSE(tok3.ok());
  EXPECT_EQ(tok3.status().kind(), ErrorKind::kMalformedFile);
  EXPECT_NE(tok3.status().message().find("tokenizer.ggml.merges"), std::string::npos);
}

}  // namespace
}  // namespace tandem::text
