#include "grammar/automaton.h"

#include <functional>
#include <utility>

namespace tandem::grammar {

size_t Automaton::memory_bytes() const {
  size_t n = nodes.size() * sizeof(Node) + rule_start.size() * 40;
  for (const Node& node : nodes) n += node.bytes.size() * sizeof(ByteEdge) + node.refs.size() * sizeof(RefEdge);
  return n;
}

namespace {

// Thompson automaton of one rule, with epsilon moves.
struct TNode {
  std::vector<int32_t> eps;
  std::vector<ByteEdge> bytes;
  std::vector<RefEdge> refs;
};

class RuleBuilder {
 public:
  RuleBuilder(const RuleSet& rules, size_t max_nodes, std::chrono::steady_clock::time_point deadline)
      : rules_(rules), max_nodes_(max_nodes), deadline_(deadline) {}

  // Builds `e` starting at node `from`; returns its end node, or -1 on error (status_ set).
  int32_t build(const Expr& e, int32_t from) {
    if (!status_.ok()) return -1;
    switch (e.kind) {
      case Expr::Kind::kBytes: {
        int32_t n = node();
        if (n < 0) return -1;
        if (e.bytes.any()) nodes_[from].bytes.push_back({e.bytes, n});
        return n;
      }
      case Expr::Kind::kRef: {
        if (e.rule < 0 || e.rule >= static_cast<int32_t>(rules_.size()) || !rules_.defined(e.rule)) {
          fail("rule '" +
               (e.rule >= 0 && e.rule < static_cast<int32_t>(rules_.size()) ? rules_.name(e.rule) : std::string("?")) +
               "' is not defined");
          return -1;
        }
        int32_t n = node();
        if (n < 0) return -1;
        nodes_[from].refs.push_back({e.rule, n});
        return n;
      }
      case Expr::Kind::kSeq: {
        int32_t cur = from;
        for (const Expr& item : e.items) {
          cur = build(item, cur);
          if (cur < 0) return -1;
        }
        return cur;
      }
      case Expr::Kind::kAlt: {
        int32_t end = node();
        if (end < 0) return -1;
        for (const Expr& item : e.items) {
          int32_t s = node();
          if (s < 0) return -1;
          nodes_[from].eps.push_back(s);
          int32_t t = build(item, s);
          if (t < 0) return -1;
          nodes_[t].eps.push_back(end);
        }
        return end;
      }
      case Expr::Kind::kRepeat: {
        const Expr& item = e.items[0];
        int32_t cur = from;
        for (int i = 0; i < e.min; ++i) {
          int32_t s = node();
          if (s < 0) return -1;
          nodes_[cur].eps.push_back(s);
          cur = build(item, s);
          if (cur < 0) return -1;
        }
        int32_t out = node();
        if (out < 0) return -1;
        if (e.max < 0) {
          int32_t s = node();
          if (s < 0) return -1;
          nodes_[cur].eps.push_back(s);
          int32_t t = build(item, s);
          if (t < 0) return -1;
          nodes_[t].eps.push_back(s);
          nodes_[s].eps.push_back(out);
          return out;
        }
        for (int i = e.min; i < e.max; ++i) {
          nodes_[cur].eps.push_back(out);
          int32_t s = node();
          if (s < 0) return -1;
          nodes_[cur].eps.push_back(s);
          cur = build(item, s);
          if (cur < 0) return -1;
        }
        nodes_[cur].eps.push_back(out);
        return out;
      }
    }
    return -1;
  }

  int32_t node() {
    if (nodes_.size() >= max_nodes_) {
      fail("the grammar is too large: more than " + std::to_string(max_nodes_ / 2) +
           " automaton states (limit max_states)");
      return -1;
    }
    if ((nodes_.size() & 1023) == 0 && std::chrono::steady_clock::now() > deadline_) {
      fail("compiling the grammar took longer than the limit (max_compile_seconds)");
      return -1;
    }
    nodes_.emplace_back();
    return static_cast<int32_t>(nodes_.size() - 1);
  }

  void fail(std::string message) {
    if (status_.ok()) status_ = Status(ErrorKind::kInvalidRequest, std::move(message));
  }

  void reset() { nodes_.clear(); }
  std::vector<TNode>& nodes() { return nodes_; }
  const Status& status() const { return status_; }

