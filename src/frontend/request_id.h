// frontend::make_request_id: unique response ids such as "chatcmpl-<24 hex>".
// Random (per-thread generator seeded from std::random_device), so ids do not
// reveal request counts. Threading: thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace tandem::frontend {

std::string make_request_id(std::string_view prefix);

}  // namespace tandem::frontend
