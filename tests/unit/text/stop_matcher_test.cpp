#include "text/stop_matcher.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tandem::text {
namespace {

// Feeds pieces and returns what was emitted (after finish() unless stopped).
std::string run(StopMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) {
    if (m.push(p, out)) break;
  }
  m.finish(out);
  return out;
}

TEST(StopMatcherTest, NoStopsPassesThrough) {
  StopMatcher m({}, false);
  std::string out;
  EXPECT_FALSE(m.push("abc", out));
  EXPECT_EQ(out, "abc");
  EXPECT_TRUE(m.empty());
}

TEST(StopMatcherTest, StopInsideOnePiece) {
  StopMatcher m({"STOP"}, false);
  std::string out;
  EXPECT_TRUE(m.push("Hello STOP world", out));
  EXPECT_EQ(out, "Hello ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "STOP");
}

TEST(StopMatcherTest, StopSpanningPiecesIsHeldBack) {
  StopMatcher m({"STOP"}, false);
  std::string out;
  EXPECT_FALSE(m.push("Hel", out));
  EXPECT_EQ(out, "Hel");
  EXPECT_FALSE(m.push("lo S", out));
  EXPECT_EQ(out, "Hello ");  // "S" could start STOP
  EXPECT_FALSE(m.push("TO", out));
  EXPECT_EQ(out, "Hello ");
  EXPECT_TRUE(m.push("P more", out));
  EXPECT_EQ(out, "Hello ");
  // Input after the stop is ignored.
  EXPECT_FALSE(m.push("again", out));
  m.finish(out);
  EXPECT_EQ(out, "Hello ");
}

TEST(StopMatcherTest, FalsePrefixIsReleased) {
  StopMatcher m({"STOP"}, false);
  std::string out;
  m.push("ST", out);
  EXPECT_EQ(out, "");
  m.push("ART", out);
  EXPECT_EQ(out, "START");
}

TEST(StopMatcherTest, IncludeStopString) {
  StopMatcher m({"STOP"}, true);
  EXPECT_EQ(run(m, {"a S", "TOP", "b"}), "a STOP");
}

TEST(StopMatcherTest, EarliestMatchWins) {
  StopMatcher m({"world", "lo w"}, false);
  EXPECT_EQ(run(m, {"hello world"}), "hel");
  EXPECT_EQ(m.matched(), "lo w");
}

TEST(StopMatcherTest, LongestWinsOnATie) {
  StopMatcher m({"ab", "abc"}, true);
  EXPECT_EQ(run(m, {"xabcd"}), "xabc");
  EXPECT_EQ(m.matched(), "abc");
}

TEST(StopMatcherTest, FinishFlushesHeldTail) {
  StopMatcher m({"STOP"}, false);
  EXPECT_EQ(run(m, {"abcST"}), "abcST");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, HeldTailEndsOnCharacterBoundary) {
  // "ü" is two bytes; the tail "ü" could start "ü!" and is held whole.
  StopMatcher m({"\xC3\xBC!"}, false);
  std::string out;
  m.push("a\xC3\xBC", out);
  EXPECT_EQ(out, "a");
  m.push("?", out);
  EXPECT_EQ(out, "a\xC3\xBC?");
}

TEST(StopMatcherTest, StopStringSplitOverManySingleBytePieces) {
  StopMatcher m({"</s>"}, false);
  EXPECT_EQ(run(m, {"x", "<", "/", "s", ">", "y"}), "x");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, EmptyStopStringsAreIgnored) {
  StopMatcher m({"", "z"}, false);
  EXPECT_EQ(run(m, {"abc"}), "abc");
}

}  // namespace
}  // namespace tandem::text
