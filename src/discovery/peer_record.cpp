#include "discovery/peer_record.h"

#include <cstdio>
#include <optional>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace tandem::discovery {
namespace {

namespace json = boost::json;

constexpr size_t kMaxModels = 256;
constexpr size_t kMaxNames = 64;

Status malformed(const std::string& what) { return Status(ErrorKind::kMalformedFile, what); }

std::optional<int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v.get_uint64());
  return std::nullopt;
}

// The field `key` of `obj` as an integer in [lo, hi].
Result<int64_t> int_field(const json::object& obj, const char* key, int64_t lo, int64_t hi) {
  const json::value* v = obj.if_contains(key);
  if (!v) return malformed(std::string("missing field \"") + key + "\"");
  const auto i = as_int(*v);
  if (!i || *i < lo || *i > hi) {
    return malformed(std::string("field \"") + key + "\": expected an integer in " + std::to_string(lo) + ".." +
                     std::to_string(hi));
  }
  return *i;
}

Result<std::string> string_field(const json::object& obj, const char* key, size_t max_len) {
  const json::value* v = obj.if_contains(key);
  if (!v) return malformed(std::string("missing field \"") + key + "\"");
  if (!v->is_string() || v->get_string().size() > max_len) {
    return malformed(std::string("field \"") + key + "\": expected a string of at most " + std::to_string(max_len) +
                     " bytes");
  }
  return std::string(v->get_string());
}

Result<std::vector<std::string>> strings_field(const json::object& obj, const char* key, bool required) {
  std::vector<std::string> out;
  const json::value* v = obj.if_contains(key);
  if (!v) {
    if (required) return malformed(std::string("missing field \"") + key + "\"");
    return out;
  }
  if (!v->is_array() || v->get_array().size() > kMaxNames) {
    return malformed(std::string("field \"") + key + "\": expected an array of at most " + std::to_string(kMaxNames) +
                     " strings");
  }
  for (const json::value& s : v->get_array()) {
    if (!s.is_string() || s.get_string().empty() || s.get_string().size() > 256) {
      return malformed(std::string("field \"") + key + "\": expected non-empty strings of at most 256 bytes");
    }
    out.emplace_back(s.get_string());
  }
  return out;
}

Result<ModelLoad> parse_model(const json::value& v, size_t index) {
  const std::string where = "models[" + std::to_string(index) + "]";
  if (!v.is_object()) return malformed(where + ": expected an object");
  const json::object& o = v.get_object();
  ModelLoad m;
  auto name = string_field(o, "name", 256);
  if (!name.ok()) return malformed(where + ": " + name.status().message());
  if (name->empty()) return malformed(where + ": field \"name\": expected a non-empty string");
  m.name = std::move(name).value();
  auto aliases = strings_field(o, "aliases", false);
  if (!aliases.ok()) return malformed(where + ": " + aliases.status().message());
  m.aliases = std::move(aliases).value();
  constexpr int64_t kBig = int64_t{1} << 40;
  struct IntField {
    const char* key;
    int64_t* out;
  };
  for (const IntField& f :
       {IntField{"max_context", &m.max_context}, IntField{"capacity", &m.capacity}, IntField{"max_queue", &m.max_queue},
        IntField{"waiting", &m.waiting}, IntField{"running", &m.running}}) {
    auto i = int_field(o, f.key, 0, kBig);
    if (!i.ok()) return malformed(where + ": " + i.status().message());
    *f.out = *i;
  }
  const json::value* kv = o.if_contains("kv_usage");
  if (!kv || !kv->is_number()) return malformed(where + ": field \"kv_usage\": expected a number in 0..1");
  const double usage = kv->to_number<double>();
  if (!(usage >= 0.0 && usage <= 1.0)) return malformed(where + ": field \"kv_usage\": expected a number in 0..1");
  m.kv_usage = usage;
  return m;
}

}  // namespace

const ModelLoad* PeerRecord::find_model(std::string_view name) const {
  for (const ModelLoad& m : models) {
    if (m.name == name) return &m;
    for (const std::string& a : m.aliases) {
      if (a == name) return &m;
    }
  }
  return nullptr;
}

