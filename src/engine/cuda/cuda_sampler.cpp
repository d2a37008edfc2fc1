#include "engine/cuda/cuda_sampler.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/token_mask_kernels.h"
#include "engine/sampler_rng.h"

namespace tandem::engine::cuda {
namespace {

size_t align_up(size_t n) { return (n + 255) & ~size_t{255}; }

// Byte offsets inside the upload buffer for `rows` rows and `tokens` tokens.
struct UploadLayout {
  size_t rows = 0, tokens = 0, bias = 0, total = 0;
  UploadLayout(int64_t n_rows, int64_t n_tokens) {
    rows = 0;
    tokens = align_up(static_cast<size_t>(n_rows) * sizeof(SampleRowSpec));
    bias = tokens + align_up(static_cast<size_t>(n_tokens) * sizeof(int32_t));
    total = bias + align_up(static_cast<size_t>(n_tokens) * sizeof(float));
  }
};

Status alloc_pinned(size_t bytes, void** p, const char* what) {
  if (cudaMallocHost(p, std::max<size_t>(bytes, 16)) != cudaSuccess) {
    (void)cudaGetLastError();
    *p = nullptr;
    return Status(ErrorKind::kDevice, std::string("cuda sampler: cannot allocate pinned host memory for ") + what);
  }
  return {};
}

}  // namespace

void CudaSampler::PinnedFree::operator()(void* p) const {
  if (p != nullptr) cudaFreeHost(p);
}

CudaSampler::~CudaSampler() = default;

Status CudaSampler::init(int max_rows, int vocab) {
  if (max_rows < 1 || vocab < 1)
    return Status(ErrorKind::kInvalidRequest, "cuda sampler: max_rows and vocab must be >= 1");
  max_rows_ = max_rows;
  vocab_ = vocab;
  words_ = (vocab + 31) / 32;
  TANDEM_RETURN_IF_ERROR(
      counts_.allocate(static_cast<size_t>(max_rows) * vocab * sizeof(uint32_t), "sampling penalty counts"));
  TANDEM_CUDA_TRY(cudaMemset(counts_.get(), 0, counts_.bytes()));
  TANDEM_RETURN_IF_ERROR(
      results_.allocate(static_cast<size_t>(max_rows) * sizeof(SampleRowResult), "sampling results"));
  void* p = nullptr;
  TANDEM_RETURN_IF_ERROR(alloc_pinned(static_cast<size_t>(max_rows) * sizeof(SampleRowResult), &p, "sampling results"));
  host_results_.reset(p);
  token_capacity_ = -1;
  return reserve_tokens(4096);
}

Status CudaSampler::reserve_tokens(int64_t n) {
  if (n <= token_capacity_) return {};
  const int64_t cap = std::max<int64_t>(n, std::max<int64_t>(token_capacity_, 0) * 2);
  const UploadLayout lay(max_rows_, cap);
  TANDEM_RETURN_IF_ERROR(upload_.allocate(lay.total, "sampling parameters"));
  TANDEM_RETURN_IF_ERROR(saved_.allocate(static_cast<size_t>(cap) * sizeof(float), "sampling saved logits"));
  void* p = nullptr;
  host_upload_.reset();
  TANDEM_RETURN_IF_ERROR(alloc_pinned(lay.total, &p, "sampling parameters"));
  host_upload_.reset(p);
  token_capacity_ = cap;
  return {};
}

Status CudaSampler::reserve_masks(int n) {
  if (n <= mask_capacity_) return {};
  const int cap = std::min(max_rows_, std::max(n, mask_capacity_ * 2));
  const size_t bytes = align_up(static_cast<size_t>(max_rows_) * sizeof(int32_t)) +
                       static_cast<size_t>(cap) * static_cast<size_t>(words_) * sizeof(uint32_t);
  TANDEM_RETURN_IF_ERROR(masks_.allocate(bytes, "allowed-token masks"));
  void* p = nullptr;
  host_masks_.reset();
  TANDEM_RETURN_IF_ERROR(alloc_pinned(bytes, &p, "allowed-token masks"));
  host_masks_.reset(p);
  mask_capacity_ = cap;
  return {};
}

Status CudaSampler::apply_masks(float* logits, std::span<const SampleRow> rows, cudaStream_t stream) {
  const int n = static_cast<int>(rows.size());
  empty_rows_.assign(rows.size(), false);
  int n_masks = 0;
  for (const SampleRow& r : rows) n_masks += r.allowed.empty() ? 0 : 1;
  if (n_masks == 0) return {};
  TANDEM_RETURN_IF_ERROR(reserve_masks(n_masks));
  const size_t masks_at = align_up(static_cast<size_t>(max_rows_) * sizeof(int32_t));
  auto* host = static_cast<unsigned char*>(host_masks_.get());
  auto* mask_of_row = reinterpret_cast<int32_t*>(host);
  auto* words = reinterpret_cast<uint32_t*>(host + masks_at);
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const std::span<const uint32_t> allowed = rows[static_cast<size_t>(i)].allowed;
    if (allowed.empty()) {
      mask_of_row[i] = -1;
      continue;
    }
    mask_of_row[i] = m;
    uint32_t* dst = words + static_cast<size_t>(m) * static_cast<size_t>(words_);
    const size_t copy = std::min(allowed.size(), static_cast<size_t>(words_));
    std::memcpy(dst, allowed.data(), copy * sizeof(uint32_t));
    std::memset(dst + copy, 0, (static_cast<size_t>(words_) - copy) * sizeof(uint32_t));
    // Bits past the row are ignored (sampling.h).
    if (vocab_ % 32 != 0) dst[words_ - 1] &= (1u << (vocab_ % 32)) - 1u;
    bool any = false;
    for (int w = 0; w < words_ && !any; ++w) any = dst[w] != 0;
    empty_rows_[static_cast<size_t>(i)] = !any;
    ++m;
  }
  const size_t bytes = masks_at + static_cast<size_t>(m) * static_cast<size_t>(words_) * sizeof(uint32_t);
  TANDEM_CUDA_TRY(cudaMemcpyAsync(masks_.get(), host, bytes, cudaMemcpyHostToDevice, stream));
  TokenMaskParams p;
  p.logits = logits;
  p.masks = reinterpret_cast<const uint32_t*>(masks_.get<unsigned char>() + masks_at);
  p.mask_of_row = masks_.get<int32_t>();
  p.n_rows = n;
  p.vocab = vocab_;
  p.words = words_;
  return launch(p, stream);
}

