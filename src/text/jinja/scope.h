// jinja::Scope: one frame of template variables (the template's top level, a
// for-loop iteration, a macro call, a with/set block). Lookups walk the parent
// chain; assignments always land in the scope itself (Jinja's rule: a `set`
// inside a loop body never changes the variable outside the loop).
// Shared because macros keep the scope they were defined in.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace tandem::text::jinja {

class Scope {
 public:
  explicit Scope(std::shared_ptr<const Scope> parent = nullptr) : parent_(std::move(parent)) {}

  const Value* lookup(std::string_view name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent_.get()) {
      for (const auto& [k, v] : s->vars_) {
        if (k == name) return &v;
      }
    }
    return nullptr;
  }

  // Drops every variable (breaks reference cycles at the end of a render).
  void clear() { vars_.clear(); }

  void set(std::string_view name, Value value) {
    for (auto& [k, v] : vars_) {
      if (k == name) {
        v = std::move(value);
        return;
      }
    }
    vars_.emplace_back(std::string(name), std::move(value));
  }

 private:
  std::shared_ptr<const Scope> parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};

}  // namespace tandem::text::jinja
