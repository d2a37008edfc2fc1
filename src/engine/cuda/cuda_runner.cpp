#include "engine/cuda/cuda_runner.h"

#include <cuda_runtime.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_sampler.h"
#include "engine/cuda/device_buffer.h"
#include "engine/cuda/device_weights.h"
#include "engine/cuda/elementwise_kernels.h"
#include "engine/cuda/gemm_lt.h"
#include "engine/cuda/gemv_kernels.h"
#include "engine/cuda/kv_transfer.h"
#include "engine/cuda/launch_pdl.h"
#include "engine/cuda/paged_attention.h"
#include "engine/cuda/rope_kv_kernels.h"
#include "engine/cuda/step_plan.h"

namespace tandem::engine::cuda {
namespace {

constexpr size_t kGemmWorkspace = size_t{32} << 20;
constexpr size_t kReserve = size_t{512} << 20;  // cuBLASLt internals, graphs, fragmentation
constexpr int64_t kWsRows = 64 * 1024;          // split-KV workspace rows

Status check_spec(const ModelSpec& s) {
  auto bad = [](const std::string& what) { return Status(ErrorKind::kInvalidRequest, "model spec: " + what); };
  if (s.n_layers < 1 || s.hidden < 1 || s.intermediate < 1 || s.vocab < 1) return bad("sizes must be >= 1");
  if (s.n_heads < 1 || s.n_kv_heads < 1 || s.n_heads % s.n_kv_heads != 0) {
    return bad("n_heads must be a positive multiple of n_kv_heads");
  }
  if (s.head_dim != 64 && s.head_dim != 128) {
    return Status(ErrorKind::kUnsupported,
                  "cuda runner: head_dim " + std::to_string(s.head_dim) + " (supported: 64, 128)");
  }
  if (s.hidden % 8 != 0 || s.intermediate % 8 != 0) {
    return Status(ErrorKind::kUnsupported, "cuda runner: hidden and intermediate must be multiples of 8");
  }
  if (s.max_position < 0 || !(s.rms_eps >= 0.0f) || !(s.rope.theta > 0.0f))
    return bad("bad max_position, eps or theta");
  if (s.rope.scaling != RopeScalingType::kNone && !(s.rope.factor > 0.0f))
    return bad("rope scaling factor must be > 0");
  if (s.rope.scaling == RopeScalingType::kLlama3 &&
      (!(s.rope.high_freq_factor > s.rope.low_freq_factor) || !(s.rope.low_freq_factor > 0.0f) ||
       s.rope.original_max_position < 1)) {
    return bad("llama3 rope scaling needs high_freq_factor > low_freq_factor > 0 and original_max_position >= 1");
  }
  return {};
}

// RoPE inverse frequencies (radians per position) with the configured scaling.
std::vector<float> rope_inv_freq(int head_dim, const RopeConfig& rope) {
  const int half = head_dim / 2;
  std::vector<float> out(half);
  for (int i = 0; i < half; ++i) {
    double f = 1.0 / std::pow(static_cast<double>(rope.theta), (2.0 * i) / head_dim);
    switch (rope.scaling) {
      case RopeScalingType::kNone: break;
      case RopeScalingType::kLinear: f /= rope.factor; break;
      case RopeScalingType::kLlama3: {
        const double old_len = rope.original_max_position;
        const double low_wavelen = old_len / rope.low_freq_factor;
        const double high_wavelen = old_len / rope.high_freq_factor;
        const double wavelen = 2.0 * std::numbers::pi / f;
        if (wavelen > low_wavelen) {
          f /= rope.factor;
        } else if (wavelen >= high_wavelen) {
          const double smooth =
              (old_len / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
          f = (1.0 - smooth) * f / rope.factor + smooth * f;
        }
        break;
      }
    }
    out[i] = static_cast<float>(f);
  }
  return out;
}

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
  }
  Status allocate(size_t bytes, const char* what) {
    if (cudaMallocHost(&ptr_, std::max<size_t>(bytes, 16)) != cudaSuccess) {
      (void)cudaGetLastError();
      ptr_ = nullptr;
      return Status(ErrorKind::kDevice, std::string("cuda: cannot allocate pinned host memory for ") + what);
    }
    bytes_ = bytes;
    return {};
  }
  template <class T>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Decode batch-size buckets that get a CUDA graph.
std::vector<int> graph_buckets(int max_running) {
  std::vector<int> b;
  for (int v : {1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512}) {
    if (v < max_running) b.push_back(v);
  }
  b.push_back(max_running);
  return b;
}

}  // namespace

class CudaRunner final : public Runner {
 public:
  CudaRunner(const ModelSpec& spec, const CudaRunnerOptions& options) : spec_(spec), opt_(options) {}
  ~CudaRunner() override;

