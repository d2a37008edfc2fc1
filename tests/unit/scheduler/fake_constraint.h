// A test-only scheduler::TokenConstraint: position k of the output may be any
// id of allowed_at[k] (an empty set = a dead end: no token allowed); after the
// last position the output is complete: finished() at once, or, with
// `end_ids`, only those ids (EOS) are allowed next and accepting one finishes.
// Counts its calls so tests can see when masks were filled.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling.h"
#include "scheduler/token_constraint.h"

namespace tandem::scheduler::testing {

class FakeConstraint final : public TokenConstraint {
 public:
  explicit FakeConstraint(std::vector<std::vector<int32_t>> allowed_at, std::vector<int32_t> end_ids = {})
      : allowed_at_(std::move(allowed_at)), end_ids_(std::move(end_ids)) {}

  bool fill_next_token_mask(std::span<uint32_t> mask) override {
    ++fills;
    bool any = false;
    for (int32_t t : next_allowed()) {
      if (static_cast<size_t>(t) / 32 >= mask.size()) continue;
      mask[static_cast<size_t>(t) / 32] |= 1u << (static_cast<uint32_t>(t) % 32);
      any = true;
    }
    return any;
  }
  bool accept(int32_t token) override {
    const std::vector<int32_t> next = next_allowed();
    if (std::find(next.begin(), next.end(), token) == next.end()) {
      ++refused;
      return false;
    }
    accepted.push_back(token);
    if (pos_ >= allowed_at_.size()) ended_ = true;  // an end id
    ++pos_;
    return true;
  }
  void rollback(int n_tokens) override {
    for (int i = 0; i < n_tokens && !accepted.empty(); ++i) {
      accepted.pop_back();
      --pos_;
      ended_ = false;
    }
  }
  bool finished() const override { return ended_ || (end_ids_.empty() && pos_ >= allowed_at_.size()); }

  int fills = 0;
  int refused = 0;
  std::vector<int32_t> accepted;

 private:
  std::vector<int32_t> next_allowed() const {
    if (pos_ < allowed_at_.size()) return allowed_at_[pos_];
    return ended_ ? std::vector<int32_t>{} : end_ids_;
  }
  std::vector<std::vector<int32_t>> allowed_at_;
  std::vector<int32_t> end_ids_;
  size_t pos_ = 0;
  bool ended_ = false;
};

}  // namespace tandem::scheduler::testing
