// frontend::append_response_head and friends: HTTP/1.1 response framing
// written straight into a connection's output buffer (one write per batch of
// responses or SSE events, no per-response allocation beyond the buffer).
// Threading: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::frontend {

using HeaderList = std::vector<std::pair<std::string_view, std::string_view>>;  // name, value

struct ResponseHead {
  int status = 200;
  std::string_view content_type = "application/json";
  bool keep_alive = true;
  bool http10 = false;   // HTTP/1.0 client: no chunked encoding
  bool chunked = false;  // Transfer-Encoding: chunked (streams); else Content-Length
  size_t content_length = 0;
  HeaderList headers;  // extra headers
};

const char* reason_phrase(int status);

void append_response_head(std::string& out, const ResponseHead& head);

// One chunk of a chunked body ("<hex>\r\n<data>\r\n"); empty data writes nothing.
void append_chunk(std::string& out, std::string_view data);
// The last chunk ("0\r\n\r\n").
void append_last_chunk(std::string& out);

}  // namespace tandem::frontend
