#include "text/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace tandem::text {

StopMatcher::StopMatcher(std::vector<std::string> stops, bool include_stop) : include_stop_(include_stop) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

bool StopMatcher::push(std::string_view text, std::string& out) {
  if (stopped_) return false;
  if (stops_.empty()) {
    out.append(text);
    return false;
  }
  held_.append(text);

  // Earliest full match (longest on a tie).
  size_t best_pos = std::string::npos;
  const std::string* best = nullptr;
  for (const auto& s : stops_) {
    const size_t pos = held_.find(s);
    if (pos == std::string::npos) continue;
    if (pos < best_pos || (pos == best_pos && s.size() > best->size())) {
      best_pos = pos;
      best = &s;
    }
  }
  if (best != nullptr) {
    out.append(held_, 0, best_pos + (include_stop_ ? best->size() : 0));
    matched_ = *best;
    stopped_ = true;
    held_.clear();
    return true;
  }

  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_) {
    const size_t max_len = std::min(s.size() - 1, held_.size());
    for (size_t len = max_len; len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) == std::string_view(s).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  const size_t emit = held_.size() - keep;
  out.append(held_, 0, emit);
  held_.erase(0, emit);
  return false;
}

void StopMatcher::finish(std::string& out) {
  if (stopped_) return;
  out += held_;
  held_.clear();
}

}  // namespace tandem::text
