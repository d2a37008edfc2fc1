#include "text/added_tokens.h"

#include "text/unicode.h"

namespace tandem::text {
namespace {

bool is_word_char(char32_t c) { return c == '_' || unicode::is_letter(c) || unicode::is_number(c); }

// The code point that ends at byte `end` of valid UTF-8 text (end > 0).
char32_t char_before(std::string_view text, size_t end, size_t* start) {
  size_t p = end - 1;
  while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
  char32_t cp;
  unicode::decode_valid(text, p, &cp);
  *start = p;
  return cp;
}

}  // namespace

int32_t AddedTokens::child(int32_t node, unsigned char b) const {
  for (const auto& [byte, next] : nodes_[static_cast<size_t>(node)].children) {
    if (byte == b) return next;
  }
  return -1;
}

void AddedTokens::add(AddedToken token) {
  if (token.content.empty()) return;
  if (nodes_.empty()) nodes_.emplace_back();
  int32_t node = 0;
  for (char ch : token.content) {
    const auto b = static_cast<unsigned char>(ch);
    int32_t next = child(node, b);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_[static_cast<size_t>(node)].children.emplace_back(b, next);
      nodes_.emplace_back();
    }
    node = next;
  }
  if (nodes_[static_cast<size_t>(node)].token >= 0) return;
  nodes_[static_cast<size_t>(node)].token = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(std::move(token));
}

AddedTokens::Match AddedTokens::match_at(std::string_view text, size_t pos, size_t floor, bool allow_special) const {
  Match best;
  if (nodes_.empty()) return best;
  int32_t node = 0;
  size_t end = 0;
  for (size_t p = pos; p < text.size(); ++p) {
    node = child(node, static_cast<unsigned char>(text[p]));
    if (node < 0) break;
    const int32_t t = nodes_[static_cast<size_t>(node)].token;
    if (t >= 0 && (allow_special || !tokens_[static_cast<size_t>(t)].special)) {
      const AddedToken& tok = tokens_[static_cast<size_t>(t)];
      if (tok.single_word) {
        size_t s;
        const bool word_before = pos > 0 && is_word_char(char_before(text, pos, &s));
        char32_t after = 0;
        if (p + 1 < text.size()) unicode::decode_valid(text, p + 1, &after);
        const bool word_after = p + 1 < text.size() && is_word_char(after);
        if (word_before || word_after) continue;
      }
      best.token = t;
      end = p + 1;
    }
  }
  if (best.token < 0) return best;
  const AddedToken& tok = tokens_[static_cast<size_t>(best.token)];
  best.begin = pos;
  best.end = end;
  if (tok.lstrip) {
    while (best.begin > floor) {
      size_t s;
      if (!unicode::is_white_space(char_before(text, best.begin, &s))) break;
      best.begin = s;
    }
  }
  if (tok.rstrip) {
    while (best.end < text.size()) {
      char32_t c;
      const int len = unicode::decode_valid(text, best.end, &c);
      if (!unicode::is_white_space(c)) break;
      best.end += static_cast<size_t>(len);
    }
  }
  return best;
}

}  // namespace tandem::text
