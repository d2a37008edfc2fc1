#include "text/detokenizer.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/byte_tokenizer.h"

namespace tandem::text {
namespace {

using test::ByteTokenizer;

// A vocabulary of arbitrary byte strings (multi-byte tokens, split characters).
class PieceTokenizer : public Tokenizer {
 public:
  explicit PieceTokenizer(std::vector<std::string> pieces, int32_t control = -1)
      : pieces_(std::move(pieces)), control_(control) {}
  std::vector<int32_t> encode(std::string_view, bool, bool) const override { return {}; }
  std::string decode(const std::vector<int32_t>&, bool) const override { return {}; }
  std::string token_bytes(int32_t id) const override {
    return id >= 0 && id < vocab_size() ? pieces_[static_cast<size_t>(id)] : std::string();
  }
  TokenKind kind(int32_t id) const override { return id == control_ ? TokenKind::kControl : TokenKind::kNormal; }
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return -1; }
  std::string token_text(int32_t id) const override { return token_bytes(id); }
  int32_t token_id(std::string_view) const override { return -1; }

 private:
  std::vector<std::string> pieces_;
  int32_t control_;
};

std::string stream_bytes(const std::string& bytes) {
  ByteTokenizer tok;
  Detokenizer d(tok, true);
  std::string out;
  for (unsigned char c : bytes) d.push(c, out);
  d.finish(out);
  return out;
}

constexpr const char* kFffd = "\xEF\xBF\xBD";

TEST(DetokenizerTest, AsciiIsEmittedAtOnce) {
  ByteTokenizer tok;
  Detokenizer d(tok, true);
  std::string out;
  EXPECT_EQ(d.push('H', out), 1u);
  EXPECT_EQ(d.push('i', out), 1u);
  EXPECT_EQ(out, "Hi");
  EXPECT_EQ(d.held_bytes(), 0u);
}

TEST(DetokenizerTest, HoldsSplitCharacterUntilComplete) {
  ByteTokenizer tok;
  Detokenizer d(tok, true);
  std::string out;
  EXPECT_EQ(d.push(0xE2, out), 0u);
  EXPECT_EQ(d.held_bytes(), 1u);
  EXPECT_EQ(d.push(0x82, out), 0u);
  EXPECT_EQ(d.held_bytes(), 2u);
  EXPECT_EQ(out, "");
  EXPECT_EQ(d.push(0xAC, out), 3u);
  EXPECT_EQ(out, "\xE2\x82\xAC");  // U+20AC
  EXPECT_EQ(d.held_bytes(), 0u);
}

TEST(DetokenizerTest, FourByteCharacterAcrossMultiByteTokens) {
  // "a" + first half of U+1F600, then second half + "b".
  PieceTokenizer tok({"a\xF0\x9F",
                      "\x98\x80"
                      "b"});
  Detokenizer d(tok, true);
  std::string out;
  d.push(0, out);
  EXPECT_EQ(out, "a");
  d.push(1, out);
  EXPECT_EQ(out,
            "a\xF0\x9F\x98\x80"
            "b");
}

// Expected values are Python's bytes.decode("utf-8", errors="replace").
struct LossyCase {
  std::string input;
  std::string expected;
};

TEST(DetokenizerTest, InvalidSequencesMatchPythonReplace) {
  const std::string r = kFffd;
  const std::vector<LossyCase> cases = {
      {"\xE2\x82\xAC", "\xE2\x82\xAC"},
      {"\xE2\x82", r},
      {"\xFF", r},
      {"\xC3(", r + "("},
      {"\xE0\x80\x80", r + r + r},
      {"\xED\xA0\x80", r + r + r},  // surrogate
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
      {"\xF0\x9F\x98", r},
      {"a\xF0\x9F\x98"
       "b",
       "a" + r + "b"},
      {"\xF4\x90\x80\x80", r + r + r + r},  // above U+10FFFF
      {"\xC0\xAF", r + r},                  // overlong
      {"\xE2(\xA1", r + "(" + r},
      {"\xF1\x80\x80\xE1\x80\xC2", r + r + r},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(stream_bytes(c.input), c.expected) << "input bytes: " << c.input.size();
    std::string whole;
    append_utf8_lossy(c.input, false, whole);
    EXPECT_EQ(whole, c.expected);
  }
}

TEST(DetokenizerTest, StreamingEqualsWholeDecodeOnRandomBytes) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(1, 4);
  for (int round = 0; round < 200; ++round) {
    // Random pieces over a byte mix biased towards UTF-8 lead/continuation bytes.
    std::vector<std::string> pieces;
    std::string all;
    for (int i = 0; i < 12; ++i) {
      std::string p;
      const int n = len(rng);
      for (int k = 0; k < n; ++k) {
        int b = byte(rng);
        if (b < 128 && (b & 1)) b = 0x80 | (b & 0x3F);
        p.push_back(static_cast<char>(b));
      }
      pieces.push_back(p);
      all += p;
    }
    PieceTokenizer tok(pieces);
    Detokenizer d(tok, true);
    std::string streamed;
    for (int i = 0; i < 12; ++i) {
      const size_t before = streamed.size();
      d.push(i, streamed);
      // Everything emitted so far is valid UTF-8 on its own.
      std::string check;
      append_utf8_lossy(std::string_view(streamed).substr(before), false, check);
      EXPECT_EQ(check, streamed.substr(before));
    }
    d.finish(streamed);
    std::string whole;
    append_utf8_lossy(all, false, whole);
    EXPECT_EQ(streamed, whole);
  }
}

TEST(DetokenizerTest, ControlTokensSkippedOrRendered) {
  ByteTokenizer tok;
  {
    Detokenizer d(tok, true);
    std::string out;
    d.push('a', out);
    EXPECT_EQ(d.push(ByteTokenizer::kImEnd, out), 0u);
    d.push('b', out);
    EXPECT_EQ(out, "ab");
  }
  {
    Detokenizer d(tok, false);
    std::string out;
    d.push('a', out);
    d.push(ByteTokenizer::kImEnd, out);
    EXPECT_EQ(out, "a<|im_end|>");
  }
  {
    // A control token ends an incomplete character: the held byte is invalid.
    Detokenizer d(tok, false);
    std::string out;
    d.push(0xE2, out);
    d.push(ByteTokenizer::kEndOfText, out);
    EXPECT_EQ(out, std::string(kFffd) + "<|endoftext|>");
  }
}

TEST(DetokenizerTest, FinishFlushesIncompleteTail) {
  ByteTokenizer tok;
  Detokenizer d(tok, true);
  std::string out;
  d.push('x', out);
  d.push(0xF0, out);
  d.push(0x9F, out);
  EXPECT_EQ(out, "x");
  EXPECT_EQ(d.finish(out), 3u);
  EXPECT_EQ(out, std::string("x") + kFffd);
}

TEST(DetokenizerTest, UnknownIdsContributeNothing) {
  ByteTokenizer tok;
  Detokenizer d(tok, true);
  std::string out;
  EXPECT_EQ(d.push(99999, out), 0u);
  EXPECT_EQ(d.push(-5, out), 0u);
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace tandem::text
