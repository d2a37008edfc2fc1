// grammar_bench: compile time, cache-hit time and per-token mask time of the grammar engine over a
// corpus of JSON schemas, on one core (see README.md).
//
//   grammar_bench --tokenizer PATH --corpus FILE.jsonl [--width N] [--schemas K] [--tokens T] [--seed S]
//
// For each schema: compile (cold: a new schema text), compile again (cache hit), then two random walks of
// up to T tokens (a random allowed first byte, then a random allowed token with it; the stop id once
// allowed with probability 1/2), timing every fill_next_token_mask. The first walk pays for the lazily
// computed position masks it visits first (unless an earlier schema shared them); the second (a new
// Matcher on the same grammar, the same tokens) shows the steady state.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "support/token_table.h"
#include "text/tokenizer_loader.h"

using namespace tandem;
using Clock = std::chrono::steady_clock;

namespace {

double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void row(const char* name, const std::vector<double>& v) {
  std::printf("%-34s %8zu %10.1f %10.1f %10.1f %10.1f\n", name, v.size(), pct(v, 50), pct(v, 90), pct(v, 99),
              v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer, corpus;
  int width = 0, max_schemas = 200, max_tokens = 64;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--tokenizer") tokenizer = argv[i + 1];
    if (a == "--corpus") corpus = argv[i + 1];
    if (a == "--width") width = std::stoi(argv[i + 1]);
    if (a == "--schemas") max_schemas = std::stoi(argv[i + 1]);
    if (a == "--tokens") max_tokens = std::stoi(argv[i + 1]);
    if (a == "--seed") seed = std::stoull(argv[i + 1]);
  }
  if (tokenizer.empty() || corpus.empty()) {
    std::fprintf(stderr,
                 "usage: grammar_bench --tokenizer PATH --corpus FILE.jsonl [--width N] [--schemas K] "
                 "[--tokens T] [--seed S]\n");
    return 2;
  }
  auto tok = text::load_tokenizer(tokenizer);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().message().c_str());
    return 1;
  }
  grammar::TokenTable table = testing::token_table_from(**tok, width);
  const int32_t vocab = static_cast<int32_t>(table.bytes.size());
  std::vector<bool> is_stop(vocab, false);
  for (int32_t id : table.stop_ids) is_stop[id] = true;
  auto t_setup = Clock::now();
  grammar::Compiler compiler(table);
  double setup_us = us_since(t_setup);
  std::vector<std::string> schemas;
  std::ifstream in(corpus);
  for (std::string line; std::getline(in, line) && static_cast<int>(schemas.size()) < max_schemas;) {
    if (!line.empty()) schemas.push_back(line);
  }
  std::mt19937_64 rng(seed);
  std::vector<double> compile_us, hit_us, first_us, steady_us, accept_us;
  int refused = 0, dead = 0;
  std::vector<uint32_t> mask(compiler.mask_words());
  for (const std::string& s : schemas) {
    auto t0 = Clock::now();
    auto g = compiler.json_schema(s);
    double cold = us_since(t0);
    if (!g.ok()) {
      ++refused;
      continue;
    }
    compile_us.push_back(cold);
    t0 = Clock::now();
    auto again = compiler.json_schema(s);
    hit_us.push_back(us_since(t0));
    std::vector<int32_t> picks;  // the second walk replays the first's tokens
    for (int walk = 0; walk < 2; ++walk) {
      grammar::Matcher m(*g);
      std::mt19937_64 walk_rng(rng());
      for (int step = 0; step < max_tokens; ++step) {
        t0 = Clock::now();
        bool any = m.fill_next_token_mask(mask);
        (walk == 0 ? first_us : steady_us).push_back(us_since(t0));
        if (!any) {
          ++dead;
          break;
        }
        std::vector<int32_t> allowed, stops;
        for (int32_t id = 0; id < vocab; ++id) {
          if (mask[id >> 5] >> (id & 31) & 1u) (is_stop[id] ? stops : allowed).push_back(id);
        }
        int32_t pick;
        if (walk == 1) {
          if (step >= static_cast<int>(picks.size())) break;
          pick = picks[step];
        } else if (!stops.empty() && (allowed.empty() || walk_rng() % 2 == 0)) {
          pick = stops[0];
        } else {
          std::vector<int> firsts;
          std::vector<bool> seen(256, false);
          for (int32_t id : allowed) {
            unsigned char b = static_cast<unsigned char>(table.bytes[id][0]);
            if (!seen[b]) firsts.push_back(b), seen[b] = true;
          }
          int b = firsts[walk_rng() % firsts.size()];
          std::vector<int32_t> with;
          for (int32_t id : allowed) {
            if (static_cast<unsigned char>(table.bytes[id][0]) == b) with.push_back(id);
          }
          pick = with[walk_rng() % with.size()];
        }
        if (walk == 0) picks.push_back(pick);
        t0 = Clock::now();
        bool ok = m.accept(pick);
        accept_us.push_back(us_since(t0));
        if (!ok) {
          std::fprintf(stderr, "allowed token %d refused\n", pick);
          return 1;
        }
        if (is_stop[pick]) break;
      }
    }
  }
  std::printf("vocab %d tokens (%s), %zu schemas read, %zu compiled, %d refused, %d dead ends, setup %.1f ms\n", vocab,
              tokenizer.c_str(), schemas.size(), compile_us.size(), refused, dead, setup_us / 1000);
  std::printf("%-34s %8s %10s %10s %10s %10s\n", "us", "n", "median", "p90", "p99", "max");
  row("compile (cold)", compile_us);
  row("compile (cache hit)", hit_us);
  row("accept", accept_us);
  row("mask, first walk (fills caches)", first_us);
  row("mask, second walk (steady)", steady_us);
  std::vector<double> all = first_us;
  all.insert(all.end(), steady_us.begin(), steady_us.end());
  row("mask, both walks", all);
  return 0;
}
