#include <chrono>
#include <list>
#include <mutex>
#include <unordered_map>

#include "grammar/compiled_grammar.h"
#include "grammar/front_ends.h"
#include "grammar/grammar.h"

namespace tandem::grammar {

// LRU of compiled grammars keyed by kind + text.
class GrammarCache {
 public:
  explicit GrammarCache(size_t capacity) : capacity_(capacity) {}

  std::shared_ptr<const Grammar> get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    ++hits_;
    return it->second->second;
  }

  void put(const std::string& key, std::shared_ptr<const Grammar> g) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) return;
    order_.emplace_front(key, std::move(g));
    map_[key] = order_.begin();
    while (order_.size() > capacity_) {
      map_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  size_t hits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hits_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return order_.size();
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const Grammar>>;
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> order_;
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
  size_t hits_ = 0;
};

namespace {
constexpr size_t kCacheEntries = 256;
}

Compiler::Compiler(TokenTable tokens, Limits limits)
    : vocab_(std::make_shared<const Vocab>(std::move(tokens))),
      limits_(limits),
      cache_(std::make_unique<GrammarCache>(kCacheEntries)),
      shared_masks_(std::make_shared<SharedMasks>(limits.max_memory_bytes)) {}

Compiler::~Compiler() = default;

int32_t Compiler::vocab_size() const { return vocab_->size(); }
size_t Compiler::mask_words() const { return vocab_->words(); }
size_t Compiler::cache_hits() const { return cache_->hits(); }
size_t Compiler::cache_size() const { return cache_->size(); }

template <class Build>
Result<std::shared_ptr<const Grammar>> Compiler::cached(std::string key, Build build) {
  if (auto g = cache_->get(key)) return g;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                         std::chrono::duration<double>(limits_.max_compile_seconds));
  Result<RuleSet> rules = build();
  if (!rules.ok()) return rules.status();
  Result<Automaton> a = build_automaton(*rules, limits_, deadline);
  if (!a.ok()) return a.status();
  auto g = std::make_shared<const Grammar>(std::move(a).value(), vocab_, limits_.max_memory_bytes, shared_masks_);
  cache_->put(key, g);
  return std::shared_ptr<const Grammar>(std::move(g));
}

Result<std::shared_ptr<const Grammar>> Compiler::json_schema(std::string_view schema_json, bool strict) {
  std::string key = strict ? "schema-strict:" : "schema:";
  key += schema_json;
  return cached(std::move(key), [&] { return json_schema_rules(schema_json, strict); });
}

Result<std::shared_ptr<const Grammar>> Compiler::any_json_object() {
  return cached("json_object:", [] { return Result<RuleSet>(any_json_object_rules()); });
}

Result<std::shared_ptr<const Grammar>> Compiler::regex(std::string_view pattern) {
  std::string key = "regex:";
  key += pattern;
  return cached(std::move(key), [&] { return regex_rules(pattern); });
}

Result<std::shared_ptr<const Grammar>> Compiler::choice(std::span<const std::string> options) {
  std::string key = "choice:";
  for (const std::string& o : options) {
    key += std::to_string(o.size());
    key += ':';
    key += o;
  }
  return cached(std::move(key), [&] { return choice_rules(options); });
}

Result<std::shared_ptr<const Grammar>> Compiler::ebnf(std::string_view grammar_text) {
  std::string key = "ebnf:";
  key += grammar_text;
  return cached(std::move(key), [&] { return gbnf_rules(grammar_text); });
}

Result<RuleSet> choice_rules(std::span<const std::string> options) {
  if (options.empty()) return Status(ErrorKind::kInvalidRequest, "choice needs at least one option");
  std::vector<Expr> alts;
  for (const std::string& o : options) alts.push_back(Expr::literal(o));
  RuleSet rules;
  rules.root = rules.add_defined("root", Expr::alt(std::move(alts)));
  return rules;
}

}  // namespace tandem::grammar
