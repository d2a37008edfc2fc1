// frontend::TokenInbox: where a request's TokenEvents wait between the worker
// thread that produces them and the connection strand that renders them.
//
// push() runs on worker threads and never blocks beyond a short mutex hold:
// it appends the event (stamped with its arrival time) and, when the inbox was
// not already scheduled, calls `wake` once (the connection posts a drain to
// its strand). take() on the strand moves out everything queued and re-arms
// the wake, so events that arrive together are rendered and written together.
//
// Ownership: shared by the connection and every sink of the request (sinks
// may outlive the connection; events then wait here until the inbox dies).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "scheduler/generation.h"

namespace tandem::frontend {

class TokenInbox : public std::enable_shared_from_this<TokenInbox> {
 public:
  struct Item {
    int choice = 0;
    scheduler::TokenEvent event;
    std::chrono::steady_clock::time_point at;
  };
  using Wake = std::function<void()>;

  explicit TokenInbox(Wake wake) : wake_(std::move(wake)) {}

  // Any thread.
  void push(int choice, scheduler::TokenEvent&& event);
  // The sink for one choice; it keeps the inbox alive.
  scheduler::TokenSink sink(int choice);

  // Consumer: appends every queued item to `out` (after clearing it).
  void take(std::vector<Item>& out);

 private:
  Wake wake_;
  std::mutex mu_;
  std::vector<Item> items_;
  bool scheduled_ = false;
};

}  // namespace tandem::frontend
