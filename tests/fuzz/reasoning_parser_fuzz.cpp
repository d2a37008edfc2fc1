// libFuzzer target: text::ReasoningParser on any model output, in every format
// and with the block opened by the prompt or not. The first byte picks the
// chunk size (and the prompt flag); the split must be the same as when the
// output is pushed whole, "none" must give the output back as answer, and
// output that never reaches a think block (qwen3, prompt not open, not
// starting with "<think>") must come back as answer byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "text/reasoning_parser.h"

namespace {

using tandem::text::ReasoningFormat;
using tandem::text::ReasoningParser;

struct Split {
  std::string reasoning, answer;
};

Split parse(ReasoningFormat format, bool open, std::string_view text, size_t chunk) {
  ReasoningParser parser(format, open);
  Split s;
  for (size_t i = 0; i < text.size(); i += chunk) parser.push(text.substr(i, chunk), s.reasoning, s.answer);
  parser.finish(s.reasoning, s.answer);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 16;
  const bool open = (data[0] & 0x80) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (auto format : {ReasoningFormat::kNone, ReasoningFormat::kQwen3, ReasoningFormat::kDeepSeekR1}) {
    const Split whole = parse(format, open, text, text.size() + 1);
    const Split chunked = parse(format, open, text, chunk);
    if (whole.reasoning != chunked.reasoning || whole.answer != chunked.answer) __builtin_trap();
    if (whole.reasoning.size() + whole.answer.size() > text.size()) __builtin_trap();
    if (format == ReasoningFormat::kNone && (whole.answer != text || !whole.reasoning.empty())) __builtin_trap();
    if (format == ReasoningFormat::kQwen3 && !open && text.find("<think>") == std::string_view::npos &&
        whole.answer != text) {
      __builtin_trap();
    }
  }
  return 0;
}
