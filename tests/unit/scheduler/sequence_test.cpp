#include "scheduler/sequence.h"

#include <gtest/gtest.h>

namespace tandem::scheduler {
namespace {

using S = SequenceState;

TEST(Sequence, TransitionsFollowTheDocumentedLifecycle) {
  const S all[] = {S::kWaiting, S::kPrefilling, S::kDecoding, S::kPreempted, S::kMigrating, S::kFinished};
  int allowed = 0;
  for (S from : all) {
    for (S to : all) allowed += sequence_transition_allowed(from, to) ? 1 : 0;
  }
  EXPECT_EQ(allowed, 18);  // the table in sequence.h
  EXPECT_TRUE(sequence_transition_allowed(S::kDecoding, S::kMigrating));
  EXPECT_TRUE(sequence_transition_allowed(S::kWaiting, S::kMigrating));
  EXPECT_TRUE(sequence_transition_allowed(S::kMigrating, S::kDecoding));
  EXPECT_TRUE(sequence_transition_allowed(S::kMigrating, S::kPreempted));
  EXPECT_FALSE(sequence_transition_allowed(S::kMigrating, S::kPrefilling));
  EXPECT_FALSE(sequence_transition_allowed(S::kMigrating, S::kMigrating));
  EXPECT_TRUE(sequence_transition_allowed(S::kWaiting, S::kPrefilling));
  EXPECT_TRUE(sequence_transition_allowed(S::kPrefilling, S::kDecoding));
  EXPECT_TRUE(sequence_transition_allowed(S::kDecoding, S::kPreempted));
  EXPECT_TRUE(sequence_transition_allowed(S::kPreempted, S::kPrefilling));
  EXPECT_TRUE(sequence_transition_allowed(S::kPreempted, S::kFinished));
  EXPECT_FALSE(sequence_transition_allowed(S::kWaiting, S::kDecoding));
  EXPECT_FALSE(sequence_transition_allowed(S::kPreempted, S::kDecoding));
  EXPECT_FALSE(sequence_transition_allowed(S::kWaiting, S::kPreempted));
  for (S to : all) EXPECT_FALSE(sequence_transition_allowed(S::kFinished, to));
}

TEST(Sequence, TokensAndViews) {
  GenerationRequest r;
  r.id = "a";
  r.prompt = {5, 6, 7};
  Sequence s(r, 42, 9, std::chrono::steady_clock::now());
  EXPECT_EQ(s.num_prompt, 3);
  EXPECT_EQ(s.num_output(), 0);
  s.tokens.push_back(8);
  EXPECT_EQ(s.num_output(), 1);
  EXPECT_EQ(std::vector<int32_t>(s.prompt().begin(), s.prompt().end()), (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(std::vector<int32_t>(s.output().begin(), s.output().end()), (std::vector<int32_t>{8}));
  EXPECT_EQ(s.num_uncomputed(), 4);
  EXPECT_FALSE(s.is_running());
  s.set_state(S::kPrefilling);
  EXPECT_TRUE(s.is_running());
  EXPECT_STREQ(sequence_state_name(s.state), "prefilling");
}

TEST(SequenceDeathTest, IllegalTransitionIsABug) {
  GenerationRequest r;
  r.prompt = {1};
  Sequence s(r, 0, 0, std::chrono::steady_clock::now());
  EXPECT_DEATH(s.set_state(S::kDecoding), "CHECK failed");
}

}  // namespace
}  // namespace tandem::scheduler
