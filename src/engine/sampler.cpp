// engine::sample (sampling.h). Order of operations, as vLLM's v1 sampler:
//   0. the allowed-token mask (constrained decoding): disallowed ids -inf in
//      the "raw" logits, as vLLM applies its grammar bitmask before sampling;
//   1. raw logprobs (log-softmax of the model's logits) when asked;
//   2. logit_bias added, `suppressed` ids set to -inf;
//   3. penalties: repetition (prompt + output: positive logits divided,
//      negative multiplied), then frequency (x count) and presence (once),
//      both over output tokens (OpenAI semantics);
//   4. temperature 0: argmax (lowest id on ties); else divide by temperature,
//      then min_p, top_k, top_p filters, then one draw from the remaining
//      distribution with a counter-based uniform of (seed, output.size()).
// Ids out of [0, vocab) in bias, suppressed, prompt or output are ignored. NaN
// logits count as -inf. If every token is filtered out (e.g. all suppressed),
// the argmax of the raw logits is returned rather than failing.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/check.h"
#include "engine/sampler_distribution.h"
#include "engine/sampler_rng.h"
#include "engine/sampling.h"

namespace tandem::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kGreedyEpsilon = 1e-5f;  // vLLM treats smaller temperatures as greedy

struct Candidate {
  float logit;
  int32_t id;
};

// Descending logit, then ascending id: a total order, so results never depend
// on the sort algorithm.
bool better(const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

int32_t argmax(const std::vector<float>& v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

// The row's logits with NaN as -inf and, under a mask, disallowed ids -inf.
std::vector<float> masked_logits(const SampleInput& in) {
  std::vector<float> l(in.logits.begin(), in.logits.end());
  for (float& v : l) {
    if (std::isnan(v)) v = kNegInf;
  }
  if (!in.allowed.empty()) {
    for (size_t i = 0; i < l.size(); ++i) {
      if (!token_allowed(in.allowed, static_cast<int32_t>(i))) l[i] = kNegInf;
    }
  }
  return l;
}

// The lowest allowed id (any id without a mask), or kNoAllowedToken.
int32_t first_allowed(const SampleInput& in) {
  const int32_t vocab = static_cast<int32_t>(in.logits.size());
  if (in.allowed.empty()) return 0;
  for (int32_t i = 0; i < vocab; ++i) {
    if (token_allowed(in.allowed, i)) return i;
  }
  return kNoAllowedToken;
}

void fill_logprobs(std::span<const float> raw, int k, SampledToken& out) {
  const size_t n = raw.size();
  float m = kNegInf;
  for (float v : raw) {
    if (v > m) m = v;
  }
  double z = 0.0;
  for (float v : raw) {
    if (v > kNegInf) z += std::exp(static_cast<double>(v) - m);
  }
  const double lse = m + std::log(z);
  auto lp = [&](int32_t id) {
    const float v = raw[id];
    return std::isnan(v) ? kNegInf : static_cast<float>(static_cast<double>(v) - lse);
  };
  out.logprob = lp(out.token);
  const size_t kk = std::min(static_cast<size_t>(k), n);
  if (kk == 0) return;
  std::vector<Candidate> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = {std::isnan(raw[i]) ? kNegInf : raw[i], static_cast<int32_t>(i)};
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(kk), all.end(), better);
  out.top.reserve(kk);
  for (size_t i = 0; i < kk; ++i) out.top.push_back({all[i].id, lp(all[i].id)});
}

// Keeps the smallest prefix (in `better` order) whose probability mass reaches
// top_p: a candidate stays if the mass strictly before it is < top_p.
void apply_top_p(std::vector<Candidate>& c, float top_p, float max_logit) {
  double z = 0.0;
  for (const Candidate& x : c) z += std::exp(static_cast<double>(x.logit) - max_logit);
  size_t k = std::min<size_t>(64, c.size());
  for (;;) {
    std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(k), c.end(), better);
    double before = 0.0;
    for (size_t i = 0; i < k; ++i) {
      if (i > 0 && before / z >= top_p) {
        c.resize(i);
        return;
      }
      before += std::exp(static_cast<double>(c[i].logit) - max_logit);
    }
    if (k == c.size()) return;
    k = std::min(c.size(), k * 4);
  }
}

}  // namespace

