#include "text/reasoning_parser.h"

#include <algorithm>

namespace tandem::text {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

// `s` without its trailing whitespace.
std::string_view trim_end(std::string_view s) {
  size_t e = s.size();
  while (e > 0 && is_space(s[e - 1])) --e;
  return s.substr(0, e);
}

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t partial_tag(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

std::string_view reasoning_format_name(ReasoningFormat format) {
  switch (format) {
    case ReasoningFormat::kNone: return "none";
    case ReasoningFormat::kQwen3: return "qwen3";
    case ReasoningFormat::kDeepSeekR1: return "deepseek_r1";
  }
  return "none";
}

std::optional<ReasoningFormat> reasoning_format_from_name(std::string_view name) {
  for (auto f : {ReasoningFormat::kNone, ReasoningFormat::kQwen3, ReasoningFormat::kDeepSeekR1}) {
    if (reasoning_format_name(f) == name) return f;
  }
  return std::nullopt;
}

ReasoningFormat detect_reasoning_format(std::string_view chat_template) {
  if (chat_template.find(kClose) == std::string_view::npos) return ReasoningFormat::kNone;
  // A template that only strips "...</think>" from earlier turns (the first
  // DeepSeek-R1 releases) serves a model that may not write the opening tag.
  return chat_template.find(kOpen) == std::string_view::npos ? ReasoningFormat::kDeepSeekR1
                                                             : ReasoningFormat::kQwen3;
}

bool prompt_opens_reasoning(std::string_view prompt) {
  const size_t pos = prompt.rfind(kOpen);
  return pos != std::string_view::npos && skip_space(prompt, pos + kOpen.size()) == prompt.size();
}

ReasoningParser::ReasoningParser(ReasoningFormat format, bool in_reasoning) : format_(format) {
  if (format == ReasoningFormat::kNone) {
    state_ = State::kAnswer;
  } else {
    state_ = State::kStart;
    starts_inside_ = in_reasoning || format == ReasoningFormat::kDeepSeekR1;
  }
}

void ReasoningParser::push(std::string_view text, std::string& reasoning, std::string& answer) {
  buf_.append(text);
  scan(false, reasoning, answer);
}

void ReasoningParser::finish(std::string& reasoning, std::string& answer) {
  scan(true, reasoning, answer);
}

void ReasoningParser::scan(bool at_end, std::string& reasoning, std::string& answer) {
  for (;;) {
    switch (state_) {
      case State::kStart: {
        const size_t i = skip_space(buf_, 0);
        const std::string_view rest = std::string_view(buf_).substr(i);
        if (rest.substr(0, kOpen.size()) == kOpen) {
          buf_.erase(0, i + kOpen.size());
          state_ = State::kReasoning;
          drop_leading_space_ = true;
          continue;
        }
        if (!at_end && rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest) {
          return;  // only whitespace, or what could still become the tag
        }
        if (starts_inside_) {
          state_ = State::kReasoning;
          drop_leading_space_ = true;
        } else {
          state_ = State::kAnswer;  // leading whitespace included: the answer is byte for byte
        }
        continue;
      }
      case State::kReasoning: {
        if (drop_leading_space_) {
          buf_.erase(0, skip_space(buf_, 0));
          if (buf_.empty()) return;
          drop_leading_space_ = false;
        }
        const size_t close = buf_.find(kClose);
        if (close != std::string::npos) {
          reasoning.append(trim_end(std::string_view(buf_).substr(0, close)));
          buf_.erase(0, close + kClose.size());
          state_ = State::kAfterBlock;
          continue;
        }
        if (at_end) {
          reasoning.append(trim_end(buf_));
          buf_.clear();
          return;
        }
        const std::string_view decided =
            std::string_view(buf_).substr(0, buf_.size() - partial_tag(buf_, kClose));
        const std::string_view keep = trim_end(decided);
        reasoning.append(keep);
        buf_.erase(0, keep.size());
        return;
      }
      case State::kAfterBlock:
        buf_.erase(0, skip_space(buf_, 0));
        if (buf_.empty()) return;
        state_ = State::kAnswer;
        continue;
      case State::kAnswer:
        answer.append(buf_);
        buf_.clear();
        return;
    }
  }
}

}  // namespace tandem::text
