// The compiled form of a RuleSet: every rule becomes a byte automaton (Thompson construction, epsilon
// moves removed) whose edges read one byte from a set or call another rule. Nodes of all rules share
// one id space; a node belongs to exactly one rule. Unproductive rules and dead nodes are pruned, and
// left recursion is refused, so every reachable stack can still complete and the stack closure ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "grammar/grammar.h"
#include "grammar/rule_set.h"

namespace tandem::grammar {

struct ByteEdge {
  ByteSet set;
  int32_t target;
};

struct RefEdge {
  int32_t rule;
  int32_t target;  // node to continue at after the called rule completes
};

struct Node {
  std::vector<ByteEdge> bytes;
  std::vector<RefEdge> refs;
  bool final = false;  // the rule may complete here
};

struct Automaton {
  std::vector<Node> nodes;
  std::vector<int32_t> rule_start;  // [rule] its start node
  std::vector<std::string> rule_name;
  std::vector<int32_t> node_rule;   // [node] the rule it belongs to (a rule's nodes are contiguous)
  std::vector<int32_t> rule_first;  // [rule] its first node
  // [rule] for a rule that calls no rule: a canonical text of its automaton, equal for equal automata,
  // so that its position masks can be shared between grammars (compiled_grammar.h); empty otherwise.
  std::vector<std::string> leaf_key;
  int32_t root = 0;

  size_t memory_bytes() const;
};

// Compiles the rules reachable from rules.root. kInvalidRequest when a rule is undefined, left
// recursive, the grammar matches nothing, or a limit (nodes, time) is exceeded.
Result<Automaton> build_automaton(const RuleSet& rules, const Limits& limits,
                                  std::chrono::steady_clock::time_point deadline);

}  // namespace tandem::grammar
