// The front ends: each turns one kind of format into a RuleSet (grammar/rule_set.h). Errors are
// kInvalidRequest naming what is wrong: the schema keyword and its JSON pointer, the regex offset, the
// grammar's line:col. Syntax and the supported subsets are documented in src/grammar/README.md.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "grammar/rule_set.h"

namespace tandem::grammar {

// JSON Schema. strict: unknown keywords are errors (annotations excepted) and a missing
// additionalProperties means false; otherwise unknown keywords are ignored and a missing
// additionalProperties allows extra members.
Result<RuleSet> json_schema_rules(std::string_view schema_json, bool strict);
// Any JSON object (response_format json_object).
RuleSet any_json_object_rules();
// The regex subset, as one rule matching the whole pattern (anchors implicit).
Result<RuleSet> regex_rules(std::string_view pattern);
// A regex as an Expr (for JSON Schema `pattern`): the language of Python's re.fullmatch(pattern).
Result<Expr> parse_regex(std::string_view pattern);
// A literal per option.
Result<RuleSet> choice_rules(std::span<const std::string> options);
// GBNF dialect; the root rule is `root`.
Result<RuleSet> gbnf_rules(std::string_view text);

}  // namespace tandem::grammar
