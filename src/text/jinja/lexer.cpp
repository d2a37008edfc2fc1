#include "text/jinja/lexer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "text/jinja/template_error.h"
#include "text/jinja/utf8.h"
#include "text/unicode.h"

namespace tandem::text::jinja {

void fail_syntax(int line, const std::string& message) {
  fail("syntax error on line " + std::to_string(line) + ": " + message);
}

std::string describe_token(const Token& token) {
  switch (token.type) {
    case TokenType::kData: return "template data / text";
    case TokenType::kVariableBegin: return "begin of print statement";
    case TokenType::kVariableEnd: return "end of print statement";
    case TokenType::kBlockBegin: return "begin of statement block";
    case TokenType::kBlockEnd: return "end of statement block";
    case TokenType::kName:
    case TokenType::kOperator: return token.value;
    case TokenType::kString: return "string";
    case TokenType::kInteger: return "integer";
    case TokenType::kFloat: return "float";
    case TokenType::kEof: return "end of template";
  }
  return "token";
}

namespace {

bool is_py_space(unsigned char c) { return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20); }

// Python str.rstrip() of the text before a `-` tag (whitespace incl. Unicode).
std::string_view rstrip_py(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    const auto c = static_cast<unsigned char>(s[end - 1]);
    if (c < 0x80) {
      if (!is_py_space(c)) break;
      --end;
      continue;
    }
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t probe = start;
    const char32_t cp = unicode::decode_utf8(s, probe);
    if (probe != end || !unicode::py_is_space(cp)) break;
    end = start;
  }
  return s.substr(0, end);
}

// Regex \s+ fullmatch on text[from:] (non-empty, all whitespace).
bool all_space(std::string_view s) {
  if (s.empty()) return false;
  size_t pos = 0;
  while (pos < s.size()) {
    if (!unicode::py_is_space(unicode::decode_utf8(s, pos))) return false;
  }
  return true;
}

size_t skip_space(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c < 0x80) {
      if (!is_py_space(c)) break;
      ++pos;
      continue;
    }
    size_t probe = pos;
    if (!unicode::py_is_space(unicode::decode_utf8(s, probe))) break;
    pos = probe;
  }
  return pos;
}

int count_newlines(std::string_view s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// `(\d+_)*\d+` at pos; returns the end or npos.
size_t match_digits(std::string_view s, size_t pos) {
  if (pos >= s.size() || !std::isdigit(static_cast<unsigned char>(s[pos]))) return std::string_view::npos;
  while (true) {
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
    if (pos + 1 < s.size() && s[pos] == '_' && std::isdigit(static_cast<unsigned char>(s[pos + 1]))) {
      ++pos;
      continue;
    }
    return pos;
  }
}

size_t match_float(std::string_view s, size_t pos) {
  if (pos > 0 && s[pos - 1] == '.') return std::string_view::npos;
  size_t p = match_digits(s, pos);
  if (p == std::string_view::npos) return p;
  size_t frac_end = std::string_view::npos;
  if (p < s.size() && s[p] == '.') frac_end = match_digits(s, p + 1);
  const size_t after_frac = frac_end != std::string_view::npos ? frac_end : p;
  if (after_frac < s.size() && (s[after_frac] == 'e' || s[after_frac] == 'E')) {
    size_t q = after_frac + 1;
    if (q < s.size() && (s[q] == '+' || s[q] == '-')) ++q;
    const size_t exp_end = match_digits(s, q);
    if (exp_end != std::string_view::npos) return exp_end;
  }
  return frac_end;
}

// Integer literal per Jinja's integer_re (decimal, 0b, 0o, 0x, underscores).
size_t match_integer(std::string_view s, size_t pos, int& base) {
  auto digit_ok = [](char c, int b) {
    const int lc = std::tolower(static_cast<unsigned char>(c));
    if (b == 2) return lc == '0' || lc == '1';
    if (b == 8) return lc >= '0' && lc <= '7';
    if (b == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  };
  if (pos >= s.size() || !std::isdigit(static_cast<unsigned char>(s[pos]))) return std::string_view::npos;
  if (s[pos] == '0' && pos + 1 < s.size()) {
    const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[pos + 1])));
    const int b = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 0;
    if (b != 0) {
      size_t q = pos + 2;
      size_t end = std::string_view::npos;
      while (true) {
        size_t r = q;
        if (r < s.size() && s[r] == '_') ++r;
        if (r < s.size() && digit_ok(s[r], b)) {
          q = r + 1;
          end = q;
        } else {
          break;
        }
      }
      if (end != std::string_view::npos) {
        base = b;
        return end;
      }
    }
  }
  base = 10;
  if (s[pos] == '0') {
    size_t q = pos + 1;
    while (true) {
      size_t r = q;
      if (r < s.size() && s[r] == '_') ++r;
      if (r < s.size() && s[r] == '0') {
        q = r + 1;
      } else {
        break;
      }
    }
    return q;
  }
  size_t q = pos + 1;
  while (true) {
    size_t r = q;
    if (r < s.size() && s[r] == '_') ++r;
    if (r < s.size() && std::isdigit(static_cast<unsigned char>(s[r]))) {
      q = r + 1;
    } else {
      break;
    }
  }
  return q;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const int lc = std::tolower(static_cast<unsigned char>(c));
  if (lc >= 'a' && lc <= 'f') return lc - 'a' + 10;
  return -1;
}

