#include "scheduler/request_limits.h"

#include <gtest/gtest.h>

namespace tandem::scheduler {
namespace {

RequestLimits limits() { return {/*vocab=*/100, /*max_context=*/64, /*block_tokens=*/4, /*num_blocks=*/10}; }

GenerationRequest valid() {
  GenerationRequest r;
  r.id = "r";
  r.prompt = {1, 2, 3};
  r.stop.max_tokens = 5;
  r.sink = [](TokenEvent&&) {};
  return r;
}

TEST(RequestLimits, AcceptsAValidRequest) { EXPECT_TRUE(check_request(valid(), limits()).ok()); }

TEST(RequestLimits, NamesTheBadField) {
  GenerationRequest r = valid();
  r.id.clear();
  EXPECT_EQ(check_request(r, limits()).param(), "id");
  r = valid();
  r.sink = nullptr;
  EXPECT_EQ(check_request(r, limits()).param(), "sink");
  r = valid();
  r.prompt.clear();
  EXPECT_EQ(check_request(r, limits()).param(), "prompt");
  r = valid();
  r.prompt[1] = -1;
  Status st = check_request(r, limits());
  EXPECT_EQ(st.kind(), ErrorKind::kInvalidRequest);
  EXPECT_NE(st.message().find("index 1"), std::string::npos) << st.message();
  r.prompt[1] = 100;
  EXPECT_EQ(check_request(r, limits()).param(), "prompt");
  r = valid();
  r.sampling.logit_bias = {{100, 1.0f}};
  EXPECT_EQ(check_request(r, limits()).param(), "logit_bias");
  r = valid();
  r.stop.max_tokens = 0;
  EXPECT_EQ(check_request(r, limits()).param(), "max_tokens");
  r = valid();
  r.stop.min_tokens = -1;
  EXPECT_EQ(check_request(r, limits()).param(), "min_tokens");
}

TEST(RequestLimits, ContextLength) {
  GenerationRequest r = valid();
  r.prompt.assign(60, 1);
  r.stop.max_tokens = 4;  // 64: exactly the context... but 63 KV positions need 16 blocks
  RequestLimits big_pool = limits();
  big_pool.num_blocks = 100;
  EXPECT_TRUE(check_request(r, big_pool).ok());
  r.stop.max_tokens = 5;
  Status st = check_request(r, big_pool);
  EXPECT_EQ(st.kind(), ErrorKind::kContextLengthExceeded);
  EXPECT_NE(st.message().find("64"), std::string::npos);
  EXPECT_NE(st.message().find("65"), std::string::npos);
}

TEST(RequestLimits, KvBlocks) {
  // 10 blocks of 4 = 40 KV positions; prompt + max_tokens - 1 must fit.
  GenerationRequest r = valid();
  r.prompt.assign(30, 1);
  r.stop.max_tokens = 11;  // 40 positions
  EXPECT_TRUE(check_request(r, limits()).ok());
  r.stop.max_tokens = 12;  // 41 positions: 11 blocks
  Status st = check_request(r, limits());
  EXPECT_EQ(st.kind(), ErrorKind::kKvExhausted);
  EXPECT_NE(st.message().find("11 KV blocks"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace tandem::scheduler
