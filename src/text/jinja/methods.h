// Python methods Jinja templates call on values: str (startswith, split,
// strip, format, ...), dict (items, keys, values, get) and list (index,
// count). Mutating methods (list.append, dict.update, ...) are "unsafe", as
// in HF's ImmutableSandboxedEnvironment: looking them up yields an undefined
// whose use fails with "access to attribute 'append' of 'list' object is
// unsafe.".
#pragma once

#include <string>

#include "text/jinja/call_args.h"
#include "text/jinja/value.h"

namespace tandem::text::jinja {

class Interpreter;

enum class MethodKind { kNone, kSafe, kUnsafe };

MethodKind method_kind(const Value& self, const std::string& name);
// Calls a kSafe method; fails like Python on bad arguments.
Value call_method(Interpreter& interp, const Value& self, const std::string& name, CallArgs args);

}  // namespace tandem::text::jinja
