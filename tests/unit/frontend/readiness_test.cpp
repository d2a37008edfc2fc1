#include "frontend/readiness.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace tandem::frontend {
namespace {

scheduler::ServiceStats stats_of(std::vector<scheduler::WorkerStatus> workers) {
  scheduler::ServiceStats s;
  s.workers = std::move(workers);
  return s;
}

TEST(Readiness, AllWorkersServingIsReadyAndListsThem) {
  const Readiness r = readiness(true, stats_of({{"cuda0", "running", true}, {"cuda1", "running", true}}));
  ASSERT_TRUE(r.ready);
  const auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("status").as_string(), "ready");
  const auto& workers = body.at("workers").as_array();
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[1].as_object().at("name").as_string(), "cuda1");
  EXPECT_EQ(workers[1].as_object().at("state").as_string(), "running");
}

TEST(Readiness, OneFailedWorkerOfTwoIsDegradedButReady) {
  const Readiness r = readiness(true, stats_of({{"cuda0", "failed", false}, {"cuda1", "running", true}}));
  ASSERT_TRUE(r.ready);
  const auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("status").as_string(), "degraded");
  EXPECT_EQ(body.at("workers").as_array()[0].as_object().at("state").as_string(), "failed");
}

TEST(Readiness, NoHealthyWorkerNamesTheFailedOnes) {
  const Readiness r = readiness(false, stats_of({{"cuda0", "failed", false}, {"cuda1", "failed", false}}));
  EXPECT_FALSE(r.ready);
  EXPECT_NE(r.message.find("cuda0 failed, cuda1 failed"), std::string::npos) << r.message;
}

TEST(Readiness, WorkerRolesAreListed) {
  const Readiness r = readiness(
      true,
      stats_of({{"cpu0", "running", true, "prefill"}, {"cpu1", "running", true, "decode"}, {"cpu2", "running", true}}));
  const auto body = boost::json::parse(r.body).as_object();
  const auto& workers = body.at("workers").as_array();
  EXPECT_EQ(workers[0].as_object().at("role").as_string(), "prefill");
  EXPECT_EQ(workers[1].as_object().at("role").as_string(), "decode");
  EXPECT_FALSE(workers[2].as_object().contains("role"));
}

TEST(Readiness, ServiceWithoutWorkerListStillAnswers) {
  EXPECT_EQ(readiness(true, {}).body, R"({"status":"ready"})");
  EXPECT_EQ(readiness(false, {}).message, "The model is not ready");
}

}  // namespace
}  // namespace tandem::frontend
