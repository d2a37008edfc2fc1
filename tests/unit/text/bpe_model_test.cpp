// text::BpeModel: the merge loop against a naive implementation of the same
// rule (lowest rank first, leftmost on ties), on short words (scan path) and
// long ones (heap path).
#include "text/bpe_model.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <utility>
#include <vector>

namespace tandem::text {
namespace {

std::vector<int32_t> naive_merge(std::vector<int32_t> s,
                                 const std::map<std::pair<int32_t, int32_t>, BpeModel::Merge>& m) {
  while (true) {
    int32_t best_rank = INT32_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const auto it = m.find({s[i], s[i + 1]});
      if (it != m.end() && it->second.rank < best_rank) {
        best_rank = it->second.rank;
        best = i;
      }
    }
    if (best_rank == INT32_MAX) return s;
    s[best] = m.at({s[best], s[best + 1]}).result;
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
}

TEST(BpeModelTest, MatchesNaiveMergeOnRandomWords) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    BpeModel model;
    std::map<std::pair<int32_t, int32_t>, BpeModel::Merge> table;
    int32_t next_id = 6;  // symbols 0..5 are the alphabet
    for (int32_t rank = 0; rank < 60; ++rank) {
      const int32_t a = static_cast<int32_t>(rng() % static_cast<uint32_t>(next_id));
      const int32_t b = static_cast<int32_t>(rng() % static_cast<uint32_t>(next_id));
      // Equal ranks happen for score-ordered SentencePiece merges.
      const int32_t r = (trial % 2 == 0) ? rank : rank / 3;
      if (table.count({a, b})) continue;
      table[{a, b}] = BpeModel::Merge{r, next_id};
      model.add_merge(a, b, r, next_id);
      ++next_id;
    }
    EXPECT_EQ(model.size(), table.size());
    for (int w = 0; w < 200; ++w) {
      std::vector<int32_t> word(1 + rng() % (w < 100 ? 40 : 400));
      for (auto& x : word) x = static_cast<int32_t>(rng() % 6);
      std::vector<int32_t> got = word;
      model.merge(got);
      ASSERT_EQ(got, naive_merge(word, table)) << "trial " << trial << " word length " << word.size();
    }
  }
}

TEST(BpeModelTest, FirstMergeOfAPairWins) {
  BpeModel model;
  model.add_merge(1, 2, 0, 10);
  model.add_merge(1, 2, 5, 11);  // ignored, as HF ignores later duplicates
  ASSERT_NE(model.find(1, 2), nullptr);
  EXPECT_EQ(model.find(1, 2)->result, 10);
  EXPECT_EQ(model.find(2, 1), nullptr);
  std::vector<int32_t> w = {1, 2, 1, 2};
  model.merge(w);
  EXPECT_EQ(w, (std::vector<int32_t>{10, 10}));
}

}  // namespace
}  // namespace tandem::text