bool CudaSampler::supports(std::span<const SampleRow> rows) {
  for (const SampleRow& r : rows) {
    if (r.params == nullptr || r.params->logprobs > kMaxDeviceLogprobs) return false;
  }
  return true;
}

Status CudaSampler::sample(float* logits, std::span<const SampleRow> rows, cudaStream_t stream,
                           std::vector<SampledToken>& out) {
  const int n = static_cast<int>(rows.size());
  out.clear();
  if (n == 0) return {};
  if (n > max_rows_) {
    return Status(ErrorKind::kInvalidRequest,
                  "cuda sampler: " + std::to_string(n) + " rows, at most " + std::to_string(max_rows_));
  }
  if (!supports(rows)) {
    return Status(ErrorKind::kInvalidRequest, "cuda sampler: logprobs above " + std::to_string(kMaxDeviceLogprobs) +
                                                  " or a row without parameters");
  }
  specs_.resize(static_cast<size_t>(n));
  tokens_.clear();
  bias_values_.clear();
  auto append = [&](std::span<const int32_t> ids, int32_t& begin, int32_t& count) {
    begin = static_cast<int32_t>(tokens_.size());
    count = static_cast<int32_t>(ids.size());
    tokens_.insert(tokens_.end(), ids.begin(), ids.end());
    bias_values_.resize(tokens_.size(), 0.0f);
  };
  for (int i = 0; i < n; ++i) {
    const SampleRow& r = rows[static_cast<size_t>(i)];
    const SamplingParams& sp = *r.params;
    SampleRowSpec& s = specs_[static_cast<size_t>(i)];
    s = SampleRowSpec{};
    s.u = counter_uniform(r.seed, r.output.size());
    s.temperature = sp.temperature;
    s.top_p = sp.top_p;
    s.min_p = sp.min_p;
    s.presence = sp.presence_penalty;
    s.frequency = sp.frequency_penalty;
    s.repetition = sp.repetition_penalty;
    s.top_k = sp.top_k;
    s.logprobs = sp.logprobs < 0 ? -1 : sp.logprobs;
    s.bias_begin = static_cast<int32_t>(tokens_.size());
    s.bias_count = static_cast<int32_t>(sp.logit_bias.size());
    for (const auto& [id, value] : sp.logit_bias) {
      tokens_.push_back(id);
      bias_values_.push_back(value);
    }
    append(r.suppressed, s.suppressed_begin, s.suppressed_count);
    const bool rep = sp.repetition_penalty != 1.0f;
    const bool fp = sp.frequency_penalty != 0.0f || sp.presence_penalty != 0.0f;
    append(rep ? r.prompt : std::span<const int32_t>{}, s.prompt_begin, s.prompt_count);
    append(rep || fp ? r.output : std::span<const int32_t>{}, s.output_begin, s.output_count);
  }
  const int64_t n_tokens = static_cast<int64_t>(tokens_.size());
  TANDEM_RETURN_IF_ERROR(reserve_tokens(n_tokens));
  TANDEM_RETURN_IF_ERROR(apply_masks(logits, rows, stream));
  const UploadLayout lay(n, n_tokens);
  auto* host = static_cast<unsigned char*>(host_upload_.get());
  std::memcpy(host + lay.rows, specs_.data(), specs_.size() * sizeof(SampleRowSpec));
  std::memcpy(host + lay.tokens, tokens_.data(), tokens_.size() * sizeof(int32_t));
  std::memcpy(host + lay.bias, bias_values_.data(), bias_values_.size() * sizeof(float));
  TANDEM_CUDA_TRY(cudaMemcpyAsync(upload_.get(), host, lay.total, cudaMemcpyHostToDevice, stream));

  auto* dev = upload_.get<unsigned char>();
  SampleKernelParams p;
  p.logits = logits;
  p.rows = reinterpret_cast<const SampleRowSpec*>(dev + lay.rows);
  p.tokens = reinterpret_cast<const int32_t*>(dev + lay.tokens);
  p.bias_values = reinterpret_cast<const float*>(dev + lay.bias);
  p.saved = saved_.get<float>();
  p.counts = counts_.get<uint32_t>();
  p.results = results_.get<SampleRowResult>();
  p.n_rows = n;
  p.vocab = vocab_;
  p.n_tokens = n_tokens;
  p.cluster = cluster_;
  TANDEM_RETURN_IF_ERROR(launch(p, stream));
  TANDEM_CUDA_TRY(cudaMemcpyAsync(host_results_.get(), results_.get(), static_cast<size_t>(n) * sizeof(SampleRowResult),
                                  cudaMemcpyDeviceToHost, stream));
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream));

  const auto* res = static_cast<const SampleRowResult*>(host_results_.get());
  out.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    SampledToken& t = out[static_cast<size_t>(i)];
    t.token = res[i].token;
    t.logprob = res[i].logprob;
    t.top.clear();
    if (empty_rows_[static_cast<size_t>(i)]) {
      t = SampledToken{};
      t.token = kNoAllowedToken;
      continue;
    }
    for (int k = 0; k < res[i].n_top; ++k) t.top.push_back({res[i].top_ids[k], res[i].top_logprobs[k]});
  }
  return {};
}

}  // namespace tandem::engine::cuda
