#include "frontend/http_response.h"

#include <charconv>

namespace tandem::frontend {

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 502: return "Bad Gateway";
    case 504: return "Gateway Timeout";
    case 508: return "Loop Detected";
    default: return "Unknown";
  }
}

void append_response_head(std::string& out, const ResponseHead& head) {
  char num[24];
  out += head.http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  auto r = std::to_chars(num, num + sizeof(num), head.status);
  out.append(num, r.ptr);
  out += ' ';
  out += reason_phrase(head.status);
  out += "\r\nServer: tandem\r\nContent-Type: ";
  out += head.content_type;
  if (head.chunked && !head.http10) {
    out += "\r\nTransfer-Encoding: chunked";
  } else if (!head.chunked) {
    out += "\r\nContent-Length: ";
    r = std::to_chars(num, num + sizeof(num), head.content_length);
    out.append(num, r.ptr);
  }
  if (!head.keep_alive) {
    out += "\r\nConnection: close";
  } else if (head.http10) {
    out += "\r\nConnection: keep-alive";
  }
  for (const auto& [name, value] : head.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  out += "\r\n\r\n";
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  char num[20];
  const auto r = std::to_chars(num, num + sizeof(num), data.size(), 16);
  out.append(num, r.ptr);
  out += "\r\n";
  out += data;
  out += "\r\n";
}

void append_last_chunk(std::string& out) { out += "0\r\n\r\n"; }

}  // namespace tandem::frontend
