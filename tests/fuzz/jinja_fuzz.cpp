// libFuzzer target for the Jinja interpreter: the input is a template; it is
// compiled and, when it compiles, rendered against a small fixed chat context
// with tight limits. Any crash, sanitizer report or hang is a bug: bad
// templates must end in a kTemplateError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json.hpp>

#include "text/jinja/program.h"

namespace {

const boost::json::object& context() {
  static const boost::json::object kContext = [] {
    boost::json::value v = boost::json::parse(R"({
      "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi \"there\" é 日本 😀\n"},
        {"role": "assistant", "content": "", "reasoning_content": "think",
         "tool_calls": [{"id": "call00001", "type": "function",
                         "function": {"name": "f", "arguments": {"x": 1, "y": [true, null, 2.5]}}}]},
        {"role": "tool", "tool_call_id": "call00001", "content": "{\"ok\": 1}"},
        {"role": "user", "content": ["a", {"type": "text", "text": "b"}]}
      ],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
      "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": true,
      "enable_thinking": false, "n": 3, "x": 1.5, "s": "text", "none": null
    })");
    return v.as_object();
  }();
  return kContext;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tandem::text::jinja::Program;
  if (size > 64 * 1024) return 0;
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto program = Program::compile(source);
  // kInternal means an exception other than TemplateError escaped: a bug.
  if (!program.ok()) {
    if (program.status().kind() == tandem::ErrorKind::kInternal) __builtin_trap();
    return 0;
  }
  tandem::text::jinja::RenderOptions options;
  options.limits.max_output_bytes = 256 * 1024;
  options.limits.max_loop_iterations = 20'000;
  options.limits.max_call_depth = 16;
  options.limits.max_range = 10'000;
  options.now = std::chrono::system_clock::from_time_t(1722470400);
  auto out = program.value()->render(context(), options);
  if (!out.ok() && out.status().kind() == tandem::ErrorKind::kInternal) __builtin_trap();
  return 0;
}