std::string peer_key_hash(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  mix("tandem-peer-key/1:");
  mix(key);
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || id.front() == '.') return false;
  for (char c : id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<HostPort> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status(ErrorKind::kInvalidRequest,
                  "expected an http:// URL (http://host:port), got \"" + std::string(url) + "\"");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('@') != std::string_view::npos) {
    return Status(ErrorKind::kInvalidRequest,
                  "expected http://host:port without a path or user, got \"" + std::string(url) + "\"");
  }
  HostPort hp;
  size_t colon;
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status(ErrorKind::kInvalidRequest, "unterminated IPv6 address in \"" + std::string(url) + "\"");
    }
    hp.host = std::string(rest.substr(1, close - 1));
    colon = close + 1 < rest.size() && rest[close + 1] == ':' ? close + 1 : std::string_view::npos;
  } else {
    colon = rest.rfind(':');
    hp.host = std::string(rest.substr(0, colon));
  }
  hp.port = colon == std::string_view::npos ? "80" : std::string(rest.substr(colon + 1));
  if (hp.host.empty()) return Status(ErrorKind::kInvalidRequest, "no host in \"" + std::string(url) + "\"");
  if (hp.port.empty() || hp.port.size() > 5) {
    return Status(ErrorKind::kInvalidRequest, "expected a port in 1..65535 in \"" + std::string(url) + "\"");
  }
  int port = 0;
  for (char c : hp.port) {
    if (c < '0' || c > '9') {
      return Status(ErrorKind::kInvalidRequest, "expected a port in 1..65535 in \"" + std::string(url) + "\"");
    }
    port = port * 10 + (c - '0');
  }
  if (port < 1 || port > 65535) {
    return Status(ErrorKind::kInvalidRequest, "expected a port in 1..65535 in \"" + std::string(url) + "\"");
  }
  return hp;
}

std::string encode_record(const PeerRecord& r) {
  json::object root;
  root["schema"] = kSchemaVersion;
  root["id"] = r.id;
  root["url"] = r.url;
  root["version"] = r.version;
  root["key_hash"] = r.key_hash;
  root["updated_ms"] = r.updated_ms;
  root["ttl_s"] = r.ttl_s;
  root["seq"] = r.seq;
  json::array roles;
  for (const auto& role : r.roles) roles.emplace_back(role);
  root["roles"] = std::move(roles);
  json::array models;
  for (const ModelLoad& m : r.models) {
    json::object o;
    o["name"] = m.name;
    json::array aliases;
    for (const auto& a : m.aliases) aliases.emplace_back(a);
    o["aliases"] = std::move(aliases);
    o["max_context"] = m.max_context;
    o["capacity"] = m.capacity;
    o["max_queue"] = m.max_queue;
    o["waiting"] = m.waiting;
    o["running"] = m.running;
    o["kv_usage"] = m.kv_usage;
    models.emplace_back(std::move(o));
  }
  root["models"] = std::move(models);
  return json::serialize(root) + "\n";
}

Result<PeerRecord> parse_record(std::string_view text, std::string_view expected_key_hash) {
  boost::system::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return malformed("not JSON: " + ec.message());
  if (!root.is_object()) return malformed("expected a JSON object");
  const json::object& o = root.get_object();
  auto schema = int_field(o, "schema", 0, INT64_MAX);
  if (!schema.ok()) return schema.status();
  if (*schema != kSchemaVersion) {
    return Status(ErrorKind::kUnsupported, "schema " + std::to_string(*schema) + " (this version reads schema " +
                                               std::to_string(kSchemaVersion) + ")");
  }
  PeerRecord r;
  auto key_hash = string_field(o, "key_hash", 64);
  if (!key_hash.ok()) return key_hash.status();
  r.key_hash = std::move(key_hash).value();
  if (r.key_hash != expected_key_hash) {
    return Status(ErrorKind::kUnauthorized, "written with another peer_key (key_hash " + r.key_hash + ")");
  }
  auto id = string_field(o, "id", 128);
  if (!id.ok()) return id.status();
  if (!valid_id(*id)) return malformed("field \"id\": expected 1..128 characters of A-Z a-z 0-9 . _ - (not first .)");
  r.id = std::move(id).value();
  auto url = string_field(o, "url", 1024);
  if (!url.ok()) return url.status();
  if (auto hp = parse_http_url(*url); !hp.ok()) return malformed("field \"url\": " + hp.status().message());
  r.url = std::move(url).value();
  auto version = string_field(o, "version", 128);
  if (!version.ok()) return version.status();
  r.version = std::move(version).value();
  auto updated = int_field(o, "updated_ms", 0, INT64_MAX / 2);
  if (!updated.ok()) return updated.status();
  r.updated_ms = *updated;
  auto ttl = int_field(o, "ttl_s", 1, 86400);
  if (!ttl.ok()) return ttl.status();
  r.ttl_s = *ttl;
  auto seq = int_field(o, "seq", 0, INT64_MAX);
  if (!seq.ok()) return seq.status();
  r.seq = *seq;
  auto roles = strings_field(o, "roles", true);
  if (!roles.ok()) return roles.status();
  r.roles = std::move(roles).value();
  const json::value* models = o.if_contains("models");
  if (!models || !models->is_array() || models->get_array().size() > kMaxModels) {
    return malformed("field \"models\": expected an array of at most " + std::to_string(kMaxModels) + " models");
  }
  const json::array& arr = models->get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    auto m = parse_model(arr[i], i);
    if (!m.ok()) return m.status();
    r.models.push_back(std::move(m).value());
  }
  return r;
}

}  // namespace tandem::discovery
