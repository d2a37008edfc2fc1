#include "main/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#ifdef TANDEM_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace tandem::main {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Parses a decimal unsigned integer that fills the whole string.
std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

// The rules of sd_watchdog_enabled(3): WATCHDOG_USEC must be a positive integer, and when
// WATCHDOG_PID is set it must name this process.
std::optional<std::chrono::microseconds> builtin_watchdog() {
  const std::string usec_text = env_or_empty("WATCHDOG_USEC");
  if (usec_text.empty()) return std::nullopt;
  const auto usec = parse_u64(usec_text);
  if (!usec || *usec == 0) return std::nullopt;
  const std::string pid_text = env_or_empty("WATCHDOG_PID");
  if (!pid_text.empty()) {
    const auto pid = parse_u64(pid_text);
    if (!pid || *pid != static_cast<std::uint64_t>(getpid())) return std::nullopt;
  }
  return std::chrono::microseconds(static_cast<std::int64_t>(*usec));
}

// Checks that NOTIFY_SOCKET names something we can send to, with the same acceptance as
// libsystemd for unix sockets: an absolute path or "@" + abstract name, both fitting
// sockaddr_un. Fills `addr`/`len` on success.
Status resolve_address(const std::string& socket, sockaddr_un* addr, socklen_t* len) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  const std::size_t capacity = sizeof(addr->sun_path);
  if (socket.rfind("vsock:", 0) == 0) {
    return Status(ErrorKind::kUnsupported, "NOTIFY_SOCKET='" + socket + "': vsock notify sockets are not supported");
  }
  if (socket.size() < 2 || (socket[0] != '/' && socket[0] != '@')) {
    return Status(ErrorKind::kInvalidRequest,
                  "NOTIFY_SOCKET='" + socket + "' is neither an absolute socket path nor an @abstract socket name");
  }
  if (socket[0] == '/') {
    if (socket.size() >= capacity) {
      return Status(ErrorKind::kInvalidRequest, "NOTIFY_SOCKET='" + socket +
                                                    "' is longer than a unix socket path can be (" +
                                                    std::to_string(capacity - 1) + " bytes)");
    }
    std::memcpy(addr->sun_path, socket.data(), socket.size());
    *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size() + 1);
    return {};
  }
  // Abstract: sun_path starts with NUL and the name is not NUL-terminated.
  if (socket.size() > capacity) {
    return Status(ErrorKind::kInvalidRequest, "NOTIFY_SOCKET='" + socket +
                                                  "' is longer than an abstract socket name can be (" +
                                                  std::to_string(capacity - 1) + " bytes)");
  }
  addr->sun_path[0] = '\0';
  std::memcpy(addr->sun_path + 1, socket.data() + 1, socket.size() - 1);
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size());
  return {};
}

Status io_error(const std::string& socket, int err) {
  return Status(ErrorKind::kIo, "sd_notify to NOTIFY_SOCKET='" + socket + "' failed: " + std::strerror(err));
}

std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\0') c = ' ';
  }
  return out;
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// The own sd_notify: one datagram on a fresh socket.
Status send_datagram(const std::string& name, const sockaddr_un& addr, socklen_t len, std::string_view state) {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return io_error(name, errno);
  FdCloser closer(fd);
  ssize_t sent = -1;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                    reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return io_error(name, errno);
  if (static_cast<std::size_t>(sent) != state.size()) {
    return Status(ErrorKind::kIo, "sd_notify to NOTIFY_SOCKET='" + name + "': datagram truncated");
  }
  return {};
}

}  // namespace

const char* backend_name(SystemdNotifier::Backend backend) {
  switch (backend) {
    case SystemdNotifier::Backend::kAuto: return "auto";
    case SystemdNotifier::Backend::kLibsystemd: return "libsystemd";
    case SystemdNotifier::Backend::kBuiltin: return "builtin";
  }
  return "unknown";
}

SystemdNotifier SystemdNotifier::from_environment(Backend backend) {
#ifdef TANDEM_HAVE_SYSTEMD
  if (backend == Backend::kAuto) backend = Backend::kLibsystemd;
#else
  backend = Backend::kBuiltin;
#endif
  std::optional<std::chrono::microseconds> watchdog;
#ifdef TANDEM_HAVE_SYSTEMD
  if (backend == Backend::kLibsystemd) {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0) {
      watchdog = std::chrono::microseconds(static_cast<std::int64_t>(usec));
    }
  } else {
    watchdog = builtin_watchdog();
  }
#else
  watchdog = builtin_watchdog();
#endif
  return SystemdNotifier(backend, env_or_empty("NOTIFY_SOCKET"), watchdog);
}

std::optional<std::chrono::microseconds> SystemdNotifier::watchdog_ping_interval() const {
  if (!watchdog_) return std::nullopt;
  return *watchdog_ / 2;
}

Status SystemdNotifier::notify(std::string_view state) const {
  if (state.empty()) {
    return Status(ErrorKind::kInvalidRequest, "sd_notify: empty state");
  }
  if (state.find('\0') != std::string_view::npos) {
    return Status(ErrorKind::kInvalidRequest, "sd_notify: state contains a NUL byte");
  }
  if (!enabled()) return {};
  sockaddr_un addr;
  socklen_t len = 0;
  if (Status s = resolve_address(socket_, &addr, &len); !s.ok()) return s;
#ifdef TANDEM_HAVE_SYSTEMD
  if (backend_ == Backend::kLibsystemd) {
    const std::string text(state);
    const int r = sd_notify(0, text.c_str());
    if (r < 0) return io_error(socket_, -r);
    if (r == 0) {
      // NOTIFY_SOCKET was set when we read the environment but is gone now.
      return Status(ErrorKind::kIo, "sd_notify: NOTIFY_SOCKET was unset after start-up");
    }
    return {};
  }
#endif
  return send_datagram(socket_, addr, len, state);
}

Status SystemdNotifier::ready(std::string_view status) const {
  if (status.empty()) return notify("READY=1");
  return notify("READY=1\nSTATUS=" + one_line(status));
}

Status SystemdNotifier::status(std::string_view text) const { return notify("STATUS=" + one_line(text)); }

Status SystemdNotifier::watchdog() const { return notify("WATCHDOG=1"); }

Status SystemdNotifier::stopping(std::string_view status) const {
  if (status.empty()) return notify("STOPPING=1");
  return notify("STOPPING=1\nSTATUS=" + one_line(status));
}

Status SystemdNotifier::reloading() const {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::uint64_t usec =
      static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

Status SystemdNotifier::extend_timeout(std::chrono::microseconds extra) const {
  if (extra.count() <= 0) {
    return Status(ErrorKind::kInvalidRequest, "sd_notify: EXTEND_TIMEOUT_USEC must be positive");
  }
  return notify("EXTEND_TIMEOUT_USEC=" + std::to_string(extra.count()));
}

}  // namespace tandem::main
