#include "frontend/request_id.h"

#include <random>

namespace tandem::frontend {

namespace {

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
  return rng;
}

}  // namespace

std::string make_tool_call_id(bool mistral) {
  static constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<size_t> pick(0, kAlnum.size() - 1);
  std::string id = mistral ? "" : "call_";
  const int n = mistral ? 9 : 24;
  for (int i = 0; i < n; ++i) id.push_back(kAlnum[pick(thread_rng())]);
  return id;
}

std::string make_request_id(std::string_view prefix) {
  auto& rng = thread_rng();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(prefix.size() + 25);
  id.append(prefix);
  id.push_back('-');
  for (int word = 0; word < 2; ++word) {
    uint64_t r = rng();
    for (int i = 0; i < (word == 0 ? 16 : 8); ++i) {
      id.push_back(kHex[r & 15]);
      r >>= 4;
    }
  }
  return id;
}

}  // namespace tandem::frontend
