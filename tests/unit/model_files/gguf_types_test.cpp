#include "model_files/gguf_types.h"

#include <gtest/gtest.h>

namespace tandem::model_files {
namespace {

TEST(GgufTypesTest, TypeTraits) {
  EXPECT_EQ(ggml_type_traits(GgmlType::kQ4_K).block_bytes, 144);
  EXPECT_EQ(ggml_type_traits(GgmlType::kQ6_K).block_bytes, 210);
  EXPECT_EQ(ggml_type_traits(GgmlType::kQ5_K).block_bytes, 176);
  EXPECT_EQ(ggml_type_traits(99).block_elems, 0);
  EXPECT_TRUE(ggml_type_supported(GgmlType::kQ4_1));
  EXPECT_FALSE(ggml_type_supported(GgmlType::kQ5_0));
  EXPECT_FALSE(ggml_type_supported(GgmlType::kIQ4_XS));
}

}  // namespace
}  // namespace tandem::model_files
