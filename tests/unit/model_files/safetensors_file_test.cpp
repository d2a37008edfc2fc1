#include "model_files/safetensors_file.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tandem::model_files {
namespace {

using Bytes = std::vector<std::byte>;

Bytes file_with_header(const std::string& header, size_t data_bytes) {
  Bytes b(8);
  uint64_t n = header.size();
  std::memcpy(b.data(), &n, 8);
  for (char c : header) b.push_back(static_cast<std::byte>(c));
  for (size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<std::byte>(i));
  return b;
}

void expect_error(const Bytes& b, ErrorKind kind, std::initializer_list<const char*> needles) {
  auto r = SafetensorsFile::parse(b, "mem.safetensors");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), kind) << r.status().message();
  EXPECT_NE(r.status().message().find("mem.safetensors"), std::string::npos) << r.status().message();
  for (const char* n : needles) EXPECT_NE(r.status().message().find(n), std::string::npos) << r.status().message();
}

const char* kValid =
    R"({"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},)"
    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},"s":{"dtype":"I64","shape":[],"data_offsets":[20,28]}})";

TEST(SafetensorsFileTest, ParsesHeaderAndData) {
  auto r = SafetensorsFile::parse(file_with_header(kValid, 28), "mem.safetensors");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->metadata().at("format"), "pt");
  ASSERT_EQ(r->tensors().size(), 3u);
  const SafetensorsTensorInfo* w = r->find_tensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, "BF16");
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w->elem_bytes, 2);
  const SafetensorsTensorInfo* b = r->find_tensor("b");
  ASSERT_NE(b, nullptr);
  auto data = r->tensor_data(*b);
  ASSERT_EQ(data.size(), 8u);
  EXPECT_EQ(data[0], std::byte{12});  // data byte i holds i
  EXPECT_EQ(r->find_tensor("s")->numel(), 1);
  EXPECT_EQ(r->find_tensor("nope"), nullptr);
}

TEST(SafetensorsFileTest, HeaderErrors) {
  expect_error(Bytes(5), ErrorKind::kMalformedFile, {"too short"});
  Bytes huge(16);
  uint64_t n = uint64_t{1} << 40;
  std::memcpy(huge.data(), &n, 8);
  expect_error(huge, ErrorKind::kMalformedFile, {"exceeds the limit"});
  Bytes beyond(16);
  n = 100;
  std::memcpy(beyond.data(), &n, 8);
  expect_error(beyond, ErrorKind::kMalformedFile, {"exceeds the file size"});
  expect_error(file_with_header("{not json", 0), ErrorKind::kMalformedFile, {"not valid JSON"});
  expect_error(file_with_header("[1,2]", 0), ErrorKind::kMalformedFile, {"not a JSON object"});
  std::string deep(100, '[');
  expect_error(file_with_header(deep + std::string(100, ']'), 0), ErrorKind::kMalformedFile, {"JSON"});
  expect_error(file_with_header(R"({"__metadata__":{"a":1}})", 0), ErrorKind::kMalformedFile, {"__metadata__"});
}

TEST(SafetensorsFileTest, EntryErrorsNameTheTensor) {
  struct Case {
    const char* header;
    ErrorKind kind;
    const char* needle;
  } cases[] = {
      {R"({"t":1})", ErrorKind::kMalformedFile, "not an object"},
      {R"({"t":{"shape":[1],"data_offsets":[0,4]}})", ErrorKind::kMalformedFile, "dtype"},
      {R"({"t":{"dtype":"F4","shape":[1],"data_offsets":[0,4]}})", ErrorKind::kUnsupported, "'F4'"},
      {R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", ErrorKind::kMalformedFile, "shape"},
      {R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", ErrorKind::kMalformedFile, "shape"},
      {R"({"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", ErrorKind::kMalformedFile, "shape"},
      {R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})",
       ErrorKind::kMalformedFile, "overflow"},
      {R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", ErrorKind::kMalformedFile, "data_offsets"},
      {R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", ErrorKind::kMalformedFile, "outside"},
      {R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,400]}})", ErrorKind::kMalformedFile, "outside"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", ErrorKind::kMalformedFile, "do not match"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    expect_error(file_with_header(c.header, 16), c.kind, {"'t'", c.needle});
  }
}

TEST(SafetensorsFileTest, EveryTruncationIsAnErrorNotACrash) {
  Bytes full = file_with_header(kValid, 28);
  for (size_t n = 0; n < full.size(); ++n) {
    Bytes part(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_FALSE(SafetensorsFile::parse(part, "mem.safetensors").ok()) << n;
  }
}

TEST(SafetensorsFileTest, OpenMissingFileIsIo) {
  auto r = SafetensorsFile::open("/nonexistent/model.safetensors");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kIo);
  EXPECT_NE(r.status().message().find("/nonexistent/model.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace tandem::model_files
