#include "frontend/json_fields.h"

#include <cmath>
#include <string>

#include <boost/json/object.hpp>

namespace tandem::frontend {

Status invalid_field(std::string_view field, std::string_view what) {
  std::string msg = "'";
  msg += field;
  msg += "' ";
  msg += what;
  return Status(ErrorKind::kInvalidRequest, std::move(msg), std::string(field));
}

const char* json_kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "an integer";
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "a value";
}

namespace {

const boost::json::value* find(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

Status wrong_type(std::string_view key, const char* want, const boost::json::value& v) {
  std::string what = "must be ";
  what += want;
  what += ", got ";
  what += json_kind_name(v);
  return invalid_field(key, what);
}

}  // namespace

std::optional<int64_t> as_integer(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

Status read_bool(const boost::json::object& o, std::string_view key, std::optional<bool>& out) {
  const auto* v = find(o, key);
  if (v == nullptr) return {};
  if (!v->is_bool()) return wrong_type(key, "a boolean", *v);
  out = v->get_bool();
  return {};
}

Status read_string(const boost::json::object& o, std::string_view key, std::optional<std::string>& out) {
  const auto* v = find(o, key);
  if (v == nullptr) return {};
  if (!v->is_string()) return wrong_type(key, "a string", *v);
  out = std::string(v->get_string());
  return {};
}

Status read_int(const boost::json::object& o, std::string_view key, int64_t lo, int64_t hi,
                std::optional<int64_t>& out) {
  const auto* v = find(o, key);
  if (v == nullptr) return {};
  if (v->is_bool() || !v->is_number()) return wrong_type(key, "an integer", *v);
  const auto i = as_integer(*v);
  if (!i) return invalid_field(key, "must be an integer");
  if (*i < lo || *i > hi) {
    return invalid_field(
        key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(*i));
  }
  out = *i;
  return {};
}

Status read_number(const boost::json::object& o, std::string_view key, std::optional<double>& out) {
  const auto* v = find(o, key);
  if (v == nullptr) return {};
  if (v->is_bool() || !v->is_number()) return wrong_type(key, "a number", *v);
  const double d = v->to_number<double>();
  if (!std::isfinite(d)) return invalid_field(key, "must be a finite number");
  out = d;
  return {};
}

}  // namespace tandem::frontend
