// jinja::hf_variables: turns an apply_chat_template context into template
// variables exactly as transformers' render_jinja_template does (v5):
// `tools` and `documents` default to None and `add_generation_prompt` to
// False when absent, and every message with reasoning under
// `reasoning_content`, `thinking` or `reasoning` gets it under both
// `thinking` (first key, unless the message has its own) and
// `reasoning_content`. Fails (TemplateError via Result) only on context
// nesting deeper than kMaxJsonDepth.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"
#include "text/jinja/value.h"

namespace tandem::text::jinja {

Result<std::vector<std::pair<std::string, Value>>> hf_variables(const boost::json::object& context);

}  // namespace tandem::text::jinja
