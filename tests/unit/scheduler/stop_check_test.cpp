#include "scheduler/stop_check.h"

#include <gtest/gtest.h>

namespace tandem::scheduler {
namespace {

StopCriteria criteria() {
  StopCriteria s;
  s.max_tokens = 5;
  s.eos_token_ids = {2, 3};
  s.stop_token_ids = {7};
  return s;
}

TEST(StopCheck, SuppressesEosAndStopIdsBeforeMinTokens) {
  StopCriteria s = criteria();
  s.min_tokens = 2;
  EXPECT_EQ(suppressed_tokens(s, 0), (std::vector<int32_t>{2, 3, 7}));
  EXPECT_EQ(suppressed_tokens(s, 1), (std::vector<int32_t>{2, 3, 7}));
  EXPECT_TRUE(suppressed_tokens(s, 2).empty());
  s.ignore_eos = true;
  EXPECT_EQ(suppressed_tokens(s, 0), (std::vector<int32_t>{7}));
  s.min_tokens = 0;
  EXPECT_TRUE(suppressed_tokens(s, 0).empty());
}

TEST(StopCheck, EosAndStopIds) {
  StopCriteria s = criteria();
  StopDecision d = check_stop(s, 3, 1, 10, 100);
  EXPECT_EQ(d.reason, FinishReason::kStop);
  EXPECT_EQ(d.stop_token, 3);
  d = check_stop(s, 7, 2, 10, 100);
  EXPECT_EQ(d.reason, FinishReason::kStop);
  EXPECT_EQ(d.stop_token, 7);
  d = check_stop(s, 4, 2, 10, 100);
  EXPECT_EQ(d.reason, FinishReason::kNone);
  EXPECT_FALSE(d.stop_token.has_value());
}

TEST(StopCheck, IgnoreEosKeepsStopIds) {
  StopCriteria s = criteria();
  s.ignore_eos = true;
  EXPECT_EQ(check_stop(s, 2, 1, 10, 100).reason, FinishReason::kNone);
  EXPECT_EQ(check_stop(s, 7, 1, 10, 100).reason, FinishReason::kStop);
}

TEST(StopCheck, MinTokensBlocksStops) {
  StopCriteria s = criteria();
  s.min_tokens = 3;
  EXPECT_EQ(check_stop(s, 2, 3, 10, 100).reason, FinishReason::kNone);
  EXPECT_EQ(check_stop(s, 2, 4, 10, 100).reason, FinishReason::kStop);
}

TEST(StopCheck, LengthLimits) {
  StopCriteria s = criteria();
  EXPECT_EQ(check_stop(s, 4, 4, 10, 100).reason, FinishReason::kNone);
  EXPECT_EQ(check_stop(s, 4, 5, 10, 100).reason, FinishReason::kLength);
  // A stop token on the last allowed token reports stop, not length.
  EXPECT_EQ(check_stop(s, 2, 5, 10, 100).reason, FinishReason::kStop);
  // The model's context.
  EXPECT_EQ(check_stop(s, 4, 1, 99, 100).reason, FinishReason::kNone);
  EXPECT_EQ(check_stop(s, 4, 1, 100, 100).reason, FinishReason::kLength);
}

}  // namespace
}  // namespace tandem::scheduler
