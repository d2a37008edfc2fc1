#include "frontend/response_store.h"

#include <boost/json/serialize.hpp>

namespace tandem::frontend {

void ResponseStore::put(const std::string& id, boost::json::array conversation) {
  const size_t bytes = boost::json::serialize(conversation).size() + id.size();
  if (bytes > max_bytes_ || max_entries_ == 0) return;
  auto shared = std::make_shared<const boost::json::array>(std::move(conversation));
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(id); it != entries_.end()) {
    bytes_ -= it->second.bytes;
    it->second = Entry{std::move(shared), bytes};
    bytes_ += bytes;
  } else {
    entries_.emplace(id, Entry{std::move(shared), bytes});
    order_.push_back(id);
    bytes_ += bytes;
  }
  while (!order_.empty() && (entries_.size() > max_entries_ || bytes_ > max_bytes_)) {
    auto it = entries_.find(order_.front());
    bytes_ -= it->second.bytes;
    entries_.erase(it);
    order_.pop_front();
  }
}

std::shared_ptr<const boost::json::array> ResponseStore::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second.conversation;
}

size_t ResponseStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace tandem::frontend
