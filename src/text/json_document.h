// text::JsonValue: a small, strict JSON reader for tokenizer files
// (tokenizer.json, tokenizer_config.json). Kept inside text/ so the tokenizer
// does not depend on which translation unit compiles Boost.JSON.
//
// parse() accepts RFC 8259 JSON (UTF-8, \uXXXX escapes with surrogate pairs;
// a lone surrogate escape becomes U+FFFD), nesting up to kMaxDepth, and fails
// with kMalformedFile naming `name`, the line and the column. Never throws,
// never recurses without bound. Threading: values are plain data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tandem::text {

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  static constexpr int kMaxDepth = 128;

  static Result<JsonValue> parse(std::string_view text, const std::string& name);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool() const { return bool_; }
  double as_number() const { return number_; }
  // True and *out set when the value is an integer number in int64 range.
  bool as_int(int64_t* out) const;
  const std::string& as_string() const { return string_; }
  const std::vector<JsonValue>& items() const { return items_; }                           // array
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }  // object

  // Object member, or nullptr (also when this is not an object).
  const JsonValue* find(std::string_view key) const;

  static const char* type_name(Type t);

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

}  // namespace tandem::text
