// jinja::Callable and jinja::LoopState: the function-like values a template
// can hold (macros, built-in globals, bound methods) and the state behind the
// `loop` variable of a for statement. Owned by Values of one render.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "text/jinja/value.h"

namespace tandem::text::jinja {

namespace ast {
struct Stmt;
}  // namespace ast
class Scope;

enum class Builtin {
  kRange,
  kNamespace,
  kDict,
  kRaiseException,
  kStrftimeNow,
  kJoiner,
  kCycler,
  kLoopCycle,    // loop.cycle(...)
  kLoopChanged,  // loop.changed(...)
  kJoinerCall,   // a joiner() instance
  kCaller,       // `caller` inside a macro invoked from {% call %}
};

struct Callable {
  enum class Kind { kMacro, kBuiltin, kMethod };
  Kind kind = Kind::kBuiltin;
  std::string name;                      // macro/global name, or the method name
  const ast::Stmt* macro = nullptr;      // kMacro (and kCaller): the definition node
  std::shared_ptr<const Scope> closure;  // kMacro/kCaller: scope the macro was defined in
  Builtin builtin = Builtin::kRange;
  Value self;                    // kMethod: the object; joiner/loop state for some builtins
  std::shared_ptr<Value> state;  // mutable state (joiner used, changed() last value)
};

struct LoopState {
  int depth = 1;  // value nesting of the items (see kMaxValueDepth)
  std::shared_ptr<const std::vector<Value>> items;
  int64_t index0 = 0;
  int64_t depth0 = 0;
  std::shared_ptr<Value> changed_last = std::make_shared<Value>();  // loop.changed() memory
};

}  // namespace tandem::text::jinja
