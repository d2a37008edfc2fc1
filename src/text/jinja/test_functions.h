// Jinja2's built-in tests (`x is defined`, `x is string`, `x is divisibleby
// 3`, `x is eq 2`, ...), with jinja2 3.1's exact semantics, including its
// quirks on undefined values (undefined `is iterable` and `is sequence`).
#pragma once

#include <string>
#include <string_view>

#include "text/jinja/call_args.h"
#include "text/jinja/value.h"

namespace tandem::text::jinja {

class Interpreter;

bool is_test(std::string_view name);
bool apply_test(Interpreter& interp, const std::string& name, const Value& input, const CallArgs& args);

}  // namespace tandem::text::jinja
