// Conversions between boost::json and jinja::Value, and Python's json.dumps
// as HF's `tojson` filter calls it (ensure_ascii=False, sort_keys=False, the
// default separators ", " / ": " or "," / ": " with an indent).
#pragma once

#include <optional>
#include <string>

#include <boost/json/value.hpp>

#include "text/jinja/value.h"

namespace tandem::text::jinja {

// JSON -> Value. Objects keep their key order. Integers beyond int64 become
// floats. Fails (TemplateError) on nesting deeper than kMaxJsonDepth.
inline constexpr int kMaxJsonDepth = 256;
Value from_json(const boost::json::value& json);

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // none: single line
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// json.dumps(value, ...); fails like Python for values JSON cannot hold
// ("Object of type Undefined is not JSON serializable").
std::string dump_json(const Value& value, const JsonDumpOptions& options);

}  // namespace tandem::text::jinja
