#include "model_files/gguf_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "unit/model_files/gguf_test_builder.h"

namespace tandem::model_files {
namespace {

using testing::GgufBuilder;
using Bytes = GgufBuilder::Bytes;

Result<GgufFile> parse(const Bytes& b) { return GgufFile::parse(b, "mem.gguf"); }

void expect_error(const Bytes& b, ErrorKind kind, std::initializer_list<const char*> needles) {
  auto r = parse(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), kind) << r.status().message();
  EXPECT_NE(r.status().message().find("mem.gguf"), std::string::npos) << r.status().message();
  for (const char* n : needles) EXPECT_NE(r.status().message().find(n), std::string::npos) << r.status().message();
}

Bytes valid_file() {
  return GgufBuilder()
      .kv_str("general.architecture", "llama")
      .kv_u32("llama.block_count", 2)
      .kv_i32("tokenizer.ggml.eos_token_id", 2)
      .kv_f32("llama.rope.freq_base", 10000.0f)
      .kv_bool("tokenizer.ggml.add_bos_token", true)
      .kv_str_array("tokenizer.ggml.tokens", {"<s>", "a", "\xC4\xA0hello"})
      .kv_array<float>("tokenizer.ggml.scores", GgufValueType::kF32, {0.0f, -1.5f, -2.0f})
      .kv_array<int32_t>("tokenizer.ggml.token_type", GgufValueType::kI32, {3, 1, 1})
      .tensor_f32("a", {4}, {1, 2, 3, 4})
      .tensor_f32("b", {2, 3}, {1, 2, 3, 4, 5, 6})
      .build();
}

TEST(GgufFileTest, ParsesMetadataAndTensors) {
  auto r = parse(valid_file());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const GgufFile& f = r.value();
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.metadata().size(), 8u);
  EXPECT_EQ(f.metadata()[0].first, "general.architecture");
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_u32("llama.block_count"), 2u);
  EXPECT_EQ(f.get_i32("llama.block_count"), 2);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.eos_token_id"), 2u);  // i32 accepted where it fits
  EXPECT_EQ(f.get_f32("llama.rope.freq_base"), 10000.0f);
  EXPECT_EQ(f.get_bool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_EQ(f.get_array_size("tokenizer.ggml.tokens"), 3u);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens"), (std::vector<std::string>{"<s>", "a", "\xC4\xA0hello"}));
  EXPECT_EQ(f.get_f32_array("tokenizer.ggml.scores"), (std::vector<float>{0.0f, -1.5f, -2.0f}));
  EXPECT_EQ(f.get_i32_array("tokenizer.ggml.token_type"), (std::vector<int32_t>{3, 1, 1}));
  // Wrong kinds and absent keys give nullopt.
  EXPECT_FALSE(f.get_string("llama.block_count"));
  EXPECT_FALSE(f.get_bool("llama.block_count"));
  EXPECT_FALSE(f.get_u32("missing"));
  EXPECT_FALSE(f.get_string_array("tokenizer.ggml.scores"));
  EXPECT_FALSE(f.get_f32_array("tokenizer.ggml.tokens"));
  EXPECT_FALSE(f.get_array_size("general.architecture"));
  auto req = f.require_u32("missing.key");
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().kind(), ErrorKind::kMalformedFile);
  EXPECT_NE(req.status().message().find("missing.key"), std::string::npos);
  auto req2 = f.require_string("llama.block_count");
  ASSERT_FALSE(req2.ok());
  EXPECT_NE(req2.status().message().find("has type u32"), std::string::npos);

  ASSERT_EQ(f.tensors().size(), 2u);
  const GgufTensorInfo* b = f.find_tensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->n_bytes, 24u);
  EXPECT_EQ(b->offset % 32, 0u);
  auto data = f.tensor_data("b");
  ASSERT_TRUE(data.ok());
  float v[6];
  std::memcpy(v, data.value().data(), 24);
  EXPECT_EQ(v[5], 6.0f);
  EXPECT_FALSE(f.tensor_data("zzz").ok());
  EXPECT_NE(f.tensor_data("zzz").status().message().find("zzz"), std::string::npos);
}

TEST(GgufFileTest, NegativeValueDoesNotFitUnsigned) {
  auto r = parse(GgufBuilder().kv_i32("x", -1).build());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->get_u32("x"));
  EXPECT_EQ(r->get_i32("x"), -1);
  EXPECT_FALSE(r->get_u64("x"));
}

