// frontend::ResponseStore: the conversations of finished Responses API
// requests (POST /v1/responses with `store` true, the default), kept in memory
// so that a later request's `previous_response_id` continues them.
//
// Each entry is the whole conversation as chat messages (the input items of
// every turn, then the turn's output as an assistant message; `instructions`
// are not kept, as OpenAI does not carry them over). Bounded: past
// max_entries or max_bytes (the entries' JSON size) the oldest entries go
// first, so a long-gone id is "not found" like an unknown one. Nothing
// survives a restart.
//
// Threading: every method is thread-safe (one mutex, held briefly).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/json/array.hpp>

namespace tandem::frontend {

class ResponseStore {
 public:
  static constexpr size_t kDefaultMaxEntries = 4096;
  static constexpr size_t kDefaultMaxBytes = size_t{64} << 20;

  explicit ResponseStore(size_t max_entries = kDefaultMaxEntries, size_t max_bytes = kDefaultMaxBytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // Keeps `conversation` under `id` (an entry larger than max_bytes is not kept).
  void put(const std::string& id, boost::json::array conversation);
  // The conversation of `id`, or null when unknown or evicted.
  std::shared_ptr<const boost::json::array> get(const std::string& id) const;

  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const boost::json::array> conversation;
    size_t bytes = 0;
  };
  const size_t max_entries_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // oldest first
  size_t bytes_ = 0;
};

}  // namespace tandem::frontend
