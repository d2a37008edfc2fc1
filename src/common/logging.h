// Logging setup: spdlog's default logger writes to stderr (journald captures
// it under systemd). Components log through spdlog directly and put the
// component and request id in the message ("[frontend] req=chatcmpl-...").
//
// Formats: "text" = one human line per event, no timestamp prefix when stderr
// is connected to journald (JOURNAL_STREAM set: journald adds its own);
// "json" = one JSON object per line {"ts", "level", "msg"}.
#pragma once

#include <string>

namespace tandem {

// Configures the default logger. Call once, early in main (not thread-safe).
// level: trace|debug|info|warn|error|off; format: text|json.
void setup_logging(const std::string& level, const std::string& format);

// Appends `s` to `out` escaped for use inside a JSON string literal.
void append_json_escaped(std::string& out, const std::string& s);

}  // namespace tandem
