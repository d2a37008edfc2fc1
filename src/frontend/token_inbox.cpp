#include "frontend/token_inbox.h"

#include <utility>

namespace tandem::frontend {

void TokenInbox::push(int choice, scheduler::TokenEvent&& event) {
  const auto now = std::chrono::steady_clock::now();
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    items_.push_back(Item{choice, std::move(event), now});
    if (!scheduled_) {
      scheduled_ = true;
      wake = true;
    }
  }
  if (wake) wake_();
}

scheduler::TokenSink TokenInbox::sink(int choice) {
  return [self = shared_from_this(), choice](scheduler::TokenEvent&& event) { self->push(choice, std::move(event)); };
}

void TokenInbox::take(std::vector<Item>& out) {
  out.clear();
  std::lock_guard lock(mu_);
  out.swap(items_);
  scheduled_ = false;
}

}  // namespace tandem::frontend
