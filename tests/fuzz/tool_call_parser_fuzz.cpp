// libFuzzer target: text::ToolCallParser on any model output, in every format.
// The first byte picks the chunk size the rest is pushed in; the pieces must be
// the same as when the output is pushed whole, calls must carry a name and a
// JSON object, and an output in which no call was found must come back as
// content byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/tool_call_parser.h"

namespace {

using tandem::text::ToolCallFormat;
using tandem::text::ToolCallParser;
using tandem::text::ToolCallPiece;

std::vector<ToolCallPiece> parse(ToolCallFormat format, std::string_view text, size_t chunk) {
  ToolCallParser parser(format);
  std::vector<ToolCallPiece> out;
  for (size_t i = 0; i < text.size(); i += chunk) parser.push(text.substr(i, chunk), out);
  parser.finish(out);
  return out;
}

bool same(const std::vector<ToolCallPiece>& a, const std::vector<ToolCallPiece>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].content != b[i].content || a[i].call.has_value() != b[i].call.has_value()) return false;
    if (a[i].call && (a[i].call->name != b[i].call->name || a[i].call->arguments != b[i].call->arguments)) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 16;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (auto format :
       {ToolCallFormat::kNone, ToolCallFormat::kHermes, ToolCallFormat::kMistral, ToolCallFormat::kLlama3Json}) {
    const auto whole = parse(format, text, text.size() + 1);
    if (!same(whole, parse(format, text, chunk))) __builtin_trap();
    std::string content;
    int calls = 0;
    for (const auto& piece : whole) {
      if (piece.call) {
        ++calls;
        if (piece.call->name.empty() || piece.call->arguments.empty() || piece.call->arguments.front() != '{') {
          __builtin_trap();
        }
      } else {
        content += piece.content;
      }
    }
    if (calls == 0 && content != text) __builtin_trap();
    if (format == ToolCallFormat::kNone && calls != 0) __builtin_trap();
  }
  return 0;
}