  Status init(ModelWeights weights);

  const ModelSpec& spec() const override { return spec_; }
  int block_tokens() const override { return opt_.block_tokens; }
  int num_blocks() const override { return num_blocks_; }
  size_t block_bytes() const override { return static_cast<size_t>(block_elems_) * sizeof(__nv_bfloat16); }
  Status step(const StepBatch& batch, std::vector<float>& logits) override;
  // step() without the logits copy: CudaSampler samples from logits_ on the
  // device (host fallback for rows it does not support, logprobs > 20).
  Status step_and_sample(const StepBatch& batch, std::span<const SampleRow> rows, std::vector<SampledToken>& out,
                         const BeforeSampling& before_sampling) override;
  Status copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) override;
  Status export_blocks(std::span<const int32_t> ids, std::span<std::byte> out) override;
  Status import_blocks(std::span<const int32_t> ids, std::span<const std::byte> in) override;
  Result<std::unique_ptr<KvBlob>> export_blob(std::span<const int32_t> ids, BlobMode mode) override;
  Status import_blob(std::span<const int32_t> ids, const KvBlob& blob, int first) override;

 private:
  struct Graph {
    cudaGraphExec_t exec = nullptr;
    StepLayout layout;
    int splits = 0;
  };
  Status forward(const StepPlan& plan);
  Status run_graph(int bucket, const StepPlan& plan);
  // Plans `batch`, uploads the metadata and enqueues the forward pass (graph
  // or eager) on stream_; logits_ then holds plan_.n_real_rows() rows.
  Status enqueue_step(const StepBatch& batch);

  ModelSpec spec_;
  CudaRunnerOptions opt_;
  int sms_ = 132;
  PdlMode decode_pdl_ = PdlMode::kOff;  // launch mode of the decode path's kernels (launch_pdl.h)
  bool attention_pdl_ = false;          // decode attention launched with decode_pdl_ too
  int max_tokens_ = 0;
  int num_blocks_ = 0;
  int scratch_block_ = 0;
  int64_t block_elems_ = 0;
  int64_t max_table_ = 0;
  cudaStream_t stream_ = nullptr;
  GemmLt gemm_;
  DeviceWeights weights_;
  std::vector<int> buckets_;
  std::map<std::pair<int, int>, Graph> graphs_;  // (batch bucket, attention splits)
  std::set<std::pair<int, int>> no_graph_;       // buckets whose capture failed: eager

  DeviceBuffer inv_freq_, x_, xn_, qkv_, q_, attn_, gate_up_, act_, final_xn_, logits_, attn_ws_, meta_;
  // The KV pool; shared with borrowed blobs (kv_transfer.h), which keep it alive.
  std::shared_ptr<DeviceBuffer> kv_ = std::make_shared<DeviceBuffer>();
  PinnedBuffer meta_host_;
  CudaSampler sampler_;
  StepPlan plan_;
  KvTransfer transfer_;  // after kv_: destroyed (its copies finished) before the pool
};

