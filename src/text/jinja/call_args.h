// jinja::CallArgs and ArgBinder: evaluated call arguments and Python-style
// binding of them to named parameters (for filters, tests, methods, globals).
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace tandem::text::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Binds positional then keyword arguments to `params` (in order). Fails like
// Python on too many positionals, unknown or duplicate keywords.
class ArgBinder {
 public:
  ArgBinder(const std::string& function, std::initializer_list<const char*> params, const CallArgs& args);

  bool has(size_t i) const { return provided_[i]; }
  const Value& get(size_t i) const { return values_[i]; }
  Value get_or(size_t i, Value fallback) const { return provided_[i] ? values_[i] : std::move(fallback); }

 private:
  std::vector<Value> values_;
  std::vector<bool> provided_;
};

}  // namespace tandem::text::jinja
