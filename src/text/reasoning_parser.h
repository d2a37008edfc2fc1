// text::ReasoningParser: separates the reasoning a model writes in a think
// block (<think> ... </think>, Qwen3, QwQ, DeepSeek-R1) from its answer, as
// the output streams.
//
// Formats (vLLM's reasoning parser names):
//   kQwen3       the output is reasoning only inside a think block: one that the
//                output opens with <think> (after optional whitespace), or one the
//                prompt left open (a template that ends the generation prompt with
//                "<think>\n"). Output that does not start so is all answer.
//   kDeepSeekR1  the output starts in reasoning whether or not it writes <think>
//                (R1 models often leave it out); everything before </think> is
//                reasoning, and an output that never writes </think> is all
//                reasoning.
// A think block still open at the end of the output is reasoning up to there.
// The tags are not part of either text. Whitespace (newlines) right after
// <think>, right before </think> and right after </think> is dropped, as the
// Qwen3 template strips it when the turn comes back in a later request.
// Text after the block is the answer, byte for byte; a second <think> in it
// is answer text.
//
// Input: the output after stop strings. Trailing whitespace and a tail that
// could be the start of a tag are held back until the next push() decides
// them (or finish()). Threading: one instance per choice, one thread at a
// time. Never fails.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tandem::text {

enum class ReasoningFormat {
  kNone,  // no parsing: every byte is answer
  kQwen3,
  kDeepSeekR1,
};

// "none", "qwen3", "deepseek_r1".
std::string_view reasoning_format_name(ReasoningFormat format);
// The inverse of reasoning_format_name (exact names); nullopt for anything else.
std::optional<ReasoningFormat> reasoning_format_from_name(std::string_view name);
// kQwen3 when the chat template writes think blocks ("<think>" and "</think>"),
// else kNone.
ReasoningFormat detect_reasoning_format(std::string_view chat_template);
// True when the rendered prompt ends inside a think block: its last "<think>"
// has no "</think>" after it and only whitespace follows it.
bool prompt_opens_reasoning(std::string_view prompt);

class ReasoningParser {
 public:
  // `in_reasoning`: the prompt left a think block open (prompt_opens_reasoning).
  ReasoningParser(ReasoningFormat format, bool in_reasoning);

  // Feeds output text; appends what is now decided to `reasoning` and `answer`
  // (reasoning always comes first in the output, so the two never interleave).
  void push(std::string_view text, std::string& reasoning, std::string& answer);
  // End of the output: decides everything still held.
  void finish(std::string& reasoning, std::string& answer);

  ReasoningFormat format() const { return format_; }

 private:
  enum class State {
    kStart,       // before the first non-space byte: is it "<think>"?
    kReasoning,   // inside the block, looking for "</think>"
    kAfterBlock,  // just after "</think>": dropping whitespace
    kAnswer,      // everything else is answer
  };

  void scan(bool at_end, std::string& reasoning, std::string& answer);

  ReasoningFormat format_;
  State state_;
  std::string buf_;                  // text not yet decided
  bool starts_inside_ = false;       // the output begins in the block, with or without <think>
  bool drop_leading_space_ = false;  // kReasoning: nothing of the block emitted yet
};

}  // namespace tandem::text
