// SystemdNotifier: tells the service manager how `tandem serve` is doing, through the
// sd_notify(3) protocol (one datagram of newline-separated VAR=value lines sent to the
// unix socket named by $NOTIFY_SOCKET).
//
// The unit (packaging/systemd/tandem.service) is Type=notify with NotifyAccess=main
// and WatchdogSec=30, so `tandem serve` must:
//   - send status("loading weights 40%") lines while it starts (shown by
//     `systemctl status tandem`); extend_start_timeout() if loading may outlast
//     TimeoutStartSec,
//   - send ready() once the model is loaded AND the listening socket accepts connections,
//   - send watchdog() at least every watchdog_ping_interval() from a loop that would stop
//     if the server hung (the watchdog is only enforced after READY=1),
//   - send stopping() as soon as shutdown (SIGTERM) begins, before draining.
//
// Backends: with TANDEM_HAVE_SYSTEMD (libsystemd found at build time) kAuto uses
// sd_notify()/sd_watchdog_enabled() from libsystemd; otherwise, or with kBuiltin, a
// small own implementation writes the datagram itself. Both accept a filesystem path
// ("/run/systemd/notify") and an abstract socket ("@name") in NOTIFY_SOCKET.
//
// When NOTIFY_SOCKET is unset (not started by systemd, e.g. in Docker or a terminal)
// every call is a no-op that returns ok, so callers never need to check.
//
// Threads: all methods are const and may be called from any thread concurrently; each
// message is one sendto() on a fresh socket. The environment is read once, by
// from_environment(); nothing here unsets it (children inherit it).
// Failure: a message that cannot be delivered returns a kIo Status naming the socket
// and the errno text; it never throws and never blocks (datagrams are sent
// MSG_DONTWAIT). A NOTIFY_SOCKET that is not an absolute path or @abstract name is
// reported by every call as kInvalidRequest naming the value.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tandem::main {

class SystemdNotifier {
 public:
  enum class Backend {
    kAuto,        // libsystemd when built with it, else kBuiltin
    kLibsystemd,  // libsystemd; from_environment() falls back to kBuiltin without it
    kBuiltin,     // the own implementation (always available)
  };

  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
  static SystemdNotifier from_environment(Backend backend = Backend::kAuto);

  // True when NOTIFY_SOCKET is set (messages are sent somewhere).
  bool enabled() const { return !socket_.empty(); }
  // The backend actually used (never kAuto).
  Backend backend() const { return backend_; }
  // NOTIFY_SOCKET as given (empty when unset).
  const std::string& socket() const { return socket_; }

  // READY=1 (and a STATUS line when `status` is not empty).
  Status ready(std::string_view status = {}) const;
  // STATUS=<text>; newlines in `text` become spaces so it cannot add other variables.
  Status status(std::string_view text) const;
  // WATCHDOG=1. Harmless when the watchdog is off.
  Status watchdog() const;
  // STOPPING=1 (and a STATUS line when `status` is not empty).
  Status stopping(std::string_view status = {}) const;
  // RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC now>, as Type=notify-reload expects;
  // follow with ready() when the reload is done.
  Status reloading() const;
  // EXTEND_TIMEOUT_USEC=<usec>: the current start (or stop) may take `extra` longer than
  // TimeoutStartSec/TimeoutStopSec; send repeatedly while progress continues.
  Status extend_timeout(std::chrono::microseconds extra) const;
  // Sends `state` as is (one or more "VAR=value" lines).
  Status notify(std::string_view state) const;

  // WATCHDOG_USEC when the watchdog is enabled for this process (WATCHDOG_PID unset or
  // equal to getpid()), else nullopt. Set but unparsable values count as disabled.
  std::optional<std::chrono::microseconds> watchdog_timeout() const { return watchdog_; }
  // How often to call watchdog(): half the timeout, as sd_watchdog_enabled(3) advises.
  std::optional<std::chrono::microseconds> watchdog_ping_interval() const;

 private:
  SystemdNotifier(Backend backend, std::string socket, std::optional<std::chrono::microseconds> watchdog)
      : backend_(backend), socket_(std::move(socket)), watchdog_(watchdog) {}

  Backend backend_;
  std::string socket_;
  std::optional<std::chrono::microseconds> watchdog_;
};

// Stable lower-case backend name ("libsystemd", "builtin"), for logs.
const char* backend_name(SystemdNotifier::Backend backend);

}  // namespace tandem::main
