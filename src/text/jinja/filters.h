// Jinja2's built-in filters as HF's environment has them (tojson replaced by
// HF's json.dumps-based one). Semantics follow jinja2 3.1's filters.py:
// string filters stringify their input first (undefined -> ""), select/map
// and friends return one-shot generators, sort/dictsort are stable.
#pragma once

#include <string>
#include <string_view>

#include "text/jinja/call_args.h"
#include "text/jinja/value.h"

namespace tandem::text::jinja {

class Interpreter;

bool is_filter(std::string_view name);
Value apply_filter(Interpreter& interp, const std::string& name, const Value& input, CallArgs args);

}  // namespace tandem::text::jinja