TEST(GgufFileTest, Version2AndCustomAlignment) {
  Bytes b = GgufBuilder().version(2).alignment(64).tensor_f32("t", {3}, {1, 2, 3}).build();
  auto r = parse(b);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->version(), 2u);
  EXPECT_EQ(r->alignment(), 64u);
  EXPECT_EQ(r->data_offset() % 64, 0u);
}

TEST(GgufFileTest, HeaderErrors) {
  expect_error({}, ErrorKind::kMalformedFile, {"too short"});
  Bytes b = valid_file();
  b[0] = std::byte{'X'};
  expect_error(b, ErrorKind::kMalformedFile, {"bad magic"});
  expect_error(GgufBuilder().version(1).build(), ErrorKind::kUnsupported, {"version 1"});
  expect_error(GgufBuilder().version(7).build(), ErrorKind::kUnsupported, {"version 7"});
  expect_error(GgufBuilder().version(0x03000000).build(), ErrorKind::kUnsupported, {"big-endian"});
}

TEST(GgufFileTest, EveryTruncationIsAnErrorNotACrash) {
  Bytes full = valid_file();
  for (size_t n = 0; n < full.size(); ++n) {
    Bytes part(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    auto r = parse(part);
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    if (!r.ok()) {
      EXPECT_EQ(r.status().kind(), ErrorKind::kMalformedFile) << r.status().message();
    }
  }
  EXPECT_TRUE(parse(full).ok());
}

Bytes header_with_counts(uint64_t n_tensors, uint64_t n_kv) {
  Bytes b;
  GgufBuilder::put(b, "GGUF", 4);
  GgufBuilder::put<uint32_t>(b, 3);
  GgufBuilder::put<uint64_t>(b, n_tensors);
  GgufBuilder::put<uint64_t>(b, n_kv);
  b.resize(b.size() + 64);
  return b;
}

TEST(GgufFileTest, AbsurdCountsAreRefusedBeforeAllocating) {
  expect_error(header_with_counts(0, uint64_t{1} << 60), ErrorKind::kMalformedFile, {"metadata count"});
  expect_error(header_with_counts(uint64_t{1} << 60, 0), ErrorKind::kMalformedFile, {"tensor count"});
  // A string claiming 2^62 bytes.
  Bytes s;
  GgufBuilder::put<uint64_t>(s, uint64_t{1} << 62);
  expect_error(GgufBuilder().kv_raw("k", 8, s).build(), ErrorKind::kMalformedFile, {"'k'"});
  // An array claiming 2^40 u32 elements.
  Bytes a;
  GgufBuilder::put<uint32_t>(a, 4);
  GgufBuilder::put<uint64_t>(a, uint64_t{1} << 40);
  expect_error(GgufBuilder().kv_raw("arr", 9, a).build(), ErrorKind::kMalformedFile,
               {"'arr'", "exceeds the file size"});
}

TEST(GgufFileTest, MetadataValueErrors) {
  expect_error(GgufBuilder().kv_raw("k", 13, {std::byte{0}}).build(), ErrorKind::kMalformedFile,
               {"'k'", "invalid value type 13"});
  expect_error(GgufBuilder().kv("b", GgufValueType::kBool, uint8_t{2}).build(), ErrorKind::kMalformedFile,
               {"'b'", "bool"});
  expect_error(GgufBuilder().kv_u32("k", 1).kv_u32("k", 2).build(), ErrorKind::kMalformedFile,
               {"duplicate metadata key 'k'"});
  Bytes bad_elem;
  GgufBuilder::put<uint32_t>(bad_elem, 99);
  GgufBuilder::put<uint64_t>(bad_elem, 1);
  expect_error(GgufBuilder().kv_raw("a", 9, bad_elem).build(), ErrorKind::kMalformedFile,
               {"'a'", "array element type 99"});
  // Arrays nested deeper than the limit.
  Bytes nested;
  for (int i = 0; i < 6; ++i) {
    GgufBuilder::put<uint32_t>(nested, 9);
    GgufBuilder::put<uint64_t>(nested, 1);
  }
  GgufBuilder::put<uint32_t>(nested, 4);
  GgufBuilder::put<uint64_t>(nested, 1);
  GgufBuilder::put<uint32_t>(nested, 7);
  Bytes outer;
  GgufBuilder::put<uint32_t>(outer, 9);
  GgufBuilder::put<uint64_t>(outer, 1);
  outer.insert(outer.end(), nested.begin(), nested.end());
  expect_error(GgufBuilder().kv_raw("deep", 9, outer).build(), ErrorKind::kMalformedFile, {"'deep'", "nested"});
}

TEST(GgufFileTest, NestedStringArraysParse) {
  Bytes inner;
  GgufBuilder::put<uint32_t>(inner, 9);  // array of arrays
  GgufBuilder::put<uint64_t>(inner, 2);
  for (const char* s : {"x", "y"}) {
    GgufBuilder::put<uint32_t>(inner, 8);
    GgufBuilder::put<uint64_t>(inner, 1);
    GgufBuilder::put_str(inner, s);
  }
  auto r = parse(GgufBuilder().kv_raw("n", 9, inner).build());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const GgufValue* v = r->find("n");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->items.size(), 2u);
  EXPECT_EQ(v->items[1].items[0].str, "y");
  EXPECT_FALSE(r->get_string_array("n"));  // not an array of strings
}