CudaRunner::~CudaRunner() {
  cudaSetDevice(opt_.device);
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  for (auto& [key, g] : graphs_) cudaGraphExecDestroy(g.exec);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

Status CudaRunner::init(ModelWeights weights) {
  TANDEM_CUDA_TRY(cudaSetDevice(opt_.device));
  cudaDeviceProp prop{};
  TANDEM_CUDA_TRY(cudaGetDeviceProperties(&prop, opt_.device));
  sms_ = prop.multiProcessorCount;
  decode_pdl_ = opt_.tuning.pdl && prop.major >= 9 ? PdlMode::kTriggerAfterWait : PdlMode::kOff;
  attention_pdl_ = decode_attention_pdl(spec_, opt_.tuning.attention_pdl);
  TANDEM_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  size_t free_at_start = 0, total_at_start = 0;
  TANDEM_CUDA_TRY(cudaMemGetInfo(&free_at_start, &total_at_start));
  TANDEM_RETURN_IF_ERROR(gemm_.init(kGemmWorkspace));
  gemm_.set_tuning(opt_.tuning.gemm_autotune);
  TANDEM_RETURN_IF_ERROR(weights_.upload(spec_, std::move(weights)));

  const int64_t T = std::max({opt_.max_batch_tokens, opt_.max_running, 8});  // >= 8 rows: the GEMV reads up to 8
  const int64_t R = std::max(opt_.max_running, 8);
  const int64_t hidden = spec_.hidden, hd = spec_.head_dim;
  const int64_t q_dim = spec_.n_heads * hd, qkv_dim = (spec_.n_heads + 2 * spec_.n_kv_heads) * hd;
  max_tokens_ = std::max(opt_.max_batch_tokens, opt_.max_running);
  const std::vector<float> inv_freq = rope_inv_freq(spec_.head_dim, spec_.rope);
  TANDEM_RETURN_IF_ERROR(inv_freq_.allocate(inv_freq.size() * sizeof(float), "rope frequencies"));
  TANDEM_CUDA_TRY(
      cudaMemcpy(inv_freq_.get(), inv_freq.data(), inv_freq.size() * sizeof(float), cudaMemcpyHostToDevice));
  TANDEM_RETURN_IF_ERROR(x_.allocate(T * hidden * 4, "residual stream"));
  TANDEM_RETURN_IF_ERROR(xn_.allocate(T * hidden * 2, "normed activations"));
  TANDEM_RETURN_IF_ERROR(qkv_.allocate(T * qkv_dim * 4, "qkv activations"));
  TANDEM_RETURN_IF_ERROR(q_.allocate(T * q_dim * 2, "rotated queries"));
  TANDEM_RETURN_IF_ERROR(attn_.allocate(T * q_dim * 2, "attention output"));
  TANDEM_RETURN_IF_ERROR(gate_up_.allocate(T * 2 * spec_.intermediate * 2, "gate/up activations"));
  TANDEM_RETURN_IF_ERROR(act_.allocate(T * spec_.intermediate * 2, "MLP activations"));
  TANDEM_RETURN_IF_ERROR(final_xn_.allocate(R * hidden * 2, "final norm rows"));
  TANDEM_RETURN_IF_ERROR(logits_.allocate(R * spec_.vocab * 4, "logits"));
  TANDEM_RETURN_IF_ERROR(sampler_.init(opt_.max_running, spec_.vocab));
  // Split-KV partials, then one arrival counter per decode tile (kWsRows bounds the tiles of any split
  // step), zeroed once here: the decode attention kernel returns each to 0 (paged_attention.h).
  TANDEM_RETURN_IF_ERROR(attn_ws_.allocate(static_cast<size_t>(kWsRows) * (hd + 2) * 4 + kWsRows * sizeof(unsigned),
                                           "split-KV workspace"));
  TANDEM_CUDA_TRY(cudaMemsetAsync(attn_ws_.get<float>() + kWsRows * (hd + 2), 0, kWsRows * sizeof(unsigned), stream_));

  // KV pool: a fraction of what is free now.
  const int bt = opt_.block_tokens;
  block_elems_ = static_cast<int64_t>(spec_.n_layers) * 2 * bt * spec_.n_kv_heads * hd;
  const size_t block_bytes = static_cast<size_t>(block_elems_) * 2;
  size_t free_b = 0, total_b = 0;
  TANDEM_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
  // Workers built after this one on the device need room for their own weights and activations.
  const size_t footprint = free_at_start > free_b ? free_at_start - free_b : 0;
  const size_t later = static_cast<size_t>(std::max(0, opt_.later_workers_on_device)) * footprint;
  const size_t kept = kReserve + later;
  const double usable = static_cast<double>(free_b > kept ? free_b - kept : 0) * opt_.gpu_memory_fraction;
  int64_t blocks = static_cast<int64_t>(usable / static_cast<double>(block_bytes)) - 1;  // one scratch block
  blocks = std::min<int64_t>(blocks, ((int64_t{1} << 31) - 1) / bt - 1);
  if (opt_.max_blocks > 0) blocks = std::min<int64_t>(blocks, opt_.max_blocks);
  if (blocks < 1) {
    std::string why = "cuda runner: no room for a KV pool: " + std::to_string(free_b >> 20) +
                      " MiB free after weights and activations (" + std::to_string(footprint >> 20) + " MiB)";
    if (later > 0) {
      why += ", of which " + std::to_string(later >> 20) + " MiB are kept for the weights and activations of " +
             std::to_string(opt_.later_workers_on_device) + " more worker(s) on device " + std::to_string(opt_.device);
    }
    return Status(ErrorKind::kDevice, why + "; a block needs " + std::to_string(block_bytes >> 10) + " KiB");
  }
  num_blocks_ = static_cast<int>(blocks);
  scratch_block_ = num_blocks_;
  TANDEM_RETURN_IF_ERROR(kv_->allocate(static_cast<size_t>(num_blocks_ + 1) * block_bytes, "KV pool"));
  TANDEM_CUDA_TRY(cudaMemsetAsync(kv_->get(), 0, kv_->bytes(), stream_));
  const size_t pool_bytes = static_cast<size_t>(num_blocks_) * block_bytes;
  KvTransferOptions transfer;
  transfer.device = opt_.device;
  transfer.block_bytes = block_bytes;
  transfer.staging_limit = opt_.kv_staging_bytes >= 0 ? static_cast<size_t>(opt_.kv_staging_bytes)
                                                      : std::min(size_t{2} << 30, pool_bytes / 8);
  transfer.force_peer = opt_.peer_copy_same_device;
  TANDEM_RETURN_IF_ERROR(transfer_.init(transfer, stream_, kv_));

  // Step metadata: tokens, rows, sequences, tiles, block tables.
  const int64_t max_ctx = spec_.max_position > 0 ? spec_.max_position : static_cast<int64_t>(num_blocks_) * bt;
  max_table_ = opt_.max_running * ((max_ctx + bt - 1) / bt) + opt_.max_running;
  const int group = spec_.n_heads / spec_.n_kv_heads;
  const int64_t max_tiles = spec_.n_kv_heads * ((T * group + 15) / 16 + R);
  const int64_t meta_words = 3 * (T + 4) + (R + 4) + 4 * R + 4 + 4 * max_tiles + 4 + max_table_;
  TANDEM_RETURN_IF_ERROR(meta_.allocate(meta_words * 4, "step metadata"));
  TANDEM_RETURN_IF_ERROR(meta_host_.allocate(meta_words * 4, "step metadata"));
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
  buckets_ = opt_.cuda_graphs ? graph_buckets(opt_.max_running) : std::vector<int>{};

  const int64_t longest = std::min<int64_t>(static_cast<int64_t>(num_blocks_) * bt,
                                            spec_.max_position > 0 ? spec_.max_position : INT64_MAX);
  spdlog::info(
      "[engine.cuda] device {} ({}, {} SMs): weights {} MiB bf16; KV pool {} blocks x {} tokens ({} MiB, {} KiB per "
      "block); longest context that fits: {} tokens; max_batch_tokens {}, max_running {}, cuda graphs {}, decode "
      "PDL {} (attention {})",
      opt_.device, prop.name, sms_, weights_.bytes() >> 20, num_blocks_, bt,
      (static_cast<size_t>(num_blocks_) * block_bytes) >> 20, block_bytes >> 10, longest, T, R,
      opt_.cuda_graphs ? "on" : "off", decode_pdl_ != PdlMode::kOff ? "on" : "off",
      decode_pdl_ != PdlMode::kOff && attention_pdl_ ? "on" : "off");
  return {};
}

Status CudaRunner::forward(const StepPlan& plan) {
  const StepLayout& L = plan.layout();
  const int32_t* meta = meta_.get<int32_t>();
  const int T = L.n_tokens;
  const int hidden = spec_.hidden, hd = spec_.head_dim;
  const int q_dim = spec_.n_heads * hd, qkv_dim = (spec_.n_heads + 2 * spec_.n_kv_heads) * hd;
  const int inter = spec_.intermediate;
  auto* xn = xn_.get<__nv_bfloat16>();
  auto* x = x_.get<float>();

  EmbeddingParams emb;
  emb.table = weights_.embed();
  emb.ids = meta + L.ids;
  emb.out = x;
  emb.n_tokens = T;
  emb.hidden = hidden;
  TANDEM_RETURN_IF_ERROR(launch(emb, stream_));

  RmsNormParams norm;
  norm.x = x;
  norm.out = xn;
  norm.n_rows = T;
  norm.hidden = hidden;
  norm.eps = spec_.rms_eps;

  // Decode-sized steps: the GEMV reads the residual stream through a fused
  // RMSNorm prologue and the down projection computes SwiGLU on the fly, so
  // the norm and SwiGLU kernels drop out (3 launches per layer). Every kernel
  // of this path except attention is launched with programmatic dependent
  // launch (launch_pdl.h): it starts while its predecessor finishes, loads its
  // first weights, then waits.
  const bool fused = gemm_.uses_gemv(T);

  RopeKvParams rope;
  // The decode GEMV writes the QKV product as float32; cuBLASLt (prefill) writes bf16, half the bytes for the
  // product to write and rope_kv to read, and faster than float32 end to end.
  rope.qkv = fused ? qkv_.get<float>() : nullptr;
  rope.qkv_bf16 = fused ? nullptr : qkv_.get<__nv_bfloat16>();
  rope.inv_freq = inv_freq_.get<float>();
  rope.positions = meta + L.positions;
  rope.kv_slots = meta + L.slots;
  rope.q_out = q_.get<__nv_bfloat16>();
  rope.kv_pool = kv_->get<__nv_bfloat16>();
  rope.block_elems = block_elems_;
  rope.n_tokens = T;
  rope.n_heads = spec_.n_heads;
  rope.n_kv_heads = spec_.n_kv_heads;
  rope.head_dim = hd;
  rope.block_tokens = opt_.block_tokens;
  rope.eps = spec_.rms_eps;

  PagedAttentionParams attn;
  attn.q = q_.get<__nv_bfloat16>();
  attn.kv_pool = kv_->get<__nv_bfloat16>();
  attn.block_tables = meta + L.tables;
  attn.seqs = reinterpret_cast<const AttnSeq*>(meta + L.seqs);
  attn.tiles = reinterpret_cast<const AttnTile*>(meta + L.tiles);
  attn.out = attn_.get<__nv_bfloat16>();
  attn.partial_o = attn_ws_.get<float>();
  attn.partial_ml = attn_ws_.get<float>() + kWsRows * hd;
  attn.split_counters = reinterpret_cast<unsigned*>(attn_ws_.get<float>() + kWsRows * (hd + 2));
  attn.n_split_counters = static_cast<int>(kWsRows);
  attn.block_elems = block_elems_;
  attn.n_tiles = L.n_tiles;
  attn.n_splits = plan.n_splits();
  attn.key_split = plan.attention_key_split();
  attn.prefill_tiling = plan.prefill_tiling();
  attn.n_tokens = T;
  attn.n_heads = spec_.n_heads;
  attn.n_kv_heads = spec_.n_kv_heads;
  attn.head_dim = hd;
  attn.block_tokens = opt_.block_tokens;
  attn.block_shift = std::has_single_bit(static_cast<unsigned>(opt_.block_tokens))
                         ? std::countr_zero(static_cast<unsigned>(opt_.block_tokens))
                         : -1;
  attn.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  attn.allow_sm90 = opt_.tuning.prefill_sm90 == KernelPath::kAuto;
  attn.allow_sm90_tma = opt_.tuning.prefill_sm90_tma == KernelPath::kAuto;

  SiluMulParams silu;
  silu.gate_up = gate_up_.get<__nv_bfloat16>();
  silu.out = act_.get<__nv_bfloat16>();
  silu.n_tokens = T;
  silu.inter = inter;

  const PdlMode pdl = fused ? decode_pdl_ : PdlMode::kOff;
  const bool head_gemv = fused && spec_.vocab % GemvParams::kRows == 0 && L.n_rows <= GemvParams::kMaxN;
  auto fused_gemv = [&](const __nv_bfloat16* w, GemvInput input, const __nv_bfloat16* norm_w, const void* in, void* y,
                        bool y_f32, bool accumulate, int m, int k) {
    GemvParams g;
    g.w = w;
    g.input = input;
    g.x = static_cast<const __nv_bfloat16*>(in);
    g.x_f32 = static_cast<const float*>(in);
    g.norm_weight = norm_w;
    g.eps = spec_.rms_eps;
    g.y = y;
    g.y_f32 = y_f32;
    g.accumulate = accumulate;
    g.m = m;
    g.n = T;
    g.k = k;
    g.pdl = pdl;
    return launch(g, stream_);
  };
  rope.pdl = pdl;
  attn.pdl = attention_pdl_ ? pdl : PdlMode::kOff;  // key_split launches only: prefill attention ignores it

  for (int l = 0; l < spec_.n_layers; ++l) {
    const DeviceLayer& w = weights_.layers()[l];
    if (fused) {
      TANDEM_RETURN_IF_ERROR(
          fused_gemv(w.wqkv, GemvInput::kRmsNorm, w.attn_norm, x, qkv_.get(), true, false, qkv_dim, hidden));
    } else {
      norm.weight = w.attn_norm;
      TANDEM_RETURN_IF_ERROR(launch(norm, stream_));
      TANDEM_RETURN_IF_ERROR(gemm_.run({w.wqkv, xn, qkv_.get(), GemmOut::kBF16, qkv_dim, T, hidden, 0.0f}, stream_));
    }
    rope.bias = w.bqkv;
    rope.q_norm = w.q_norm;
    rope.k_norm = w.k_norm;
    rope.layer = l;
    TANDEM_RETURN_IF_ERROR(launch(rope, stream_));
    attn.layer = l;
    TANDEM_RETURN_IF_ERROR(launch(attn, stream_));
    if (fused) {
      TANDEM_RETURN_IF_ERROR(fused_gemv(w.wo, GemvInput::kBf16, nullptr, attn_.get(), x, true, true, hidden, q_dim));
    } else {
      TANDEM_RETURN_IF_ERROR(
          gemm_.run({w.wo, attn_.get<__nv_bfloat16>(), x, GemmOut::kF32, hidden, T, q_dim, 1.0f}, stream_));
    }
    if (fused) {
      TANDEM_RETURN_IF_ERROR(
          fused_gemv(w.w_gate_up, GemvInput::kRmsNorm, w.ffn_norm, x, gate_up_.get(), false, false, 2 * inter, hidden));
      TANDEM_RETURN_IF_ERROR(
          fused_gemv(w.w_down, GemvInput::kSiluMul, nullptr, gate_up_.get(), x, true, true, hidden, inter));
    } else {
      norm.weight = w.ffn_norm;
      TANDEM_RETURN_IF_ERROR(launch(norm, stream_));
      TANDEM_RETURN_IF_ERROR(
          gemm_.run({w.w_gate_up, xn, gate_up_.get(), GemmOut::kBF16, 2 * inter, T, hidden, 0.0f}, stream_));
      TANDEM_RETURN_IF_ERROR(launch(silu, stream_));
      TANDEM_RETURN_IF_ERROR(
          gemm_.run({w.w_down, act_.get<__nv_bfloat16>(), x, GemmOut::kF32, hidden, T, inter, 1.0f}, stream_));
    }
  }
  if (L.n_rows > 0) {
    RmsNormParams fin = norm;
    fin.rows = meta + L.logit_rows;
    fin.weight = weights_.final_norm();
    fin.out = final_xn_.get<__nv_bfloat16>();
    fin.n_rows = L.n_rows;
    fin.pdl = pdl;
    TANDEM_RETURN_IF_ERROR(launch(fin, stream_));
    if (head_gemv) {
      GemvParams g;
      g.w = weights_.lm_head();
      g.x = final_xn_.get<__nv_bfloat16>();
      g.y = logits_.get();
      g.m = spec_.vocab;
      g.n = L.n_rows;
      g.k = hidden;
      g.pdl = pdl;
      TANDEM_RETURN_IF_ERROR(launch(g, stream_));
    } else {
      TANDEM_RETURN_IF_ERROR(gemm_.run({weights_.lm_head(), final_xn_.get<__nv_bfloat16>(), logits_.get(),
                                        GemmOut::kF32, spec_.vocab, L.n_rows, hidden, 0.0f},
                                       stream_));
    }
  }
  return {};
}

Status CudaRunner::run_graph(int bucket, const StepPlan& plan) {
  const std::pair<int, int> key{bucket, plan.n_splits()};
  auto it = graphs_.find(key);
  if (it != graphs_.end()) {
    if (!(it->second.layout == plan.layout()) || it->second.splits != plan.n_splits()) {
      return Status(ErrorKind::kInternal,
                    "cuda runner: decode graph layout changed for bucket " + std::to_string(bucket));
    }
    TANDEM_CUDA_TRY(cudaGraphLaunch(it->second.exec, stream_));
    return {};
  }
  // First time: run eagerly (fills the cuBLASLt plan cache, sets kernel
  // attributes, produces this step's result), then capture for next time.
  // Capturing executes nothing, so a failed capture costs only the graph: the
  // bucket then stays eager and the step's result stands.
  TANDEM_RETURN_IF_ERROR(forward(plan));
  if (no_graph_.count(key) != 0) return {};
  cudaGraph_t graph = nullptr;
  TANDEM_CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  const Status captured = forward(plan);
  const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
  Graph g;
  cudaError_t inst = cudaErrorUnknown;
  if (captured.ok() && end == cudaSuccess && graph != nullptr) inst = cudaGraphInstantiate(&g.exec, graph, 0);
  if (graph != nullptr) cudaGraphDestroy(graph);
  if (inst != cudaSuccess) {
    (void)cudaGetLastError();  // capture errors are not sticky; clear them
    no_graph_.insert(key);
    spdlog::warn(
        "[engine.cuda] decode graph capture failed for batch size {} ({}); running it without a graph", bucket,
        !captured.ok() ? captured.to_string() : std::string(cudaGetErrorString(end != cudaSuccess ? end : inst)));
    return {};
  }
  g.layout = plan.layout();
  g.splits = plan.n_splits();
  graphs_.emplace(key, g);
  spdlog::debug("[engine.cuda] captured a decode graph for batch size {}", bucket);
  return {};
}

Status CudaRunner::enqueue_step(const StepBatch& batch) {
  TANDEM_CUDA_TRY(cudaSetDevice(opt_.device));
  StepPlanLimits limits;
  limits.max_tokens = max_tokens_;
  limits.max_seqs = opt_.max_running;
  limits.max_table = max_table_;
  limits.num_blocks = num_blocks_;
  limits.scratch_block = scratch_block_;
  limits.block_tokens = opt_.block_tokens;
  limits.sms = sms_;
  limits.ws_rows = kWsRows;
  int bucket = 0;
  if (!buckets_.empty() && is_pure_decode(batch)) {
    for (int b : buckets_) {
      if (b >= static_cast<int>(batch.seqs.size())) {
        bucket = b;
        break;
      }
    }
  }
  TANDEM_RETURN_IF_ERROR(plan_.build(batch, spec_, limits, bucket, bucket > 0));
  if (batch.seqs.empty()) return {};
  const std::vector<int32_t>& packed = plan_.packed();
  std::memcpy(meta_host_.get<int32_t>(), packed.data(), packed.size() * sizeof(int32_t));
  TANDEM_CUDA_TRY(cudaMemcpyAsync(meta_.get(), meta_host_.get<int32_t>(), packed.size() * sizeof(int32_t),
                                  cudaMemcpyHostToDevice, stream_));
  if (bucket > 0) {
    TANDEM_RETURN_IF_ERROR(run_graph(bucket, plan_));
  } else {
    TANDEM_RETURN_IF_ERROR(forward(plan_));
  }
  return {};
}

Status CudaRunner::step(const StepBatch& batch, std::vector<float>& logits) {
  TANDEM_RETURN_IF_ERROR(enqueue_step(batch));
  if (batch.seqs.empty()) {
    logits.clear();
    return {};
  }
  // Straight into the caller's vector (no staging copy; resize is free when
  // the row count repeats, as in decode).
  const size_t n = static_cast<size_t>(plan_.n_real_rows()) * spec_.vocab;
  logits.resize(n);
  if (n > 0) {
    TANDEM_CUDA_TRY(cudaMemcpyAsync(logits.data(), logits_.get(), n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  }
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
  return {};
}

Status CudaRunner::step_and_sample(const StepBatch& batch, std::span<const SampleRow> rows,
                                   std::vector<SampledToken>& out, const BeforeSampling& before_sampling) {
  if (!CudaSampler::supports(rows)) return Runner::step_and_sample(batch, rows, out, before_sampling);
  TANDEM_RETURN_IF_ERROR(check_sample_rows(batch, rows));
  TANDEM_RETURN_IF_ERROR(enqueue_step(batch));
  // The forward pass runs on the device meanwhile: the caller's masks are
  // computed now, then uploaded by the sampler behind the forward pass.
  if (before_sampling) before_sampling();
  if (rows.empty()) {
    out.clear();
    TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
    return {};
  }
  if (plan_.n_real_rows() != static_cast<int>(rows.size())) {
    return Status(ErrorKind::kInternal, "cuda runner: " + std::to_string(plan_.n_real_rows()) + " logits rows for " +
                                            std::to_string(rows.size()) + " sample rows");
  }
  return sampler_.sample(logits_.get<float>(), rows, stream_, out);
}

Status CudaRunner::copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) {
  if (Status s = check_copy_blocks(src, dst); !s.ok()) return s;
  TANDEM_CUDA_TRY(cudaSetDevice(opt_.device));
  const size_t bytes = block_bytes();
  auto* base = kv_->get<unsigned char>();
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == dst[i]) continue;
    TANDEM_CUDA_TRY(cudaMemcpyAsync(base + static_cast<size_t>(dst[i]) * bytes,
                                    base + static_cast<size_t>(src[i]) * bytes, bytes, cudaMemcpyDeviceToDevice,
                                    stream_));
  }
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream_));
  return {};
}

