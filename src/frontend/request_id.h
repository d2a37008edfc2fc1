// frontend::make_request_id: unique response ids such as "chatcmpl-<24 hex>".
// Random (per-thread generator seeded from std::random_device), so ids do not
// reveal request counts. Threading: thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace tandem::frontend {

std::string make_request_id(std::string_view prefix);

// A tool call's id: "call_" + 24 random letters and digits (OpenAI's shape),
// or, for Mistral's format, 9 letters and digits (Mistral's templates refuse
// any other length when the call comes back in a later turn).
std::string make_tool_call_id(bool mistral);

}  // namespace tandem::frontend
