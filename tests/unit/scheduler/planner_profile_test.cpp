#include "scheduler/planner_profile.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::scheduler {
namespace {

const char* kProfile = R"({"version": 1, "shapes": [{
  "name": "a", "max_batch_tokens": 1024, "max_running": 32, "kv_tokens": 5000,
  "prefill": {"tokens": [100, 500, 1000], "seconds": [0.02, 0.06, 0.11]},
  "decode": {"batch": [1, 10], "context": [100, 1100],
             "seconds": [[0.010, 0.012], [0.020, 0.040]]}}]})";

PlannerProfile parse_ok(const std::string& json) {
  auto p = parse_planner_profile(json);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : PlannerProfile{};
}

std::string error_of(const std::string& json) {
  auto p = parse_planner_profile(json);
  EXPECT_FALSE(p.ok());
  if (p.ok()) return "";
  EXPECT_EQ(p.status().kind(), ErrorKind::kMalformedFile);
  return p.status().message();
}

TEST(PlannerProfile, ParsesFields) {
  const PlannerProfile p = parse_ok(kProfile);
  ASSERT_EQ(p.shapes.size(), 1u);
  const PlannerShape* s = p.find("a");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(p.find("b"), nullptr);
  EXPECT_EQ(s->max_batch_tokens, 1024);
  EXPECT_EQ(s->max_running, 32);
  EXPECT_EQ(s->kv_tokens, 5000);
  EXPECT_EQ(s->decode_s.size(), 2u);
}

TEST(PlannerProfile, PrefillIsPiecewiseLinear) {
  const PlannerShape s = parse_ok(kProfile).shapes[0];
  EXPECT_DOUBLE_EQ(s.prefill_seconds(0), 0.0);
  EXPECT_DOUBLE_EQ(s.prefill_seconds(500), 0.06);
  EXPECT_NEAR(s.prefill_seconds(300), 0.04, 1e-12);   // halfway between 100 and 500
  EXPECT_NEAR(s.prefill_seconds(750), 0.085, 1e-12);  // halfway between 500 and 1000
  EXPECT_NEAR(s.prefill_seconds(2000), 0.21, 1e-12);  // last segment extended (0.05 s per 500 tokens)
  EXPECT_DOUBLE_EQ(s.prefill_seconds(10), 0.02);      // held below the first point
  // Full steps of 1024 tokens: 1024 / prefill_seconds(1024).
  EXPECT_NEAR(s.prefill_tokens_per_s(), 1024 / (0.11 + 24 * 0.0001), 1e-6);
}

TEST(PlannerProfile, DecodeIsBilinear) {
  const PlannerShape s = parse_ok(kProfile).shapes[0];
  EXPECT_DOUBLE_EQ(s.decode_seconds(0, 500), 0.0);
  EXPECT_DOUBLE_EQ(s.decode_seconds(1, 100), 0.010);
  EXPECT_DOUBLE_EQ(s.decode_seconds(10, 1100), 0.040);
  // Centre of the cell: mean of the four corners.
  EXPECT_NEAR(s.decode_seconds(5.5, 600), (0.010 + 0.012 + 0.020 + 0.040) / 4, 1e-12);
  // Batch 19 extends the batch axis by one more segment at context 100: 0.030.
  EXPECT_NEAR(s.decode_seconds(19, 100), 0.030, 1e-12);
}

TEST(PlannerProfile, ErrorsNameTheField) {
  EXPECT_NE(error_of("{").find("JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"shapes": []})").find("version"), std::string::npos);
  EXPECT_NE(error_of(R"({"version": 1, "shapes": []})").find("shapes"), std::string::npos);
  std::string j = kProfile;
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string k = j;
    k.replace(k.find(from), from.size(), to);
    return k;
  };
  EXPECT_NE(error_of(replace("[100, 500, 1000]", "[100, 50, 1000]")).find("shapes[0].prefill.tokens"),
            std::string::npos);
  EXPECT_NE(error_of(replace("[0.02, 0.06, 0.11]", "[0.02, 0.06]")).find("shapes[0].prefill"), std::string::npos);
  EXPECT_NE(error_of(replace("[0.020, 0.040]", "[0.020]")).find("shapes[0].decode.seconds[1]"), std::string::npos);
  EXPECT_NE(error_of(replace("[0.010, 0.012]", "[0.010, -1]")).find("shapes[0].decode.seconds[0]"), std::string::npos);
  EXPECT_NE(error_of(replace("\"max_running\": 32", "\"max_running\": 0")).find("shapes[0].max_running"),
            std::string::npos);
  EXPECT_NE(error_of(replace("\"name\": \"a\"", "\"name\": 3")).find("shapes[0].name"), std::string::npos);
  // The same shape twice.
  const std::string head = R"({"version": 1, "shapes": [)";
  const std::string shape = j.substr(head.size(), j.size() - head.size() - 2);
  ASSERT_EQ(shape.front(), '{');
  ASSERT_EQ(shape.back(), '}');
  const std::string two = head + shape + "," + shape + "]}";
  EXPECT_NE(error_of(two).find("duplicate"), std::string::npos);
}

TEST(PlannerProfile, LoadsTheBenchProfileAndNamesAMissingFile) {
  auto p = load_planner_profile(std::string(TANDEM_SOURCE_DIR) + "/bench/planner/synthetic_profile.json");
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_NE(p->find("synthetic"), nullptr);
  auto missing = load_planner_profile("/nonexistent/profile.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), ErrorKind::kIo);
  EXPECT_NE(missing.status().message().find("/nonexistent/profile.json"), std::string::npos);
}

}  // namespace
}  // namespace tandem::scheduler