Status CudaRunner::export_blocks(std::span<const int32_t> ids, std::span<std::byte> out) {
  if (Status s = check_block_bytes("export_blocks", ids, out.size()); !s.ok()) return s;
  TANDEM_CUDA_TRY(cudaSetDevice(opt_.device));
  return transfer_.export_host(ids, out);
}

Status CudaRunner::import_blocks(std::span<const int32_t> ids, std::span<const std::byte> in) {
  if (Status s = check_block_bytes("import_blocks", ids, in.size()); !s.ok()) return s;
  TANDEM_CUDA_TRY(cudaSetDevice(opt_.device));
  return transfer_.import_host(ids, in);
}

Result<std::unique_ptr<KvBlob>> CudaRunner::export_blob(std::span<const int32_t> ids, BlobMode mode) {
  if (Status s = check_block_bytes("export_blob", ids, ids.size() * block_bytes()); !s.ok()) return s;
  TANDEM_CUDA_TRY(cudaSetDevice(opt_.device));
  Result<std::unique_ptr<KvBlob>> blob =
      mode == BlobMode::kBorrow ? transfer_.export_view(ids) : transfer_.export_device(ids);
  if (!blob.ok() || *blob != nullptr) return blob;
  return Runner::export_blob(ids, mode);  // no staging room (or nothing to move): host bytes
}

