// grammar_tool: drives the grammar engine for the Python cross-checks (tests/reference/grammar).
// Reads one JSON request on stdin, writes one JSON answer on stdout:
//   {"kind": "regex"|"json_schema"|"json_object"|"choice"|"ebnf", "text": "...", "options": [...],
//    "strict": true, "vocab": {"tokens_hex": [...], "special": [ids], "stop_ids": [ids]} | "tokenizer": PATH,
//    "mode": "generate"|"masks", "n": 5, "seed": 1, "max_tokens": 400}
// generate: {"ok": true, "outputs": [{"hex": "...", "tokens": [...], "ended": true}]} -- random walks
//   (a random allowed first byte, then a random allowed token with that first byte; a stop id with
//   probability 1/2 when allowed) until a stop id is accepted or max_tokens.
// masks: {"ok": true, "steps": [{"prefix_hex": "...", "allowed": [ids], "can_end": b}]} along such walks.
// A compile error: {"ok": false, "error": "..."}.
// {"batch": [request, ...], "vocab": ...} answers {"results": [answer, ...]} (one vocabulary, one Compiler).
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "support/token_table.h"
#include "text/tokenizer_loader.h"

namespace json = boost::json;
using namespace tandem;

namespace {

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

void answer(const json::value& v) { std::cout << json::serialize(v) << "\n"; }

}  // namespace

json::object run_one(const json::object& req, grammar::Compiler& compiler, const grammar::TokenTable& table);

int main() {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  json::object req = json::parse(input).as_object();
  grammar::TokenTable table;
  if (req.contains("tokenizer")) {
    auto tok = text::load_tokenizer(std::string(req.at("tokenizer").as_string()));
    if (!tok.ok()) {
      answer({{"ok", false}, {"error", tok.status().message()}});
      return 0;
    }
    table = testing::token_table_from(**tok);
  } else {
    const json::object& v = req.at("vocab").as_object();
    for (const json::value& t : v.at("tokens_hex").as_array()) table.bytes.push_back(unhex(t.as_string()));
    table.special.assign(table.bytes.size(), false);
    for (const json::value& id : v.at("special").as_array()) table.special[id.to_number<int>()] = true;
    for (const json::value& id : v.at("stop_ids").as_array()) table.stop_ids.push_back(id.to_number<int>());
  }
  grammar::Compiler compiler(table);
  if (req.contains("batch")) {
    json::array results;
    for (const json::value& r : req.at("batch").as_array()) results.push_back(run_one(r.as_object(), compiler, table));
    answer(json::object{{"results", results}});
    return 0;
  }
  json::object out = run_one(req, compiler, table);
  answer(out);
  return out.at("ok").as_bool() || !out.contains("dead_end") ? 0 : 1;
}

json::object run_one(const json::object& req, grammar::Compiler& compiler, const grammar::TokenTable& table) {
  std::string kind(req.at("kind").as_string());
  std::string text = req.contains("text") ? std::string(req.at("text").as_string()) : "";
  Result<std::shared_ptr<const grammar::Grammar>> g = Status(ErrorKind::kInvalidRequest, "unknown kind " + kind);
  if (kind == "regex") {
    g = compiler.regex(text);
  } else if (kind == "json_schema") {
    g = compiler.json_schema(text, !req.contains("strict") || req.at("strict").as_bool());
  } else if (kind == "json_object") {
    g = compiler.any_json_object();
  } else if (kind == "ebnf") {
    g = compiler.ebnf(text);
  } else if (kind == "choice") {
    std::vector<std::string> options;
    for (const json::value& o : req.at("options").as_array()) options.emplace_back(o.as_string());
    g = compiler.choice(options);
  }
  if (!g.ok()) return {{"ok", false}, {"error", g.status().message()}};
  const std::string mode = req.contains("mode") ? std::string(req.at("mode").as_string()) : "generate";
  const int n = req.contains("n") ? req.at("n").to_number<int>() : 5;
  const int max_tokens = req.contains("max_tokens") ? req.at("max_tokens").to_number<int>() : 400;
  std::mt19937_64 rng(req.contains("seed") ? req.at("seed").to_number<uint64_t>() : 1);
  std::vector<uint32_t> mask(compiler.mask_words());
  std::vector<bool> is_stop(table.bytes.size(), false);
  for (int32_t id : table.stop_ids) is_stop[id] = true;
  json::array outputs, steps;
  for (int w = 0; w < n; ++w) {
    grammar::Matcher m(*g);
    std::string text_out;
    json::array tokens;
    bool ended = false;
    for (int step = 0; step < max_tokens && !ended; ++step) {
      bool any = m.fill_next_token_mask(mask);
      std::vector<int32_t> allowed, stops;
      for (int32_t id = 0; id < static_cast<int32_t>(table.bytes.size()); ++id) {
        if (mask[id >> 5] >> (id & 31) & 1u) (is_stop[id] ? stops : allowed).push_back(id);
      }
      if (mode == "masks") {
        json::array ids;
        for (int32_t id : allowed) ids.push_back(id);
        for (int32_t id : stops) ids.push_back(id);
        steps.push_back({{"prefix_hex", hex(text_out)}, {"allowed", ids}, {"can_end", m.can_end()}});
      }
      if (!any) {
        return {{"ok", false}, {"dead_end", true}, {"error", "dead end: no token allowed after " + hex(text_out)}};
      }
      int32_t pick;
      if (!stops.empty() && (allowed.empty() || rng() % 2 == 0)) {
        pick = stops[rng() % stops.size()];
      } else {
        // A random first byte among the allowed tokens, then a random token starting with it.
        std::vector<int> firsts;
        std::vector<bool> seen(256, false);
        for (int32_t id : allowed) {
          unsigned char b = static_cast<unsigned char>(table.bytes[id][0]);
          if (!seen[b]) {
            seen[b] = true;
            firsts.push_back(b);
          }
        }
        int b = firsts[rng() % firsts.size()];
        std::vector<int32_t> with;
        for (int32_t id : allowed) {
          if (static_cast<unsigned char>(table.bytes[id][0]) == b) with.push_back(id);
        }
        pick = with[rng() % with.size()];
      }
      if (!m.accept(pick)) {
        return {{"ok", false}, {"dead_end", true}, {"error", "an allowed token was refused: " + std::to_string(pick)}};
      }
      tokens.push_back(pick);
      if (is_stop[pick]) {
        ended = true;
      } else {
        text_out += table.bytes[pick];
      }
    }
    outputs.push_back({{"hex", hex(text_out)}, {"tokens", tokens}, {"ended", ended}});
  }
  json::object out{{"ok", true}, {"outputs", outputs}};
  if (mode == "masks") out["steps"] = steps;
  return out;
}
