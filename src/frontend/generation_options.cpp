#include "frontend/generation_options.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "frontend/json_fields.h"

namespace tandem::frontend {
namespace {

constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();

Status parse_stop(const boost::json::object& body, std::vector<std::string>& out) {
  auto it = body.find("stop");
  if (it == body.end() || it->value().is_null()) return {};
  const auto& v = it->value();
  if (v.is_string()) {
    if (v.get_string().empty()) return invalid_field("stop", "must not contain an empty string");
    out.emplace_back(v.get_string());
    return {};
  }
  if (!v.is_array()) return invalid_field("stop", "must be a string or an array of strings");
  for (const auto& s : v.get_array()) {
    if (!s.is_string()) return invalid_field("stop", "must be a string or an array of strings");
    if (s.get_string().empty()) return invalid_field("stop", "must not contain an empty string");
    out.emplace_back(s.get_string());
  }
  return {};
}

Status parse_stop_token_ids(const boost::json::object& body, std::vector<int64_t>& out) {
  auto it = body.find("stop_token_ids");
  if (it == body.end() || it->value().is_null()) return {};
  if (!it->value().is_array()) return invalid_field("stop_token_ids", "must be an array of integers");
  for (const auto& t : it->value().get_array()) {
    const auto id = t.is_bool() ? std::nullopt : as_integer(t);
    if (!id) return invalid_field("stop_token_ids", "must be an array of integers");
    out.push_back(*id);
  }
  return {};
}

Status parse_logit_bias(const boost::json::object& body, std::vector<std::pair<int64_t, float>>& out) {
  auto it = body.find("logit_bias");
  if (it == body.end() || it->value().is_null()) return {};
  if (!it->value().is_object()) {
    return invalid_field("logit_bias", "must be an object mapping token ids to numbers");
  }
  for (const auto& kv : it->value().get_object()) {
    const std::string_view key = kv.key();
    int64_t id = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || key.empty()) {
      return invalid_field("logit_bias", "keys must be token ids, got '" + std::string(key) + "'");
    }
    const auto& val = kv.value();
    if (val.is_bool() || !val.is_number()) {
      return invalid_field("logit_bias", "values must be numbers");
    }
    // OpenAI's range; vLLM clamps rather than refusing.
    const double bias = std::clamp(val.to_number<double>(), -100.0, 100.0);
    out.emplace_back(id, static_cast<float>(bias));
  }
  return {};
}

}  // namespace

