// Small helpers for writing JSON text directly into a std::string, used on
// the streaming hot path where building a DOM per token would be wasteful.
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::frontend {

// Appends `s` as a quoted JSON string. `s` should be valid UTF-8 (it is copied
// byte for byte; only '"', '\\' and control characters are escaped).
void append_json_string(std::string& out, std::string_view s);

// Appends a number in the shortest form that reads back exactly; NaN and
// infinities (not JSON) are written as null.
void append_json_number(std::string& out, double v);
void append_json_int(std::string& out, int64_t v);

}  // namespace tandem::frontend
