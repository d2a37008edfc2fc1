// The CUDA runner's KV hand-off (engine/cuda/kv_transfer.h) on a real GPU:
// host bytes through pinned staging (several chunks), device blobs imported
// device to device, through cudaMemcpyPeerAsync (peer to self on device 0:
// the multi-GPU path's calls, tested on one GPU), host blobs into the device
// and device blobs to the host, the staging limit, and a sequence continued
// on another runner after the move. Everything byte-exact (the logits of
// the continued step too: same kernels, same batch). Skips without a GPU (CI
// builds and lists it).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "engine/cuda/cuda_runner.h"
#include "engine/kv_blob.h"

namespace tandem::engine::cuda {
namespace {

bool have_gpu(std::string& why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    (void)cudaGetLastError();
    why = std::string("no CUDA device: ") + (e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    return false;
  }
  return true;
}

#define REQUIRE_GPU()                                                                 \
  do {                                                                                \
    std::string why;                                                                  \
    if (!have_gpu(why)) GTEST_SKIP() << why << " (the KV hand-off test needs a GPU)"; \
  } while (0)

ModelSpec tiny_spec() {
  ModelSpec s;
  s.n_layers = 2;
  s.hidden = 128;
  s.n_heads = 2;
  s.n_kv_heads = 2;
  s.head_dim = 64;
  s.intermediate = 256;
  s.vocab = 256;
  s.max_position = 4096;
  s.rms_eps = 1e-5f;
  s.rope.theta = 10000.0f;
  return s;
}

Tensor random_tensor(std::vector<int64_t> shape, std::mt19937& rng, float scale, float offset = 0.0f) {
  Tensor t;
  t.dtype = DType::kF32;
  t.shape = std::move(shape);
  t.data.resize(static_cast<size_t>(t.numel()) * 4);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = offset + scale * d(rng);
  return t;
}

ModelWeights random_weights(const ModelSpec& s) {
  std::mt19937 rng(5);
  ModelWeights w;
  const int64_t q = s.n_heads * s.head_dim, kv = s.n_kv_heads * s.head_dim;
  w.embed = random_tensor({s.vocab, s.hidden}, rng, 1.0f);
  for (int l = 0; l < s.n_layers; ++l) {
    LayerWeights L;
    L.attn_norm = random_tensor({s.hidden}, rng, 0.1f, 1.0f);
    L.wq = random_tensor({q, s.hidden}, rng, 0.1f);
    L.wk = random_tensor({kv, s.hidden}, rng, 0.1f);
    L.wv = random_tensor({kv, s.hidden}, rng, 0.1f);
    L.wo = random_tensor({s.hidden, q}, rng, 0.1f);
    L.ffn_norm = random_tensor({s.hidden}, rng, 0.1f, 1.0f);
    L.w_gate = random_tensor({s.intermediate, s.hidden}, rng, 0.1f);
    L.w_up = random_tensor({s.intermediate, s.hidden}, rng, 0.1f);
    L.w_down = random_tensor({s.hidden, s.intermediate}, rng, 0.1f);
    w.layers.push_back(std::move(L));
  }
  w.final_norm = random_tensor({s.hidden}, rng, 0.1f, 1.0f);
  w.lm_head = random_tensor({s.vocab, s.hidden}, rng, 0.1f);
  return w;
}

constexpr int kBlocks = 3000;  // 16 KiB blocks: 1024 per 16 MiB staging chunk, so 3 chunks

// `staging`: device blob bytes outstanding at most (-1: the runner's default,
// min(2 GiB, pool / 8) = 375 blocks here).
std::unique_ptr<Runner> make(int64_t staging = int64_t{64} << 20, bool peer = false) {
  CudaRunnerOptions o;
  o.max_blocks = kBlocks;
  o.gpu_memory_fraction = 0.05;
  o.max_batch_tokens = 512;
  o.max_running = 8;
  o.kv_staging_bytes = staging;
  o.peer_copy_same_device = peer;
  auto r = make_cuda_runner(tiny_spec(), random_weights(tiny_spec()), o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::vector<std::byte> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> b(n);
  for (auto& x : b) x = static_cast<std::byte>(rng() & 0xff);
  return b;
}

// n distinct ids in [0, kBlocks), shuffled, with a few runs of consecutive ids.
std::vector<int32_t> random_ids(size_t n, uint32_t seed) {
  std::vector<int32_t> all(kBlocks);
  std::iota(all.begin(), all.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(n);
  if (n >= 8) std::sort(all.begin(), all.begin() + 8);  // at least one sorted stretch
  return all;
}

std::vector<int32_t> disjoint_ids(const std::vector<int32_t>& used, size_t n) {
  std::vector<int32_t> out;
  for (int32_t b = kBlocks - 1; b >= 0 && out.size() < n; --b) {
    if (std::find(used.begin(), used.end(), b) == used.end()) out.push_back(b);
  }
  return out;
}

TEST(CudaKvTransfer, HostBytesRoundTripThroughSeveralStagingChunks) {
  REQUIRE_GPU();
  auto r = make();
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->block_bytes(), size_t{16} << 10);
  for (size_t n : {size_t{1}, size_t{7}, size_t{2500}}) {
    const std::vector<int32_t> ids = random_ids(n, static_cast<uint32_t>(n));
    const std::vector<std::byte> in = random_bytes(n * r->block_bytes(), 3 + static_cast<uint32_t>(n));
    ASSERT_TRUE(r->import_blocks(ids, in).ok());
    std::vector<std::byte> out(in.size(), std::byte{0x5a});
    ASSERT_TRUE(r->export_blocks(ids, out).ok());
    EXPECT_TRUE(out == in) << n << " blocks";
  }
  // Argument errors touch nothing.
  const std::vector<int32_t> bad = {kBlocks};
  std::vector<std::byte> one(r->block_bytes());
  EXPECT_EQ(r->export_blocks(bad, one).kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(r->import_blocks(bad, one).kind(), ErrorKind::kInvalidRequest);
  const std::vector<int32_t> ok = {4};
  EXPECT_EQ(r->import_blocks(ok, std::span(one).first(10)).kind(), ErrorKind::kInvalidRequest);
}

// Exports from `from`, imports into `to` (blocks [first, ...) of the blob) and
// compares the bytes.
void move_and_compare(Runner& from, Runner& to, size_t n, int first, bool expect_device, uint32_t seed,
                      BlobMode mode = BlobMode::kCopy) {
  const std::vector<int32_t> src = random_ids(n, seed);
  const std::vector<std::byte> bytes = random_bytes(n * from.block_bytes(), seed + 1);
  ASSERT_TRUE(from.import_blocks(src, bytes).ok());
  auto blob = from.export_blob(src, mode);
  ASSERT_TRUE(blob.ok()) << blob.status().to_string();
  EXPECT_EQ((*blob)->device(), expect_device ? 0 : KvBlob::kHostDevice);
  EXPECT_EQ((*blob)->borrows_source(), mode == BlobMode::kBorrow);
  ASSERT_EQ((*blob)->num_blocks(), static_cast<int>(n));
  // A copy's source blocks may be reused at once: overwrite them before the
  // import. A borrowed blob's must stay (the scheduler holds them).
  if (mode == BlobMode::kCopy) {
    ASSERT_TRUE(from.import_blocks(src, random_bytes(bytes.size(), seed + 2)).ok());
  }
  const std::vector<int32_t> dst = disjoint_ids(src, n - static_cast<size_t>(first));
  ASSERT_TRUE(to.import_blob(dst, **blob, first).ok());
  std::vector<std::byte> out(dst.size() * to.block_bytes());
  ASSERT_TRUE(to.export_blocks(dst, out).ok());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), bytes.begin() + static_cast<std::ptrdiff_t>(first * to.block_bytes())))
      << n << " blocks from " << first;
  // And the blob reads back to the host as it was exported.
  std::vector<std::byte> host(bytes.size());
  ASSERT_TRUE((*blob)->copy_to_host(0, host).ok());
  EXPECT_TRUE(host == bytes);
}

TEST(CudaKvTransfer, DeviceBlobsMoveDeviceToDeviceByteExact) {
  REQUIRE_GPU();
  auto a = make();
  auto b = make();
  ASSERT_TRUE(a && b);
  move_and_compare(*a, *b, 1, 0, true, 11);
  move_and_compare(*a, *b, 300, 0, true, 12);
  move_and_compare(*a, *b, 300, 17, true, 13);  // the leading 17 blocks cached at the target
}

TEST(CudaKvTransfer, BorrowedBlobsMoveWithOneCopyByteExact) {
  REQUIRE_GPU();
  auto a = make(0);  // no staging at all: a borrowed blob needs none
  auto b = make();
  ASSERT_TRUE(a && b);
  move_and_compare(*a, *b, 1, 0, true, 14, BlobMode::kBorrow);
  move_and_compare(*a, *b, 300, 5, true, 15, BlobMode::kBorrow);
  // A borrowed blob keeps the exporter's pool alive: it outlives its runner.
  const std::vector<int32_t> src = {3, 4, 5};
  const std::vector<std::byte> bytes = random_bytes(3 * a->block_bytes(), 16);
  ASSERT_TRUE(a->import_blocks(src, bytes).ok());
  auto blob = a->export_blob(src, BlobMode::kBorrow);
  ASSERT_TRUE(blob.ok());
  a.reset();
  const std::vector<int32_t> dst = {30, 31, 32};
  ASSERT_TRUE(b->import_blob(dst, **blob, 0).ok());
  std::vector<std::byte> out(bytes.size());
  ASSERT_TRUE(b->export_blocks(dst, out).ok());
  EXPECT_TRUE(out == bytes);
}

TEST(CudaKvTransfer, PeerCopyPathToSelfOnDeviceZeroByteExact) {
  REQUIRE_GPU();
  auto a = make();
  auto b = make(int64_t{64} << 20, /*peer=*/true);
  ASSERT_TRUE(a && b);
  move_and_compare(*a, *b, 1, 0, true, 21);
  move_and_compare(*a, *b, 500, 9, true, 22);
  move_and_compare(*a, *b, 500, 3, true, 23, BlobMode::kBorrow);
}

TEST(CudaKvTransfer, HostBlobsIntoTheDeviceAndTheStagingLimit) {
  REQUIRE_GPU();
  const size_t bb = size_t{16} << 10;
  auto a = make(static_cast<int64_t>(4 * bb));  // room for 4 blocks of device blobs
  auto b = make();
  ASSERT_TRUE(a && b);
  move_and_compare(*a, *b, 5, 0, false, 31);  // over the limit: a host blob, same bytes
  move_and_compare(*a, *b, 4, 1, true, 32);
  // While a 3-block blob lives, a 2-block export goes to the host; then the room is back.
  const std::vector<int32_t> ids = {1, 2, 3};
  auto held = a->export_blob(ids, BlobMode::kCopy);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ((*held)->device(), 0);
  auto more = a->export_blob(std::span(ids).first(2), BlobMode::kCopy);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ((*more)->device(), KvBlob::kHostDevice);
  std::thread([blob = std::move(held).value()]() mutable { blob.reset(); }).join();  // dropped on another thread
  auto again = a->export_blob(std::span(ids).first(2), BlobMode::kCopy);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->device(), 0);
  // Device blobs off: always host.
  auto c = make(0);
  ASSERT_NE(c, nullptr);
  move_and_compare(*c, *b, 3, 0, false, 33);
  // The default limit: an eighth of the KV pool (3000 blocks -> 375).
  auto d = make(-1);
  ASSERT_NE(d, nullptr);
  move_and_compare(*d, *b, 375, 0, true, 34);
  move_and_compare(*d, *b, 376, 0, false, 35);
}

