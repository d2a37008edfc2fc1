// Test fixture: a frontend::ServedModel over the ByteTokenizer with a ChatML
// renderer written directly in C++ (the Jinja engine is tested on its own).
//
// Renderer test hooks: a message whose content is "RAISE_TEMPLATE_ERROR"
// fails like raise_exception() (kTemplateError); chat_template_kwargs
// enable_thinking=false appends an empty think block (as Qwen3's template);
// `tools` are listed in a system block.
#pragma once

#include <string>

#include <boost/json/object.hpp>

#include "common/status.h"
#include "frontend/served_model.h"

namespace tandem::test {

Result<std::string> render_chatml(const boost::json::object& context);

// name "tandem-test", eos = <|endoftext|>, created 1700000000.
frontend::ServedModel make_test_model(int max_context = 4096, const std::string& name = "tandem-test");

}  // namespace tandem::test
