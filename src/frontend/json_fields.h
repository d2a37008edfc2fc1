// Typed reads of optional request fields from a Boost.JSON object, with 400
// errors that name the field (OpenAI `param`). A missing key or JSON null
// leaves the output untouched (the field is unset). Numbers given as integral
// floats (5.0) are accepted where integers are expected, as pydantic does.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "common/status.h"

namespace tandem::frontend {

Status invalid_field(std::string_view field, std::string_view what);

// The JSON type name used in messages ("a string", "an array", ...).
const char* json_kind_name(const boost::json::value& v);

Status read_bool(const boost::json::object& o, std::string_view key, std::optional<bool>& out);
Status read_string(const boost::json::object& o, std::string_view key, std::optional<std::string>& out);
// Integers in [lo, hi].
Status read_int(const boost::json::object& o, std::string_view key, int64_t lo, int64_t hi,
                std::optional<int64_t>& out);
// Any finite number (range checks are the caller's, with messages of their own).
Status read_number(const boost::json::object& o, std::string_view key, std::optional<double>& out);

// Integer value of a JSON number that is integral; nullopt otherwise.
std::optional<int64_t> as_integer(const boost::json::value& v);

}  // namespace tandem::frontend