// A prompt prefilled on one runner continues on another after the move: the
// next step's logits are identical (same kernels, same batch shape).
TEST(CudaKvTransfer, SequenceContinuesOnAnotherRunnerWithIdenticalLogits) {
  REQUIRE_GPU();
  auto a = make();
  auto b = make();
  ASSERT_TRUE(a && b);
  std::mt19937 rng(41);
  std::vector<int32_t> prompt(70);
  for (auto& t : prompt) t = static_cast<int32_t>(rng() % 256);
  const std::vector<int32_t> src = {40, 41, 42, 43, 9}, dst = {7, 100, 2000, 2001, 2002};
  StepBatch pre;
  pre.seqs.push_back({std::span(prompt).first(69), 0, src, true});
  std::vector<float> logits;
  ASSERT_TRUE(a->step(pre, logits).ok());
  auto blob = a->export_blob(src, BlobMode::kBorrow);
  ASSERT_TRUE(blob.ok());
  ASSERT_EQ((*blob)->device(), 0);
  ASSERT_TRUE((*blob)->borrows_source());
  ASSERT_TRUE(b->import_blob(dst, **blob, 0).ok());
  blob->reset();
  std::vector<float> at_a, at_b;
  StepBatch dec;
  dec.seqs.push_back({std::span(prompt).subspan(69, 1), 69, src, true});
  ASSERT_TRUE(a->step(dec, at_a).ok());
  dec.seqs[0].block_table = dst;
  ASSERT_TRUE(b->step(dec, at_b).ok());
  ASSERT_EQ(at_a.size(), 256u);
  EXPECT_TRUE(at_a == at_b);
}

}  // namespace
}  // namespace tandem::engine::cuda