Status CudaRunner::import_blob(std::span<const int32_t> ids, const KvBlob& blob, int first) {
  if (Status s = check_blob_import(ids, blob, first); !s.ok()) return s;
  TANDEM_CUDA_TRY(cudaSetDevice(opt_.device));
  if (const auto* dev = dynamic_cast<const DeviceKvBlob*>(&blob)) return transfer_.import_device(ids, *dev, first);
  return Runner::import_blob(ids, blob, first);  // host bytes: import_blocks
}

Result<std::unique_ptr<Runner>> make_cuda_runner(const ModelSpec& spec, ModelWeights weights,
                                                 const CudaRunnerOptions& options) {
  TANDEM_RETURN_IF_ERROR(check_spec(spec));
  auto bad = [](const char* field, const std::string& what) {
    return Status(ErrorKind::kInvalidRequest, std::string("cuda runner: ") + field + " " + what, field);
  };
  if (options.block_tokens < 1 || options.block_tokens > 1024) return bad("block_tokens", "must be in [1, 1024]");
  if (!(options.gpu_memory_fraction > 0.0 && options.gpu_memory_fraction <= 1.0)) {
    return bad("gpu_memory_fraction", "must be in (0, 1]");
  }
  if (options.max_batch_tokens < 1 || options.max_batch_tokens > (1 << 20)) {
    return bad("max_batch_tokens", "must be in [1, 1048576]");
  }
  if (options.max_running < 1 || options.max_running > 4096) return bad("max_running", "must be in [1, 4096]");
  if (options.max_blocks < 0) return bad("max_blocks", "must be >= 0");
  if (options.later_workers_on_device < 0) return bad("later_workers_on_device", "must be >= 0");
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    return Status(ErrorKind::kDevice, "cuda runner: no CUDA device is available");
  }
  if (options.device < 0 || options.device >= count) {
    return bad("device", std::to_string(options.device) + " is out of range [0, " + std::to_string(count) + ")");
  }
  auto runner = std::make_unique<CudaRunner>(spec, options);
  TANDEM_RETURN_IF_ERROR(runner->init(std::move(weights)));
  return std::unique_ptr<Runner>(std::move(runner));
}

}  // namespace tandem::engine::cuda