// Python's "unicode-escape" decoding of a string literal body, as Jinja does
// (after backslashreplace of non-ASCII characters).
std::string unescape(std::string_view body, int line) {
  std::string out;
  out.reserve(body.size());
  size_t i = 0;
  while (i < body.size()) {
    const char c = body[i];
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= body.size()) fail_syntax(line, "\\ at end of string");
    const char e = body[i + 1];
    i += 2;
    switch (e) {
      case '\n': break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        char32_t cp = 0;
        for (size_t k = 0; k < n; ++k) {
          const int h = i + k < body.size() ? hex_value(body[i + k]) : -1;
          if (h < 0) fail_syntax(line, std::string("truncated \\") + e + " escape in string literal");
          cp = cp * 16 + static_cast<char32_t>(h);
        }
        if (cp > 0x10FFFF) fail_syntax(line, "illegal Unicode character in string literal");
        i += n;
        unicode::append_utf8(out, cp);
        break;
      }
      case 'N': fail_syntax(line, "\\N{...} escapes are not supported");
      default:
        if (e >= '0' && e <= '7') {
          char32_t cp = static_cast<char32_t>(e - '0');
          for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k, ++i) {
            cp = cp * 8 + static_cast<char32_t>(body[i] - '0');
          }
          unicode::append_utf8(out, cp);
        } else if (static_cast<unsigned char>(e) >= 0x80) {
          // backslashreplace turned the character into an escape whose own
          // backslash was consumed by this one: the text "\xe9" remains.
          size_t pos = i - 1;
          const char32_t cp = unicode::decode_utf8(body, pos);
          i = pos;
          utf8::append_python_escape(out, cp);
        } else {
          out.push_back('\\');
          out.push_back(e);
        }
        break;
    }
  }
  return out;
}

