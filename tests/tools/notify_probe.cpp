// notify_probe: drives tandem::main::SystemdNotifier for tests/packaging/test_sd_notify.py.
//
//   notify_probe [--backend=auto|libsystemd|builtin] STEP...
//     info            print "enabled=0|1 backend=NAME watchdog_usec=N ping_usec=N" (N=-1: off)
//     status:TEXT     STATUS=TEXT          ready / ready:TEXT    READY=1 [+ STATUS]
//     watchdog        WATCHDOG=1           stopping / stopping:TEXT
//     reloading       RELOADING=1 + MONOTONIC_USEC           extend:USEC  EXTEND_TIMEOUT_USEC
//     raw:TEXT        TEXT as is ("\n" in TEXT stands for a newline)
//     lifecycle       what `tandem serve` does: STATUS loading 0/50/100%, READY=1, then
//                     WATCHDOG=1 every ping interval until SIGTERM, then STOPPING=1
//   Each step prints "ok" or "error KIND: MESSAGE"; the exit status is 1 if any failed.
//
// Links the wrapper from tandem_app (src/main without the entry point).
#include "main/systemd_notify.h"

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

namespace {

using tandem::Status;
using tandem::main::SystemdNotifier;

volatile std::sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool report(const Status& s) {
  if (s.ok()) {
    std::printf("ok\n");
  } else {
    std::printf("error %s: %s\n", tandem::error_kind_name(s.kind()), s.message().c_str());
  }
  std::fflush(stdout);
  return s.ok();
}

bool lifecycle(const SystemdNotifier& n) {
  bool ok = true;
  for (int pct : {0, 50, 100}) {
    ok &= report(n.status("loading weights " + std::to_string(pct) + "%"));
  }
  ok &= report(n.ready("serving"));
  const auto interval = n.watchdog_ping_interval().value_or(std::chrono::milliseconds(100));
  while (!g_stop) {
    ok &= report(n.watchdog());
    const auto until = std::chrono::steady_clock::now() + interval;
    while (!g_stop && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ok &= report(n.stopping("draining"));
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGTERM, on_term);
  auto backend = SystemdNotifier::Backend::kAuto;
  int first = 1;
  if (argc > 1 && std::string_view(argv[1]).rfind("--backend=", 0) == 0) {
    const std::string_view b = std::string_view(argv[1]).substr(10);
    if (b == "libsystemd") {
      backend = SystemdNotifier::Backend::kLibsystemd;
    } else if (b == "builtin") {
      backend = SystemdNotifier::Backend::kBuiltin;
    } else if (b != "auto") {
      std::fprintf(stderr, "notify_probe: unknown backend '%s'\n", argv[1] + 10);
      return 2;
    }
    first = 2;
  }
  const SystemdNotifier n = SystemdNotifier::from_environment(backend);
  bool ok = true;
  for (int i = first; i < argc; ++i) {
    const std::string_view step = argv[i];
    const auto colon = step.find(':');
    const std::string_view verb = step.substr(0, colon);
    const std::string arg = colon == std::string_view::npos ? "" : unescape(step.substr(colon + 1));
    if (verb == "info") {
      const auto wd = n.watchdog_timeout();
      const auto ping = n.watchdog_ping_interval();
      std::printf("enabled=%d backend=%s watchdog_usec=%lld ping_usec=%lld\n", n.enabled() ? 1 : 0,
                  tandem::main::backend_name(n.backend()), wd ? static_cast<long long>(wd->count()) : -1LL,
                  ping ? static_cast<long long>(ping->count()) : -1LL);
    } else if (verb == "status") {
      ok &= report(n.status(arg));
    } else if (verb == "ready") {
      ok &= report(n.ready(arg));
    } else if (verb == "watchdog") {
      ok &= report(n.watchdog());
    } else if (verb == "stopping") {
      ok &= report(n.stopping(arg));
    } else if (verb == "reloading") {
      ok &= report(n.reloading());
    } else if (verb == "extend") {
      ok &= report(n.extend_timeout(std::chrono::microseconds(std::strtoll(arg.c_str(), nullptr, 10))));
    } else if (verb == "raw") {
      ok &= report(n.notify(arg));
    } else if (verb == "lifecycle") {
      ok &= lifecycle(n);
    } else {
      std::fprintf(stderr, "notify_probe: unknown step '%s'\n", argv[i]);
      return 2;
    }
  }
  return ok ? 0 : 1;
}