 private:
  const RuleSet& rules_;
  size_t max_nodes_;
  std::chrono::steady_clock::time_point deadline_;
  std::vector<TNode> nodes_;
  Status status_;
};

}  // namespace

Result<Automaton> build_automaton(const RuleSet& rules, const Limits& limits,
                                  std::chrono::steady_clock::time_point deadline) {
  Automaton a;
  const int32_t n_rules = static_cast<int32_t>(rules.size());
  if (rules.root < 0 || rules.root >= n_rules || !rules.defined(rules.root)) {
    return Status(ErrorKind::kInvalidRequest, "the grammar has no root rule");
  }
  a.rule_start.assign(n_rules, -1);
  a.rule_first.assign(n_rules, -1);
  a.leaf_key.resize(n_rules);
  a.rule_name.resize(n_rules);
  for (int32_t r = 0; r < n_rules; ++r) a.rule_name[r] = rules.name(r);
  a.root = rules.root;

  // Rules reachable from the root, each compiled once.
  std::vector<int32_t> pending{rules.root};
  std::vector<bool> queued(n_rules, false);
  queued[rules.root] = true;
  RuleBuilder b(rules, 2 * limits.max_states, deadline);
  std::vector<int32_t> closure, map;
  std::vector<uint32_t> seen;
  uint32_t stamp = 0;
  while (!pending.empty()) {
    int32_t r = pending.back();
    pending.pop_back();
    b.reset();
    int32_t start = b.node();
    int32_t accept = start < 0 ? -1 : b.build(rules.body(r), start);
    if (accept < 0) return b.status();
    std::vector<TNode>& t = b.nodes();
    // Kept nodes: the start and every target of a byte or rule edge.
    map.assign(t.size(), -1);
    auto keep = [&](int32_t n) {
      if (map[n] < 0) {
        map[n] = static_cast<int32_t>(a.nodes.size());
        a.nodes.emplace_back();
      }
    };
    a.rule_first[r] = static_cast<int32_t>(a.nodes.size());
    keep(start);
    for (TNode& n : t) {
      for (ByteEdge& e : n.bytes) keep(e.target);
      for (RefEdge& e : n.refs) {
        keep(e.target);
        if (!queued[e.rule]) {
          queued[e.rule] = true;
          pending.push_back(e.rule);
        }
      }
    }
    if (a.nodes.size() > limits.max_states) {
      return Status(ErrorKind::kInvalidRequest, "the grammar is too large: more than " +
                                                    std::to_string(limits.max_states) +
                                                    " automaton states (limit max_states)");
    }
    a.rule_start[r] = map[start];
    a.node_rule.resize(a.nodes.size(), r);
    seen.resize(t.size(), 0);
    for (int32_t u = 0; u < static_cast<int32_t>(t.size()); ++u) {
      if (map[u] < 0) continue;
      // Epsilon closure of u; its byte and rule edges become u's.
      ++stamp;
      closure.assign(1, u);
      seen[u] = stamp;
      for (size_t i = 0; i < closure.size(); ++i) {
        for (int32_t v : t[closure[i]].eps) {
          if (seen[v] != stamp) {
            seen[v] = stamp;
            closure.push_back(v);
          }
        }
      }
      Node& out = a.nodes[map[u]];
      for (int32_t v : closure) {
        if (v == accept) out.final = true;
        for (const ByteEdge& e : t[v].bytes) {
          int32_t target = map[e.target];
          bool merged = false;
          for (ByteEdge& o : out.bytes) {
            if (o.target == target) {
              o.set |= e.set;
              merged = true;
            }
          }
          if (!merged) out.bytes.push_back({e.set, target});
        }
        for (const RefEdge& e : t[v].refs) {
          RefEdge re{e.rule, map[e.target]};
          bool dup = false;
          for (const RefEdge& o : out.refs) dup |= (o.rule == re.rule && o.target == re.target);
          if (!dup) out.refs.push_back(re);
        }
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(ErrorKind::kInvalidRequest,
                    "compiling the grammar took longer than the limit (max_compile_seconds)");
    }
  }

  // Prune: a node is alive when the rule can complete from it; a rule is productive when its start is.
  const int32_t n_nodes = static_cast<int32_t>(a.nodes.size());
  std::vector<char> alive(n_nodes, 0), productive(n_rules, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (int32_t u = n_nodes - 1; u >= 0; --u) {
      if (alive[u]) continue;
      const Node& n = a.nodes[u];
      bool ok = n.final;
      for (const ByteEdge& e : n.bytes) ok = ok || alive[e.target];
      for (const RefEdge& e : n.refs) ok = ok || (productive[e.rule] && alive[e.target]);
      if (ok) {
        alive[u] = 1;
        changed = true;
      }
    }
    for (int32_t r = 0; r < n_rules; ++r) {
      if (a.rule_start[r] >= 0 && !productive[r] && alive[a.rule_start[r]]) {
        productive[r] = 1;
        changed = true;
      }
    }
  }
  if (!productive[a.root]) return Status(ErrorKind::kInvalidRequest, "the grammar matches no string");
  for (Node& n : a.nodes) {
    std::erase_if(n.bytes, [&](const ByteEdge& e) { return !alive[e.target]; });
    std::erase_if(n.refs, [&](const RefEdge& e) { return !productive[e.rule] || !alive[e.target]; });
  }

  // Left recursion: a rule that can call itself again before reading a byte.
  std::vector<char> nullable(n_rules, 0), null_reach(n_nodes, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (int32_t u = n_nodes - 1; u >= 0; --u) {
      if (null_reach[u]) continue;
      const Node& n = a.nodes[u];
      bool ok = n.final;
      for (const RefEdge& e : n.refs) ok = ok || (nullable[e.rule] && null_reach[e.target]);
      if (ok) {
        null_reach[u] = 1;
        changed = true;
      }
    }
    for (int32_t r = 0; r < n_rules; ++r) {
      if (a.rule_start[r] >= 0 && !nullable[r] && null_reach[a.rule_start[r]]) {
        nullable[r] = 1;
        changed = true;
      }
    }
  }
  // calls[r]: rules r may call before reading a byte.
  std::vector<std::vector<int32_t>> calls(n_rules);
  std::vector<char> visited(n_nodes, 0);
  for (int32_t r = 0; r < n_rules; ++r) {
    if (a.rule_start[r] < 0) continue;
    std::vector<int32_t> stack{a.rule_start[r]}, touched;
    visited[a.rule_start[r]] = 1;
    touched.push_back(a.rule_start[r]);
    while (!stack.empty()) {
      int32_t u = stack.back();
      stack.pop_back();
      for (const RefEdge& e : a.nodes[u].refs) {
        calls[r].push_back(e.rule);
        if (nullable[e.rule] && !visited[e.target]) {
          visited[e.target] = 1;
          touched.push_back(e.target);
          stack.push_back(e.target);
        }
      }
    }
    for (int32_t u : touched) visited[u] = 0;
  }
  std::vector<char> color(n_rules, 0);  // 0 new, 1 on the DFS path, 2 done
  std::string cycle;
  std::function<bool(int32_t)> dfs = [&](int32_t r) {
    color[r] = 1;
    for (int32_t c : calls[r]) {
      if (color[c] == 1) {
        cycle = a.rule_name[c];
        return true;
      }
      if (color[c] == 0 && dfs(c)) return true;
    }
    color[r] = 2;
    return false;
  };
  for (int32_t r = 0; r < n_rules; ++r) {
    if (a.rule_start[r] >= 0 && color[r] == 0 && dfs(r)) {
      return Status(ErrorKind::kInvalidRequest,
                    "rule '" + cycle + "' is left-recursive (it can call itself before reading a byte)");
    }
  }
  // Leaf rules: a canonical text of the automaton (after pruning), nodes relative to the rule's first.
  static const char* kHex = "0123456789abcdef";
  for (int32_t r = 0; r < n_rules; ++r) {
    if (a.rule_start[r] < 0) continue;
    const int32_t first = a.rule_first[r];
    std::string key = std::to_string(a.rule_start[r] - first) + "|";
    bool leaf = true;
    for (int32_t u = first; u < n_nodes && a.node_rule[u] == r && leaf; ++u) {
      const Node& n = a.nodes[u];
      leaf = n.refs.empty();
      key += n.final ? 'F' : 'N';
      for (const ByteEdge& e : n.bytes) {
        for (int b = 0; b < 256; b += 4) {
          key += kHex[(e.set[b] ? 1 : 0) | (e.set[b + 1] ? 2 : 0) | (e.set[b + 2] ? 4 : 0) | (e.set[b + 3] ? 8 : 0)];
        }
        key += '>' + std::to_string(e.target - first) + ',';
      }
      key += ';';
    }
    if (leaf) a.leaf_key[r] = std::move(key);
  }
  if (a.memory_bytes() > limits.max_memory_bytes) {
    return Status(ErrorKind::kInvalidRequest, "the grammar needs more memory than the limit (max_memory_bytes)");
  }
  return a;
}

}  // namespace tandem::grammar