TEST(GgufFileTest, AlignmentErrors) {
  expect_error(GgufBuilder().kv_u32("general.alignment", 48).build(), ErrorKind::kMalformedFile,
               {"general.alignment", "power of two"});
  expect_error(GgufBuilder().kv_u32("general.alignment", 0).build(), ErrorKind::kMalformedFile, {"general.alignment"});
  expect_error(GgufBuilder().kv_str("general.alignment", "32").build(), ErrorKind::kMalformedFile,
               {"general.alignment", "expected u32"});
}

TEST(GgufFileTest, TensorInfoErrors) {
  Bytes four(16);
  expect_error(GgufBuilder().tensor_raw("t0", 0, {}, 0, four).build(), ErrorKind::kMalformedFile,
               {"'t0'", "0 dimensions"});
  expect_error(GgufBuilder().tensor_raw("t5", 0, {1, 1, 1, 1, 1}, 0, four).build(), ErrorKind::kMalformedFile,
               {"'t5'", "5 dimensions"});
  expect_error(GgufBuilder().tensor_raw("big", 0, {uint64_t{1} << 40, uint64_t{1} << 40}, 0, four).build(),
               ErrorKind::kMalformedFile, {"'big'", "overflow"});
  expect_error(GgufBuilder().tensor_raw("neg", 0, {~uint64_t{0}}, 0, four).build(), ErrorKind::kMalformedFile,
               {"'neg'"});
  expect_error(GgufBuilder().tensor_raw("u", 99, {4}, 0, four).build(), ErrorKind::kUnsupported,
               {"'u'", "unknown ggml type 99"});
  expect_error(GgufBuilder().tensor_raw("q", static_cast<uint32_t>(GgmlType::kQ4_0), {48}, 0, Bytes(64)).build(),
               ErrorKind::kMalformedFile, {"'q'", "multiple of q4_0's block of 32"});
  expect_error(GgufBuilder().tensor_raw("mis", 0, {4}, 4, Bytes(32)).build(), ErrorKind::kMalformedFile,
               {"'mis'", "alignment"});
  expect_error(GgufBuilder().tensor_raw("far", 0, {4}, 1 << 20, four).build(), ErrorKind::kMalformedFile,
               {"'far'", "beyond the end"});
  expect_error(GgufBuilder().tensor_raw("wrap", 0, {4}, ~uint64_t{0} - 31, four).build(), ErrorKind::kMalformedFile,
               {"'wrap'"});
  expect_error(GgufBuilder().tensor_f32("d", {1}, {1}).tensor_f32("d", {1}, {2}).build(), ErrorKind::kMalformedFile,
               {"duplicate tensor 'd'"});
  // Data section one byte short.
  Bytes b = GgufBuilder().tensor_f32("short", {4}, {1, 2, 3, 4}).build();
  b.pop_back();
  expect_error(b, ErrorKind::kMalformedFile, {"'short'", "beyond the end"});
}

TEST(GgufFileTest, OpenMapsFilesAndReportsIoErrors) {
  auto missing = GgufFile::open("/nonexistent/dir/x.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), ErrorKind::kIo);
  EXPECT_NE(missing.status().message().find("/nonexistent/dir/x.gguf"), std::string::npos);
  auto dir = GgufFile::open(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().kind(), ErrorKind::kIo);

  const auto path = std::filesystem::temp_directory_path() / "tandem_gguf_file_test.gguf";
  Bytes b = valid_file();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  auto f = GgufFile::open(path.string());
  ASSERT_TRUE(f.ok()) << f.status().message();
  GgufFile moved = std::move(f.value());
  auto data = moved.tensor_data("a");
  ASSERT_TRUE(data.ok());
  float v[4];
  std::memcpy(v, data.value().data(), 16);
  EXPECT_EQ(v[3], 4.0f);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tandem::model_files