Status parse_generation_options(const boost::json::object& body, ApiKind api, GenerationOptions& out) {
  std::optional<std::string> s;
  TANDEM_RETURN_IF_ERROR(read_string(body, "model", s));
  if (s) out.model = *s;
  s.reset();
  TANDEM_RETURN_IF_ERROR(read_string(body, "user", s));
  if (s) out.user = *s;
  s.reset();
  TANDEM_RETURN_IF_ERROR(read_string(body, "cache_salt", s));
  if (s && s->empty()) return invalid_field("cache_salt", "must be a non-empty string when given");
  if (s) out.cache_salt = *s;

  std::optional<int64_t> i;
  TANDEM_RETURN_IF_ERROR(read_int(body, "n", 1, kMaxChoices, i));
  if (i) out.n = static_cast<int>(*i);

  i.reset();
  TANDEM_RETURN_IF_ERROR(read_int(body, "max_tokens", 1, kIntMax, i));
  if (i) out.max_tokens = static_cast<int>(*i);
  if (api == ApiKind::kChat) {
    i.reset();
    TANDEM_RETURN_IF_ERROR(read_int(body, "max_completion_tokens", 1, kIntMax, i));
    if (i) out.max_tokens = static_cast<int>(*i);
  }

  std::optional<double> d;
  TANDEM_RETURN_IF_ERROR(read_number(body, "temperature", d));
  if (d && *d < 0) return invalid_field("temperature", "must be non-negative, got " + std::to_string(*d));
  out.temperature = d;

  d.reset();
  TANDEM_RETURN_IF_ERROR(read_number(body, "top_p", d));
  if (d && (*d <= 0 || *d > 1)) return invalid_field("top_p", "must be in (0, 1], got " + std::to_string(*d));
  out.top_p = d;

  i.reset();
  TANDEM_RETURN_IF_ERROR(read_int(body, "top_k", -1, kIntMax, i));
  if (i) out.top_k = static_cast<int>(*i);

  d.reset();
  TANDEM_RETURN_IF_ERROR(read_number(body, "min_p", d));
  if (d && (*d < 0 || *d > 1)) return invalid_field("min_p", "must be in [0, 1], got " + std::to_string(*d));
  out.min_p = d;

  for (const char* key : {"presence_penalty", "frequency_penalty"}) {
    d.reset();
    TANDEM_RETURN_IF_ERROR(read_number(body, key, d));
    if (d && (*d < -2 || *d > 2)) return invalid_field(key, "must be in [-2, 2], got " + std::to_string(*d));
    if (d) (key[0] == 'p' ? out.presence_penalty : out.frequency_penalty) = *d;
  }

  d.reset();
  TANDEM_RETURN_IF_ERROR(read_number(body, "repetition_penalty", d));
  if (d && *d <= 0) {
    return invalid_field("repetition_penalty", "must be greater than zero, got " + std::to_string(*d));
  }
  out.repetition_penalty = d;

  TANDEM_RETURN_IF_ERROR(parse_logit_bias(body, out.logit_bias));

  i.reset();
  TANDEM_RETURN_IF_ERROR(
      read_int(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), i));
  out.seed = i;

  TANDEM_RETURN_IF_ERROR(parse_stop(body, out.stop));
  TANDEM_RETURN_IF_ERROR(parse_stop_token_ids(body, out.stop_token_ids));

  std::optional<bool> b;
  TANDEM_RETURN_IF_ERROR(read_bool(body, "ignore_eos", b));
  out.ignore_eos = b.value_or(false);

  i.reset();
  TANDEM_RETURN_IF_ERROR(read_int(body, "min_tokens", 0, kIntMax, i));
  out.min_tokens = i ? static_cast<int>(*i) : 0;
  if (out.max_tokens && out.min_tokens > *out.max_tokens) {
    return invalid_field("min_tokens", "must be less than or equal to max_tokens (" + std::to_string(*out.max_tokens) +
                                           "), got " + std::to_string(out.min_tokens));
  }

  if (api == ApiKind::kChat) {
    b.reset();
    TANDEM_RETURN_IF_ERROR(read_bool(body, "logprobs", b));
    i.reset();
    TANDEM_RETURN_IF_ERROR(read_int(body, "top_logprobs", 0, kMaxLogprobs, i));
    if (i && !b.value_or(false)) {
      return invalid_field("top_logprobs", "requires 'logprobs' to be true");
    }
    if (b.value_or(false)) out.logprobs = static_cast<int>(i.value_or(0));
  } else {
    i.reset();
    TANDEM_RETURN_IF_ERROR(read_int(body, "logprobs", 0, kMaxLogprobs, i));
    if (i) out.logprobs = static_cast<int>(*i);
    b.reset();
    TANDEM_RETURN_IF_ERROR(read_bool(body, "echo", b));
    out.echo = b.value_or(false);
  }

  b.reset();
  TANDEM_RETURN_IF_ERROR(read_bool(body, "stream", b));
  out.stream = b.value_or(false);
  auto so = body.find("stream_options");
  if (so != body.end() && !so->value().is_null()) {
    if (!out.stream) return invalid_field("stream_options", "is only allowed when 'stream' is true");
    if (!so->value().is_object()) return invalid_field("stream_options", "must be an object");
    b.reset();
    Status st = read_bool(so->value().get_object(), "include_usage", b);
    if (!st.ok()) return invalid_field("stream_options", "include_usage must be a boolean");
    out.include_usage = b.value_or(false);
    b.reset();
    st = read_bool(so->value().get_object(), "continuous_usage_stats", b);
    if (!st.ok()) return invalid_field("stream_options", "continuous_usage_stats must be a boolean");
    out.continuous_usage_stats = out.include_usage && b.value_or(false);
  }

  b.reset();
  TANDEM_RETURN_IF_ERROR(read_bool(body, "include_stop_str_in_output", b));
  out.include_stop_str_in_output = b.value_or(false);
  b.reset();
  TANDEM_RETURN_IF_ERROR(read_bool(body, "skip_special_tokens", b));
  out.skip_special_tokens = b.value_or(true);
  return parse_structured_output(body, out.structured);
}

}  // namespace tandem::frontend
