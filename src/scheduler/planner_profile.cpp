#include "scheduler/planner_profile.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <sstream>

namespace tandem::scheduler {
namespace {

// Index i of the segment [x[i], x[i+1]] used for `v` (the first or last one
// outside the range) and the weight of x[i+1]; one point: (0, 0).
std::pair<size_t, double> segment(const std::vector<double>& x, double v) {
  if (x.size() < 2) return {0, 0.0};
  if (v <= x.front()) return {0, 0.0};  // held at the first point below it
  size_t i = 0;
  while (i + 2 < x.size() && v > x[i + 1]) ++i;
  return {i, (v - x[i]) / (x[i + 1] - x[i])};
}

double interpolate(const std::vector<double>& x, const std::vector<double>& y, double v) {
  auto [i, w] = segment(x, v);
  if (x.size() < 2) return y[0];
  return y[i] + w * (y[i + 1] - y[i]);
}

Status bad(const std::string& where, const std::string& what) {
  return Status(ErrorKind::kMalformedFile, "planner profile: " + where + ": " + what);
}

Result<std::vector<double>> numbers(const boost::json::object& o, const char* key, const std::string& where,
                                    bool increasing) {
  const boost::json::value* v = o.if_contains(key);
  const std::string at = where + "." + key;
  if (!v || !v->is_array() || v->as_array().empty()) return bad(at, "expected a non-empty array of numbers");
  std::vector<double> out;
  for (const auto& e : v->as_array()) {
    if (!e.is_number()) return bad(at, "expected numbers");
    const double d = e.to_number<double>();
    if (!(d > 0)) return bad(at, "values must be > 0");
    if (increasing && !out.empty() && !(d > out.back())) return bad(at, "values must strictly increase");
    out.push_back(d);
  }
  return out;
}

Result<long long> integer(const boost::json::object& o, const char* key, const std::string& where, long long min,
                          long long fallback) {
  const boost::json::value* v = o.if_contains(key);
  if (!v) return fallback;
  if (!v->is_int64() && !v->is_uint64()) return bad(where + "." + key, "expected an integer");
  const long long n = v->is_int64() ? v->as_int64() : static_cast<long long>(v->as_uint64());
  if (n < min) return bad(where + "." + key, "must be >= " + std::to_string(min));
  return n;
}

Result<PlannerShape> parse_shape(const boost::json::value& v, const std::string& where) {
  if (!v.is_object()) return bad(where, "expected an object");
  const auto& o = v.as_object();
  PlannerShape s;
  const boost::json::value* name = o.if_contains("name");
  if (!name || !name->is_string() || name->as_string().empty()) return bad(where + ".name", "expected a string");
  s.name = std::string(name->as_string());
  auto mbt = integer(o, "max_batch_tokens", where, 1, 2048);
  if (!mbt) return mbt.status();
  auto mr = integer(o, "max_running", where, 1, 64);
  if (!mr) return mr.status();
  auto kv = integer(o, "kv_tokens", where, 0, 0);
  if (!kv) return kv.status();
  s.max_batch_tokens = static_cast<int>(*mbt);
  s.max_running = static_cast<int>(*mr);
  s.kv_tokens = *kv;

  const boost::json::value* pre = o.if_contains("prefill");
  if (!pre || !pre->is_object()) return bad(where + ".prefill", "expected an object");
  auto pt = numbers(pre->as_object(), "tokens", where + ".prefill", true);
  if (!pt) return pt.status();
  auto ps = numbers(pre->as_object(), "seconds", where + ".prefill", false);
  if (!ps) return ps.status();
  if (pt->size() != ps->size()) return bad(where + ".prefill", "tokens and seconds differ in length");
  s.prefill_tokens = std::move(*pt);
  s.prefill_s = std::move(*ps);

  const boost::json::value* dec = o.if_contains("decode");
  if (!dec || !dec->is_object()) return bad(where + ".decode", "expected an object");
  const auto& d = dec->as_object();
  auto db = numbers(d, "batch", where + ".decode", true);
  if (!db) return db.status();
  auto dc = numbers(d, "context", where + ".decode", true);
  if (!dc) return dc.status();
  s.decode_batch = std::move(*db);
  s.decode_context = std::move(*dc);
  const boost::json::value* sec = d.if_contains("seconds");
  const std::string at = where + ".decode.seconds";
  if (!sec || !sec->is_array() || sec->as_array().size() != s.decode_batch.size()) {
    return bad(at, "expected " + std::to_string(s.decode_batch.size()) + " rows (one per batch)");
  }
  for (size_t i = 0; i < s.decode_batch.size(); ++i) {
    const auto& row = sec->as_array()[i];
    const std::string rat = at + "[" + std::to_string(i) + "]";
    if (!row.is_array() || row.as_array().size() != s.decode_context.size()) {
      return bad(rat, "expected " + std::to_string(s.decode_context.size()) + " numbers (one per context)");
    }
    std::vector<double> r;
    for (const auto& e : row.as_array()) {
      if (!e.is_number() || !(e.to_number<double>() > 0)) return bad(rat, "expected numbers > 0");
      r.push_back(e.to_number<double>());
    }
    s.decode_s.push_back(std::move(r));
  }
  return s;
}

}  // namespace

double PlannerShape::prefill_seconds(double tokens) const {
  if (tokens <= 0) return 0.0;
  return std::max(0.0, interpolate(prefill_tokens, prefill_s, tokens));
}

double PlannerShape::decode_seconds(double batch, double ctx) const {
  if (batch <= 0) return 0.0;
  auto [bi, bw] = segment(decode_batch, batch);
  std::vector<double> at_ctx;  // each batch row at `ctx`
  for (const auto& row : decode_s) at_ctx.push_back(interpolate(decode_context, row, ctx));
  if (decode_batch.size() < 2) return std::max(0.0, at_ctx[0]);
  return std::max(0.0, at_ctx[bi] + bw * (at_ctx[bi + 1] - at_ctx[bi]));
}

double PlannerShape::prefill_tokens_per_s() const {
  const double s = prefill_seconds(max_batch_tokens);
  return s > 0 ? max_batch_tokens / s : 0.0;
}

const PlannerShape* PlannerProfile::find(std::string_view name) const {
  for (const auto& s : shapes) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Result<PlannerProfile> parse_planner_profile(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(json, ec);
  if (ec) return bad("JSON", ec.message());
  if (!root.is_object()) return bad("top level", "expected an object");
  const auto& o = root.as_object();
  const boost::json::value* version = o.if_contains("version");
  if (!version || !version->is_int64() || version->as_int64() != 1) return bad("version", "expected 1");
  const boost::json::value* shapes = o.if_contains("shapes");
  if (!shapes || !shapes->is_array() || shapes->as_array().empty()) return bad("shapes", "expected a non-empty array");
  PlannerProfile p;
  for (size_t i = 0; i < shapes->as_array().size(); ++i) {
    auto s = parse_shape(shapes->as_array()[i], "shapes[" + std::to_string(i) + "]");
    if (!s) return s.status();
    if (p.find(s->name)) return bad("shapes[" + std::to_string(i) + "].name", "duplicate name " + s->name);
    p.shapes.push_back(std::move(*s));
  }
  return p;
}

Result<PlannerProfile> load_planner_profile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorKind::kIo, "planner profile: cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto p = parse_planner_profile(ss.str());
  if (!p) return Status(ErrorKind::kMalformedFile, path + ": " + p.status().message());
  return p;
}

}  // namespace tandem::scheduler
