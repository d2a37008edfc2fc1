// Runner::step_and_sample's default (runner.cpp): step() then engine::sample
// per row, with the row count and step failures checked.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/runner.h"
#include "engine/sampling.h"

namespace tandem::engine {
namespace {

constexpr int kVocab = 7;

// A runner whose logits row for sequence i is a fixed function of (i, v), and
// that records how often step() ran.
class TableRunner final : public Runner {
 public:
  TableRunner() { spec_.vocab = kVocab; }
  const ModelSpec& spec() const override { return spec_; }
  int block_tokens() const override { return 4; }
  int num_blocks() const override { return 8; }
  size_t block_bytes() const override { return 16; }
  Status step(const StepBatch& batch, std::vector<float>& logits) override {
    ++steps;
    if (fail) return Status(ErrorKind::kDevice, "fake device fault");
    logits.clear();
    int row = 0;
    for (const SequenceStep& s : batch.seqs) {
      if (!s.want_logits) continue;
      for (int v = 0; v < kVocab; ++v) logits.push_back(row_logit(row, v));
      ++row;
    }
    if (extra_logits) logits.push_back(0.0f);
    return {};
  }
  Status copy_blocks(std::span<const int32_t>, std::span<const int32_t>) override { return {}; }

  static float row_logit(int row, int v) { return std::sin(1.7f * static_cast<float>(row * kVocab + v)) * 3.0f; }

  int steps = 0;
  bool fail = false;
  bool extra_logits = false;

 private:
  ModelSpec spec_;
};

StepBatch batch_of(const std::vector<bool>& want) {
  static const std::vector<int32_t> kTokens{1};
  static const std::vector<int32_t> kTable{0};
  StepBatch b;
  for (bool w : want) b.seqs.push_back({kTokens, 0, kTable, w});
  return b;
}

TEST(StepAndSample, DefaultEqualsStepThenSamplePerRow) {
  TableRunner r;
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  greedy.logprobs = 3;
  SamplingParams hot;
  hot.temperature = 0.9f;
  hot.top_p = 0.8f;
  hot.repetition_penalty = 1.3f;
  const std::vector<int32_t> prompt{1, 2}, output{3};
  const std::vector<int32_t> suppressed{0, 4};
  const std::vector<SampleRow> rows{{&greedy, prompt, output, 5, {}}, {&hot, prompt, output, 99, suppressed}};
  std::vector<SampledToken> out;
  ASSERT_TRUE(r.step_and_sample(batch_of({true, false, true}), rows, out, {}).ok());
  EXPECT_EQ(r.steps, 1);
  ASSERT_EQ(out.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    std::vector<float> l;
    for (int v = 0; v < kVocab; ++v) l.push_back(TableRunner::row_logit(i, v));
    SampleInput in;
    in.logits = l;
    in.params = rows[i].params;
    in.prompt = rows[i].prompt;
    in.output = rows[i].output;
    in.seed = rows[i].seed;
    in.suppressed = rows[i].suppressed;
    const SampledToken want = sample(in);
    EXPECT_EQ(out[i].token, want.token) << "row " << i;
    EXPECT_EQ(out[i].logprob, want.logprob) << "row " << i;
    ASSERT_EQ(out[i].top.size(), want.top.size());
    for (size_t k = 0; k < want.top.size(); ++k) EXPECT_EQ(out[i].top[k].token, want.top[k].token);
  }
  EXPECT_EQ(out[0].top.size(), 3u);
  EXPECT_NE(out[1].token, 0);
  EXPECT_NE(out[1].token, 4);
}

TEST(StepAndSample, RowCountMustMatchWantLogits) {
  TableRunner r;
  SamplingParams p;
  const std::vector<SampleRow> rows{{&p, {}, {}, 1, {}}};
  std::vector<SampledToken> out;
  const Status s = r.step_and_sample(batch_of({true, true}), rows, out, {});
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidRequest);
  EXPECT_NE(s.message().find("1 sample rows for 2"), std::string::npos) << s.message();
  EXPECT_EQ(r.steps, 0);  // nothing ran
  const std::vector<SampleRow> no_params{{nullptr, {}, {}, 1, {}}};
  EXPECT_EQ(r.step_and_sample(batch_of({true}), no_params, out, {}).kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(r.steps, 0);
}

TEST(StepAndSample, StepFailureAndBadLogitCountPropagate) {
  TableRunner r;
  SamplingParams p;
  const std::vector<SampleRow> rows{{&p, {}, {}, 1, {}}};
  std::vector<SampledToken> out;
  r.fail = true;
  EXPECT_EQ(r.step_and_sample(batch_of({true}), rows, out, {}).kind(), ErrorKind::kDevice);
  r.fail = false;
  r.extra_logits = true;
  EXPECT_EQ(r.step_and_sample(batch_of({true}), rows, out, {}).kind(), ErrorKind::kInternal);
  r.extra_logits = false;
  ASSERT_TRUE(r.step_and_sample(batch_of({false}), {}, out, {}).ok());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace tandem::engine