std::vector<TokenProb> sampling_distribution(const SampleInput& in) {
  TANDEM_CHECK(in.params != nullptr);
  TANDEM_CHECK(!in.logits.empty());
  const SamplingParams& p = *in.params;
  const int32_t vocab = static_cast<int32_t>(in.logits.size());
  auto in_range = [vocab](int32_t id) { return id >= 0 && id < vocab; };

  const int32_t first = first_allowed(in);
  if (first == kNoAllowedToken) return {{kNoAllowedToken, 1.0}};
  const std::vector<float> raw = masked_logits(in);
  std::vector<float> l = raw;
  for (const auto& [id, bias] : p.logit_bias) {
    if (in_range(id)) l[id] += bias;
  }
  for (int32_t id : in.suppressed) {
    if (in_range(id)) l[id] = kNegInf;
  }

  if (p.repetition_penalty != 1.0f) {
    std::vector<int32_t> seen;
    seen.reserve(in.prompt.size() + in.output.size());
    for (int32_t id : in.prompt) {
      if (in_range(id)) seen.push_back(id);
    }
    for (int32_t id : in.output) {
      if (in_range(id)) seen.push_back(id);
    }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t id : seen) {
      l[id] = l[id] > 0.0f ? l[id] / p.repetition_penalty : l[id] * p.repetition_penalty;
    }
  }
  if (p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f) {
    std::vector<int32_t> out_ids;
    out_ids.reserve(in.output.size());
    for (int32_t id : in.output) {
      if (in_range(id)) out_ids.push_back(id);
    }
    std::sort(out_ids.begin(), out_ids.end());
    for (size_t i = 0; i < out_ids.size();) {
      size_t j = i;
      while (j < out_ids.size() && out_ids[j] == out_ids[i]) ++j;
      const float count = static_cast<float>(j - i);
      l[out_ids[i]] -= count * p.frequency_penalty + p.presence_penalty;
      i = j;
    }
  }

  const int32_t best = argmax(l);
  if (!(l[best] > kNegInf)) {
    // Everything filtered: the raw argmax (an allowed id under a mask; the
    // lowest allowed one when every allowed logit is -inf).
    const int32_t raw_best = argmax(raw);
    return {{raw[raw_best] > kNegInf ? raw_best : first, 1.0}};
  }
  if (!(p.temperature >= kGreedyEpsilon)) return {{best, 1.0}};

  const float inv_t = 1.0f / p.temperature;
  std::vector<Candidate> c;
  for (int32_t i = 0; i < vocab; ++i) {
    if (l[i] > kNegInf) c.push_back({l[i] * inv_t, i});
  }
  const float m = l[best] * inv_t;
  if (p.min_p > 0.0f) {
    // p_i >= min_p * p_max  <=>  exp(l_i - l_max) >= min_p; the most likely
    // token always stays (also for min_p > 1).
    std::erase_if(
        c, [&](const Candidate& x) { return x.logit < m && std::exp(static_cast<double>(x.logit) - m) < p.min_p; });
  }
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < c.size()) {
    std::vector<float> v(c.size());
    for (size_t i = 0; i < c.size(); ++i) v[i] = c[i].logit;
    std::nth_element(v.begin(), v.begin() + (p.top_k - 1), v.end(), std::greater<float>());
    const float kth = v[p.top_k - 1];  // ties with the k-th value are kept (as vLLM)
    std::erase_if(c, [&](const Candidate& x) { return x.logit < kth; });
  }
  if (p.top_p < 1.0f) {
    apply_top_p(c, p.top_p, m);
    std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.id < b.id; });
  }
  std::vector<TokenProb> dist(c.size());
  double z = 0.0;
  for (size_t i = 0; i < c.size(); ++i) {
    dist[i] = {c[i].id, std::exp(static_cast<double>(c[i].logit) - m)};
    z += dist[i].prob;
  }
  for (TokenProb& d : dist) d.prob /= z;
  return dist;
}

SampledToken sample(const SampleInput& in) {
  const std::vector<TokenProb> dist = sampling_distribution(in);
  SampledToken out;
  out.token = dist.back().token;
  if (out.token == kNoAllowedToken) return out;
  if (dist.size() > 1) {
    // Inverse CDF over the kept ids in id order.
    const double u = counter_uniform(in.seed, in.output.size());
    double cum = 0.0;
    for (const TokenProb& d : dist) {
      cum += d.prob;
      if (u < cum) {
        out.token = d.token;
        break;
      }
    }
  }
  if (in.params->logprobs >= 0) {
    if (in.allowed.empty()) {
      fill_logprobs(in.logits, in.params->logprobs, out);
    } else {
      const std::vector<float> raw = masked_logits(in);
      fill_logprobs(raw, in.params->logprobs, out);
    }
  }
  return out;
}

}  // namespace tandem::engine