class Scanner {
 public:
  Scanner(std::string_view src, LexerOptions options) : src_(src), options_(options) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) root();
    push(TokenType::kEof, "");
    return std::move(tokens_);
  }

 private:
  enum class Tag { kRaw, kComment, kBlock, kVariable };

  void push(TokenType type, std::string value) {
    Token t;
    t.type = type;
    t.value = std::move(value);
    t.line = line_;
    tokens_.push_back(std::move(t));
  }

  // Applies `-`/lstrip rules to the text before a tag and emits it.
  void emit_text(std::string_view text, char sign, bool is_variable) {
    const int newlines = count_newlines(text);
    if (sign == '-') {
      text = rstrip_py(text);
    } else if (sign != '+' && options_.lstrip_blocks && !is_variable) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && all_space(text.substr(l_pos))) text = text.substr(0, l_pos);
    }
    if (!text.empty()) push(TokenType::kData, std::string(text));
    line_ += newlines;
  }

  // Matches {%[-+]?\s*raw\s*(-%}\s*|%}) at pos; returns end or npos.
  size_t match_raw_begin(size_t pos, char& sign) const {
    size_t p = pos + 2;
    sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
    p = skip_space(src_, p);
    if (src_.compare(p, 3, "raw") != 0) return std::string_view::npos;
    p = skip_space(src_, p + 3);
    if (src_.compare(p, 3, "-%}") == 0) return skip_space(src_, p + 3);
    if (src_.compare(p, 2, "%}") == 0) return p + 2;
    return std::string_view::npos;
  }

  void root() {
    // Earliest tag opener.
    size_t tag = pos_;
    while (true) {
      tag = src_.find('{', tag);
      if (tag == std::string_view::npos || tag + 1 >= src_.size()) {
        tag = std::string_view::npos;
        break;
      }
      const char n = src_[tag + 1];
      if (n == '{' || n == '%' || n == '#') break;
      ++tag;
    }
    if (tag == std::string_view::npos) {
      std::string_view rest = src_.substr(pos_);
      push(TokenType::kData, std::string(rest));
      line_ += count_newlines(rest);
      pos_ = src_.size();
      return;
    }
    const std::string_view text = src_.substr(pos_, tag - pos_);
    Tag kind = src_[tag + 1] == '{' ? Tag::kVariable : src_[tag + 1] == '%' ? Tag::kBlock : Tag::kComment;
    char sign = 0;
    size_t after = tag + 2;
    if (kind == Tag::kBlock) {
      char raw_sign = 0;
      const size_t raw_end = match_raw_begin(tag, raw_sign);
      if (raw_end != std::string_view::npos) {
        kind = Tag::kRaw;
        sign = raw_sign;
        after = raw_end;
      }
    }
    if (kind != Tag::kRaw && after < src_.size() && (src_[after] == '-' || src_[after] == '+')) {
      sign = src_[after++];
    }
    emit_text(text, sign, kind == Tag::kVariable);
    const std::string_view matched = src_.substr(tag, after - tag);
    line_ += count_newlines(matched);
    line_starting_ = !matched.empty() && matched.back() == '\n';
    pos_ = after;
    switch (kind) {
      case Tag::kComment: comment(); return;
      case Tag::kRaw: raw(); return;
      case Tag::kBlock:
        push(TokenType::kBlockBegin, "");
        inside(false);
        return;
      case Tag::kVariable:
        push(TokenType::kVariableBegin, "");
        inside(true);
        return;
    }
  }

  void comment() {
    const size_t close = src_.find("#}", pos_);
    if (close == std::string_view::npos) fail_syntax(line_, "Missing end of comment tag");
    size_t end = close + 2;
    if (close > pos_ && src_[close - 1] == '-') {
      end = skip_space(src_, end);
    } else if (close > pos_ && src_[close - 1] == '+') {
      // keep what follows
    } else if (options_.trim_blocks && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    const std::string_view matched = src_.substr(pos_, end - pos_);
    line_ += count_newlines(matched);
    line_starting_ = !matched.empty() && matched.back() == '\n';
    pos_ = end;
  }

  void raw() {
    size_t search = pos_;
    while (true) {
      const size_t open = src_.find("{%", search);
      if (open == std::string_view::npos) fail_syntax(line_, "Missing end of raw directive");
      size_t p = open + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p = skip_space(src_, p);
      if (src_.compare(p, 6, "endraw") != 0) {
        search = open + 1;
        continue;
      }
      p = skip_space(src_, p + 6);
      size_t end;
      if (src_.compare(p, 3, "+%}") == 0) {
        end = p + 3;
      } else if (src_.compare(p, 3, "-%}") == 0) {
        end = skip_space(src_, p + 3);
      } else if (src_.compare(p, 2, "%}") == 0) {
        end = p + 2;
        if (options_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
      } else {
        search = open + 1;
        continue;
      }
      emit_text(src_.substr(pos_, open - pos_), sign, false);
      const std::string_view tag = src_.substr(open, end - open);
      line_ += count_newlines(tag);
      line_starting_ = !tag.empty() && tag.back() == '\n';
      pos_ = end;
      return;
    }
  }

  // Inside {{ ... }} or {% ... %}.
  void inside(bool variable) {
    std::vector<char> balance;
    while (true) {
      if (pos_ >= src_.size()) return;  // the parser reports the missing end
      if (balance.empty()) {
        size_t end = std::string_view::npos;
        if (variable) {
          if (src_.compare(pos_, 3, "-}}") == 0) {
            end = skip_space(src_, pos_ + 3);
          } else if (src_.compare(pos_, 2, "}}") == 0) {
            end = pos_ + 2;
          }
        } else {
          if (src_.compare(pos_, 3, "+%}") == 0) {
            end = pos_ + 3;
          } else if (src_.compare(pos_, 3, "-%}") == 0) {
            end = skip_space(src_, pos_ + 3);
          } else if (src_.compare(pos_, 2, "%}") == 0) {
            end = pos_ + 2;
            if (options_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
          }
        }
        if (end != std::string_view::npos) {
          push(variable ? TokenType::kVariableEnd : TokenType::kBlockEnd, "");
          const std::string_view matched = src_.substr(pos_, end - pos_);
          line_ += count_newlines(matched);
          line_starting_ = !matched.empty() && matched.back() == '\n';
          pos_ = end;
          return;
        }
      }
      const char c = src_[pos_];
      const size_t ws_end = skip_space(src_, pos_);
      if (ws_end != pos_) {
        line_ += count_newlines(src_.substr(pos_, ws_end - pos_));
        pos_ = ws_end;
        continue;
      }
      const size_t float_end = match_float(src_, pos_);
      if (float_end != std::string_view::npos) {
        std::string text;
        for (size_t i = pos_; i < float_end; ++i) {
          if (src_[i] != '_') text.push_back(src_[i]);
        }
        Token t;
        t.type = TokenType::kFloat;
        t.value = text;
        t.float_value = std::strtod(text.c_str(), nullptr);
        t.line = line_;
        tokens_.push_back(std::move(t));
        pos_ = float_end;
        continue;
      }
      int base = 10;
      const size_t int_end = match_integer(src_, pos_, base);
      if (int_end != std::string_view::npos) {
        std::string digits;
        for (size_t i = pos_ + (base == 10 ? 0 : 2); i < int_end; ++i) {
          if (src_[i] != '_') digits.push_back(src_[i]);
        }
        errno = 0;
        const unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
        if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
          fail_syntax(line_, "integer literal too large: " + std::string(src_.substr(pos_, int_end - pos_)));
        }
        Token t;
        t.type = TokenType::kInteger;
        t.value = std::string(src_.substr(pos_, int_end - pos_));
        t.int_value = static_cast<int64_t>(v);
        t.line = line_;
        tokens_.push_back(std::move(t));
        pos_ = int_end;
        continue;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t end = pos_ + 1;
        while (end < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[end])) || src_[end] == '_')) {
          ++end;
        }
        push(TokenType::kName, std::string(src_.substr(pos_, end - pos_)));
        pos_ = end;
        continue;
      }
      if (c == '\'' || c == '"') {
        size_t end = pos_ + 1;
        bool closed = false;
        while (end < src_.size()) {
          if (src_[end] == '\\') {
            end += 2;
            continue;
          }
          if (src_[end] == c) {
            closed = true;
            break;
          }
          ++end;
        }
        if (closed) {
          const std::string_view body = src_.substr(pos_ + 1, end - pos_ - 1);
          push(TokenType::kString, unescape(body, line_));
          line_ += count_newlines(body);
          pos_ = end + 1;
          continue;
        }
      }
      static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
      std::string op;
      for (std::string_view two : kTwo) {
        if (src_.compare(pos_, 2, two) == 0) {
          op = std::string(two);
          break;
        }
      }
      if (op.empty() && std::string_view("+-/*%~[](){}><=.:|,;").find(c) != std::string_view::npos) {
        op = std::string(1, c);
      }
      if (op.empty()) {
        std::string shown;
        size_t probe = pos_;
        unicode::append_utf8(shown, unicode::decode_utf8(src_, probe));
        fail_syntax(line_, "unexpected char " + repr_char(shown) + " at " + std::to_string(pos_));
      }
      if (op == "{" || op == "(" || op == "[") {
        balance.push_back(op == "{" ? '}' : op == "(" ? ')' : ']');
      } else if (op == "}" || op == ")" || op == "]") {
        if (balance.empty()) fail_syntax(line_, "unexpected '" + op + "'");
        const char expected = balance.back();
        balance.pop_back();
        if (expected != op[0]) {
          fail_syntax(line_, "unexpected '" + op + "', expected '" + std::string(1, expected) + "'");
        }
      }
      push(TokenType::kOperator, op);
      pos_ += op.size();
    }
  }

  static std::string repr_char(const std::string& c) {
    if (c == "'") return "\"'\"";
    return "'" + c + "'";
  }

  std::string_view src_;
  LexerOptions options_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> Lexer::tokenize(std::string_view source) const {
  // Newlines become "\n"; one trailing newline is dropped (Jinja's default).
  std::string normalized;
  normalized.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      normalized.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      normalized.push_back(source[i]);
    }
  }
  if (!normalized.empty() && normalized.back() == '\n') normalized.pop_back();
  Scanner scanner(normalized, options_);
  return scanner.run();
}

}  // namespace tandem::text::jinja
