// tandem_testserver: the frontend over the instant test backend and the byte
// tokenizer, for the Python integration tests and the frontend benchmark.
// The chat template is the C++ ChatML renderer of tests/support/test_model.h.
// Prints "listening on PORT" as its first stdout line. SIGTERM/SIGINT drain
// (new generation requests get 503, in-flight ones finish) and then stop.
//
// Flags: --host H --port N (0 = ephemeral) --threads N --api-key K (repeat)
//   --max-body BYTES --queue-limit N --token-delay-us N --script TEXT
//   --max-context N --header-timeout S --idle-timeout S --request-timeout S
//   --model NAME --unavailable --cached-tokens N --max-stream-buffer BYTES
//   --drain-wait S --log-level LEVEL --tool-call-parser hermes|mistral|llama3_json|none
//   --reasoning-parser qwen3|deepseek_r1|none --max-connections N
//   --max-connections-per-client N --cors-origin ORIGIN (repeat) --prepare-threads N
// --queue-limit also bounds the sequences of one request (max_request_choices).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/metrics.h"
#include "frontend/http_server.h"
#include "frontend/served_model.h"
#include "support/byte_tokenizer.h"
#include "support/instant_backend.h"
#include "support/test_model.h"

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "tandem_testserver: " << why << "\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  tandem::frontend::ServerOptions options;
  options.port = 0;
  tandem::test::InstantBackendOptions backend_options;
  std::string model_name = "tandem-test";
  std::string script;
  int max_context = 4096;
  bool unavailable = false;
  int drain_wait_s = 30;
  std::string log_level = "info";
  std::string tool_call_parser = "none";
  std::string reasoning_parser = "none";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--host")
      options.host = value();
    else if (flag == "--port")
      options.port = static_cast<uint16_t>(std::stoi(value()));
    else if (flag == "--threads")
      options.threads = std::stoi(value());
    else if (flag == "--api-key")
      options.api_keys.push_back(value());
    else if (flag == "--max-body")
      options.max_body_bytes = std::stoul(value());
    else if (flag == "--queue-limit")
      backend_options.queue_limit = options.max_request_choices = std::stoi(value());
    else if (flag == "--token-delay-us")
      backend_options.token_delay = std::chrono::microseconds(std::stol(value()));
    else if (flag == "--script")
      script = value();
    else if (flag == "--max-context")
      max_context = std::stoi(value());
    else if (flag == "--header-timeout")
      options.header_timeout = std::chrono::seconds(std::stol(value()));
    else if (flag == "--idle-timeout")
      options.idle_timeout = std::chrono::seconds(std::stol(value()));
    else if (flag == "--request-timeout")
      options.request_timeout = std::chrono::seconds(std::stol(value()));
    else if (flag == "--model")
      model_name = value();
    else if (flag == "--unavailable")
      unavailable = true;
    else if (flag == "--cached-tokens")
      backend_options.cached_tokens = std::stoi(value());
    else if (flag == "--max-stream-buffer")
      options.max_stream_buffer_bytes = std::stoul(value());
    else if (flag == "--drain-wait")
      drain_wait_s = std::stoi(value());
    else if (flag == "--log-level")
      log_level = value();
    else if (flag == "--max-connections")
      options.max_connections = std::stoi(value());
    else if (flag == "--max-connections-per-client")
      options.max_connections_per_client = std::stoi(value());
    else if (flag == "--cors-origin")
      options.cors_origins.push_back(value());
    else if (flag == "--prepare-threads")
      options.prepare_threads = std::stoi(value());
    else if (flag == "--tool-call-parser")
      tool_call_parser = value();
    else if (flag == "--reasoning-parser")
      reasoning_parser = value();
    else
      usage("unknown flag " + flag);
  }

  auto logger = spdlog::stderr_color_mt("tandem");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));

  // Block the stop signals before any thread starts, then wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto tokenizer = std::make_shared<tandem::test::ByteTokenizer>();
  if (!script.empty()) backend_options.script = tokenizer->encode(script, false, true);

  tandem::metrics::Registry registry(tandem::metrics::Registry::Options{true, model_name});
  tandem::test::InstantBackend backend(backend_options, &registry);
  if (unavailable) backend.set_available(false);

  tandem::frontend::ServedModel model = tandem::test::make_test_model(max_context, model_name);
  model.tokenizer = tokenizer;
  const auto tool_format = tandem::text::tool_call_format_from_name(tool_call_parser);
  if (!tool_format) usage("unknown --tool-call-parser " + tool_call_parser);
  model.tool_call_format = *tool_format;
  const auto reasoning_format = tandem::text::reasoning_format_from_name(reasoning_parser);
  if (!reasoning_format) usage("unknown --reasoning-parser " + reasoning_parser);
  model.reasoning_format = *reasoning_format;

  tandem::frontend::HttpServer server(options, model, backend, registry);
  if (auto st = server.start(); !st.ok()) {
    std::cerr << "tandem_testserver: " << st.to_string() << "\n";
    return 1;
  }
  std::printf("listening on %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: draining", sig);
  server.begin_drain();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(drain_wait_s);
  while (server.in_flight() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server.stop();
  spdlog::info("stopped");
  return 0;
}
