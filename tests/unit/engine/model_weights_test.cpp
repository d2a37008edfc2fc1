#include "engine/model_weights.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::engine {
namespace {

Tensor f32_tensor(std::vector<int64_t> shape) {
  Tensor t;
  t.shape = std::move(shape);
  t.data.resize(static_cast<size_t>(t.numel()) * sizeof(float));
  return t;
}

void expect_malformed(const Status& s, const std::string& message) {
  EXPECT_EQ(s.kind(), ErrorKind::kMalformedFile);
  EXPECT_EQ(s.message(), message);
}

TEST(ModelWeightsTest, ShapeString) {
  EXPECT_EQ(shape_string({}), "[]");
  EXPECT_EQ(shape_string({4096}), "[4096]");
  EXPECT_EQ(shape_string({8, 16}), "[8, 16]");
}

TEST(ModelWeightsTest, CheckTensorNamesWhatIsWrong) {
  EXPECT_TRUE(check_tensor_shape(f32_tensor({8, 16}), {8, 16}, "wq").ok());
  EXPECT_TRUE(check_tensor_data(f32_tensor({3}), "norm").ok());
  expect_malformed(check_tensor_shape(Tensor{}, {8, 16}, "layers.0.wq"), "layers.0.wq: tensor is missing");
  expect_malformed(check_tensor_data(Tensor{}, "embed"), "embed: tensor is missing");
  expect_malformed(check_tensor_shape(f32_tensor({16, 8}), {8, 16}, "wk"), "wk: shape [16, 8], expected [8, 16]");
  Tensor short_data = f32_tensor({8, 16});
  short_data.data.pop_back();
  expect_malformed(check_tensor_shape(short_data, {8, 16}, "wv"), "wv: data size does not match shape [8, 16]");
  expect_malformed(check_tensor_data(short_data, "wv"), "wv: data size does not match shape [8, 16]");
}

}  // namespace
}  // namespace tandem::engine
