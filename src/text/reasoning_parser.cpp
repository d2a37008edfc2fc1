#include "text/reasoning_parser.h"

#include "text/output_scan.h"

namespace tandem::text {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

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
  return chat_template.find(kOpen) == std::string_view::npos ? ReasoningFormat::kDeepSeekR1 : ReasoningFormat::kQwen3;
}

bool prompt_opens_reasoning(std::string_view prompt) {
  const size_t pos = prompt.rfind(kOpen);
  return pos != std::string_view::npos && skip_output_space(prompt, pos + kOpen.size()) == prompt.size();
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

void ReasoningParser::finish(std::string& reasoning, std::string& answer) { scan(true, reasoning, answer); }

void ReasoningParser::scan(bool at_end, std::string& reasoning, std::string& answer) {
  for (;;) {
    switch (state_) {
      case State::kStart: {
        const size_t i = skip_output_space(buf_, 0);
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
          buf_.erase(0, skip_output_space(buf_, 0));
          if (buf_.empty()) return;
          drop_leading_space_ = false;
        }
        const size_t close = buf_.find(kClose);
        if (close != std::string::npos) {
          reasoning.append(trim_output_space_end(std::string_view(buf_).substr(0, close)));
          buf_.erase(0, close + kClose.size());
          state_ = State::kAfterBlock;
          continue;
        }
        if (at_end) {
          reasoning.append(trim_output_space_end(buf_));
          buf_.clear();
          return;
        }
        const std::string_view decided =
            std::string_view(buf_).substr(0, buf_.size() - partial_marker_length(buf_, kClose));
        const std::string_view keep = trim_output_space_end(decided);
        reasoning.append(keep);
        buf_.erase(0, keep.size());
        return;
      }
      case State::kAfterBlock:
        buf_.erase(0, skip_output_space(buf_, 0));
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
