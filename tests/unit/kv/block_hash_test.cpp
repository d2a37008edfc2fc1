#include "kv/block_hash.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace tandem::kv {
namespace {

TEST(BlockHash, ChainDependsOnParentAndTokens) {
  const std::vector<int32_t> a = {1, 2, 3, 4};
  const std::vector<int32_t> b = {1, 2, 3, 5};
  const BlockHash r = root_hash(7, "");
  EXPECT_EQ(chain_hash(r, a), chain_hash(r, a));
  EXPECT_NE(chain_hash(r, a), chain_hash(r, b));
  EXPECT_NE(chain_hash(r, a), chain_hash(r + 1, a));
  // Order matters.
  const std::vector<int32_t> a_rev = {4, 3, 2, 1};
  EXPECT_NE(chain_hash(r, a), chain_hash(r, a_rev));
}

TEST(BlockHash, RootSeparatesModelsAndTenants) {
  std::set<BlockHash> roots = {root_hash(1, ""), root_hash(2, ""), root_hash(1, "alice"), root_hash(1, "bob"),
                               root_hash(2, "alice")};
  EXPECT_EQ(roots.size(), 5u);
  EXPECT_EQ(root_hash(1, "alice"), root_hash(1, "alice"));
}

TEST(BlockHash, BlockHashesAreChainedAndSkipPartialTail) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < 10; ++i) tokens.push_back(100 + i);
  const BlockHash r = root_hash(3, "s");
  auto hs = block_hashes(r, tokens, 4, 100);
  ASSERT_EQ(hs.size(), 2u);  // 10 tokens = 2 full blocks of 4 + a partial one
  EXPECT_EQ(hs[0], chain_hash(r, std::span<const int32_t>(tokens).subspan(0, 4)));
  EXPECT_EQ(hs[1], chain_hash(hs[0], std::span<const int32_t>(tokens).subspan(4, 4)));
  EXPECT_EQ(block_hashes(r, tokens, 4, 1).size(), 1u);
  EXPECT_TRUE(block_hashes(r, tokens, 16, 100).empty());
  // Equal second blocks under different first blocks hash differently.
  std::vector<int32_t> other = tokens;
  other[0] = 999;
  auto hs2 = block_hashes(r, other, 4, 100);
  EXPECT_NE(hs2[0], hs[0]);
  EXPECT_NE(hs2[1], hs[1]);
}

TEST(BlockHash, NoCollisionsAcrossManySmallBlocks) {
  std::set<BlockHash> seen;
  const BlockHash r = root_hash(0, "");
  for (int32_t a = 0; a < 200; ++a) {
    for (int32_t b = 0; b < 200; ++b) {
      const std::vector<int32_t> t = {a, b};
      seen.insert(chain_hash(r, t));
    }
  }
  EXPECT_EQ(seen.size(), 200u * 200u);
}

}  // namespace
}  // namespace tandem::kv
