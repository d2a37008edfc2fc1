// text::ToolCallParser: finds the function calls a model writes into its
// output and separates them from the plain text, as it streams.
//
// Formats (the ones the published chat templates teach their models):
//   kHermes      <tool_call>{"name": ..., "arguments": {...}}</tool_call>, any number
//                (Qwen2.5, Qwen3, Hermes; vLLM's `hermes` parser). A block left open at
//                the end of the output is parsed too.
//   kMistral     [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...] (v3 tokenizers:
//                Mistral-7B v0.3, Nemo), or [TOOL_CALLS]name[ARGS]{...} with an optional
//                [CALL_ID]id before [ARGS] (v7+: Mistral Small 3.x), repeated per call.
//   kLlama3Json  the whole output is {"name": ..., "parameters": {...}} objects separated
//                by ";", optionally after <|python_tag|> (Llama 3.1-3.3's JSON tool calls;
//                vLLM's `llama3_json`). Output that does not start so is plain text.
// A call object needs a non-empty string "name"; its arguments come from
// "arguments" or "parameters" (an object, a string holding a JSON object, or
// absent/null = {}). ToolCall::arguments is that object as compact JSON.
//
// Text rules (streaming and whole-output parsing are the same code, so they
// agree): text before, between and after calls is content, except that
// whitespace directly before a call marker or directly after a call is
// dropped. A marker that starts a block which does not parse (bad JSON, no
// name) is not lost: the block's raw text, markers included, becomes content.
// Trailing whitespace and a tail that could be the start of a marker are held
// back until the next push() decides them (or finish()).
//
// Input: valid UTF-8 (the detokenizer's output, after stop strings). Memory:
// a block still open holds its text until it closes, bounded by the output.
// Threading: one instance per choice, one thread at a time. Never fails.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::text {

enum class ToolCallFormat {
  kNone,  // no parsing: every byte is content
  kHermes,
  kMistral,
  kLlama3Json,
};

// "none", "hermes", "mistral", "llama3_json".
std::string_view tool_call_format_name(ToolCallFormat format);
// The inverse of tool_call_format_name (exact names); nullopt for anything else.
std::optional<ToolCallFormat> tool_call_format_from_name(std::string_view name);
// The format a chat template teaches, from the markers its source contains
// ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>" or Llama's "parameters"
// instruction); kNone when it mentions none of them.
ToolCallFormat detect_tool_call_format(std::string_view chat_template);

struct ToolCall {
  std::string name;
  std::string arguments;  // a JSON object, compact
};

// One piece of parsed output, in output order: content text or a call.
struct ToolCallPiece {
  std::string content;  // when !call
  std::optional<ToolCall> call;
};

class ToolCallParser {
 public:
  explicit ToolCallParser(ToolCallFormat format);

  // Feeds output text; appends what is now decided to `out` (consecutive
  // content is merged into one piece).
  void push(std::string_view text, std::vector<ToolCallPiece>& out);
  // End of the output: decides everything still held.
  void finish(std::vector<ToolCallPiece>& out);

  // Calls found so far.
  int calls() const { return calls_; }
  ToolCallFormat format() const { return format_; }

 private:
  enum class State {
    kStart,  // kLlama3Json only: before the first non-space character
    kText,   // plain text, looking for the format's call marker
    kCall,   // inside a call block (after its marker)
    kPlain,  // kNone, and kLlama3Json once the output is known to be text
  };

  void scan(bool at_end, std::vector<ToolCallPiece>& out);
  bool scan_start(bool at_end, std::vector<ToolCallPiece>& out);
  bool scan_text(bool at_end, std::vector<ToolCallPiece>& out);
  bool scan_hermes_call(bool at_end, std::vector<ToolCallPiece>& out);
  bool scan_mistral_call(bool at_end, std::vector<ToolCallPiece>& out);
  bool scan_llama_call(bool at_end, std::vector<ToolCallPiece>& out);
  void emit_content(std::string_view text, std::vector<ToolCallPiece>& out);
  void emit_call(ToolCall call, std::vector<ToolCallPiece>& out);
  // Leaves a hermes or mistral block (back to looking for the marker).
  void end_block();

  ToolCallFormat format_;
  State state_;
  std::string buf_;                  // text not yet decided
  std::string marker_;               // kCall: the space and marker that opened the block (raw fallback)
  bool drop_leading_space_ = false;  // just after a call
  int calls_ = 0;
};

}  // namespace tandem::text
