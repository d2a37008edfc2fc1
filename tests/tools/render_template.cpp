// render_template: renders chat templates with Tandem's Jinja interpreter for
// the Python reference tests (tests/reference/jinja/). Reads JSON lines on
// stdin, one case each:
//   {"template": "<source>", "context": {...}, "now": <unix seconds, optional>,
//    "hf": true|false (default true: apply_chat_template's context rules)}
// and writes one JSON line per case: {"ok": true, "output": "..."} or
// {"ok": false, "error": "..."}. Compiled templates are cached by source.
// With "repeat": N the case is rendered N times (and compiled N times) and the
// reply adds "render_seconds" and "compile_seconds" (totals; for bench/jinja).
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "text/jinja/hf_context.h"
#include "text/jinja/program.h"

namespace {

boost::json::object run_case(const boost::json::object& request,
                             std::map<std::string, std::shared_ptr<const tandem::text::jinja::Program>>& cache) {
  using tandem::text::jinja::Program;
  boost::json::object reply;
  auto fail = [&reply](const std::string& message) {
    reply["ok"] = false;
    reply["error"] = message;
    return reply;
  };
  const auto* source = request.if_contains("template");
  if (source == nullptr || !source->is_string()) return fail("request has no \"template\" string");
  const std::string text(source->get_string());
  auto it = cache.find(text);
  if (it == cache.end()) {
    auto program = Program::compile(text);
    if (!program.ok()) return fail(program.status().message());
    it = cache.emplace(text, program.value()).first;
  }
  boost::json::object context;
  if (const auto* c = request.if_contains("context"); c != nullptr && c->is_object()) context = c->get_object();
  tandem::text::jinja::RenderOptions options;
  if (const auto* now = request.if_contains("now"); now != nullptr && now->is_number()) {
    const double seconds = now->to_number<double>();
    options.now = std::chrono::system_clock::time_point(
        std::chrono::round<std::chrono::microseconds>(std::chrono::duration<double>(seconds)));
  }
  bool hf = true;
  if (const auto* h = request.if_contains("hf"); h != nullptr && h->is_bool()) hf = h->get_bool();
  tandem::Result<std::string> out = std::string();
  if (hf) {
    auto vars = tandem::text::jinja::hf_variables(context);
    if (!vars.ok()) return fail(vars.status().message());
    out = it->second->render(vars.value(), options);
  } else {
    out = it->second->render(context, options);
  }
  if (!out.ok()) return fail(out.status().message());
  reply["ok"] = true;
  reply["output"] = out.value();
  if (const auto* r = request.if_contains("repeat"); r != nullptr && r->is_int64() && r->get_int64() > 0) {
    const int64_t n = r->get_int64();
    using Clock = std::chrono::steady_clock;
    size_t sink = 0;
    auto start = Clock::now();
    for (int64_t i = 0; i < n; ++i) {
      auto vars = hf ? tandem::text::jinja::hf_variables(context).value()
                     : std::vector<std::pair<std::string, tandem::text::jinja::Value>>{};
      auto again = hf ? it->second->render(vars, options) : it->second->render(context, options);
      sink += again.ok() ? again.value().size() : 0;
    }
    reply["render_seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
    start = Clock::now();
    for (int64_t i = 0; i < n; ++i) sink += Program::compile(text).ok() ? 1 : 0;
    reply["compile_seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
    reply["sink"] = sink;
  }
  return reply;
}

}  // namespace

int main() {
  std::map<std::string, std::shared_ptr<const tandem::text::jinja::Program>> cache;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    boost::json::object reply;
    boost::system::error_code ec;
    boost::json::value request = boost::json::parse(line, ec);
    if (ec || !request.is_object()) {
      reply["ok"] = false;
      reply["error"] = "bad request line: " + (ec ? ec.message() : std::string("not an object"));
    } else {
      reply = run_case(request.get_object(), cache);
    }
    std::cout << boost::json::serialize(reply) << '\n';
  }
  return 0;
}
