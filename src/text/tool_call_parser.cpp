#include "text/tool_call_parser.h"

#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "text/output_scan.h"

namespace tandem::text {
namespace {

namespace json = boost::json;

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralCalls = "[TOOL_CALLS]";
constexpr std::string_view kMistralArgs = "[ARGS]";
constexpr std::string_view kMistralCallId = "[CALL_ID]";
constexpr std::string_view kPythonTag = "<|python_tag|>";
// [TOOL_CALLS]name[ARGS]: a name longer than this is not a call.
constexpr size_t kMaxMistralName = 256;

std::string_view trim(std::string_view s) { return trim_output_space_end(s.substr(skip_output_space(s, 0))); }

// s[begin] is '{' or '['; one past the bracket that closes it, or npos while
// the value is still open. Brackets inside strings (escapes included) do not count.
size_t json_value_end(std::string_view s, size_t begin) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = begin; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

std::optional<json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) return std::nullopt;
  return v;
}

std::optional<std::string> arguments_json(const json::object& call) {
  const json::value* args = call.if_contains("arguments");
  if (args == nullptr) args = call.if_contains("parameters");
  if (args == nullptr || args->is_null()) return std::string("{}");
  if (args->is_object()) return json::serialize(*args);
  if (args->is_string()) {
    auto inner = parse_json(args->get_string());
    if (inner && inner->is_object()) return json::serialize(*inner);
  }
  return std::nullopt;
}

std::optional<ToolCall> call_from_value(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  const json::value* name = o.if_contains("name");
  if (name == nullptr || !name->is_string() || name->get_string().empty()) return std::nullopt;
  auto args = arguments_json(o);
  if (!args) return std::nullopt;
  return ToolCall{std::string(name->get_string()), std::move(*args)};
}

// A call object, or a non-empty array of them (all must be calls).
std::optional<std::vector<ToolCall>> calls_from_text(std::string_view text) {
  auto v = parse_json(text);
  if (!v) return std::nullopt;
  std::vector<ToolCall> calls;
  if (v->is_array()) {
    for (const auto& item : v->get_array()) {
      auto call = call_from_value(item);
      if (!call) return std::nullopt;
      calls.push_back(std::move(*call));
    }
    if (calls.empty()) return std::nullopt;
    return calls;
  }
  auto call = call_from_value(*v);
  if (!call) return std::nullopt;
  calls.push_back(std::move(*call));
  return calls;
}

}  // namespace

std::string_view tool_call_format_name(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kNone: return "none";
    case ToolCallFormat::kHermes: return "hermes";
    case ToolCallFormat::kMistral: return "mistral";
    case ToolCallFormat::kLlama3Json: return "llama3_json";
  }
  return "none";
}

std::optional<ToolCallFormat> tool_call_format_from_name(std::string_view name) {
  for (auto f :
       {ToolCallFormat::kNone, ToolCallFormat::kHermes, ToolCallFormat::kMistral, ToolCallFormat::kLlama3Json}) {
    if (tool_call_format_name(f) == name) return f;
  }
  return std::nullopt;
}

ToolCallFormat detect_tool_call_format(std::string_view chat_template) {
  const auto has = [&](std::string_view s) { return chat_template.find(s) != std::string_view::npos; };
  if (has(kHermesOpen)) return ToolCallFormat::kHermes;
  if (has(kMistralCalls)) return ToolCallFormat::kMistral;
  // Llama 3.1 names the python tag; 3.2 and 3.3 only teach the JSON shape.
  if (has(kPythonTag) || (has("<|start_header_id|>") && has("\"parameters\""))) {
    return ToolCallFormat::kLlama3Json;
  }
  return ToolCallFormat::kNone;
}

ToolCallParser::ToolCallParser(ToolCallFormat format)
    : format_(format),
      state_(format == ToolCallFormat::kNone         ? State::kPlain
             : format == ToolCallFormat::kLlama3Json ? State::kStart
                                                     : State::kText) {}

void ToolCallParser::push(std::string_view text, std::vector<ToolCallPiece>& out) {
  buf_.append(text);
  scan(false, out);
}

void ToolCallParser::finish(std::vector<ToolCallPiece>& out) {
  scan(true, out);
  if (!buf_.empty()) {  // scanners leave nothing at the end; keep the text if one did
    emit_content(buf_, out);
    buf_.clear();
  }
}

void ToolCallParser::scan(bool at_end, std::vector<ToolCallPiece>& out) {
  for (;;) {
    if (drop_leading_space_) {
      const size_t n = skip_output_space(buf_, 0);
      buf_.erase(0, n);
      if (buf_.empty()) return;
      drop_leading_space_ = false;
    }
    bool again = false;
    switch (state_) {
      case State::kStart: again = scan_start(at_end, out); break;
      case State::kText: again = scan_text(at_end, out); break;
      case State::kCall:
        switch (format_) {
          case ToolCallFormat::kHermes: again = scan_hermes_call(at_end, out); break;
          case ToolCallFormat::kMistral: again = scan_mistral_call(at_end, out); break;
          case ToolCallFormat::kLlama3Json: again = scan_llama_call(at_end, out); break;
          case ToolCallFormat::kNone:
            state_ = State::kPlain;
            again = true;
            break;
        }
        break;
      case State::kPlain:
        emit_content(buf_, out);
        buf_.clear();
        break;
    }
    if (!again) return;
  }
}

void ToolCallParser::emit_content(std::string_view text, std::vector<ToolCallPiece>& out) {
  if (text.empty()) return;
  if (!out.empty() && !out.back().call) {
    out.back().content.append(text);
  } else {
    out.push_back(ToolCallPiece{std::string(text), std::nullopt});
  }
}

void ToolCallParser::emit_call(ToolCall call, std::vector<ToolCallPiece>& out) {
  out.push_back(ToolCallPiece{std::string(), std::move(call)});
  ++calls_;
}

void ToolCallParser::end_block() {
  marker_.clear();
  state_ = State::kText;
}

// kLlama3Json: the output is calls only when it starts with the python tag or "{".
bool ToolCallParser::scan_start(bool at_end, std::vector<ToolCallPiece>& out) {
  const size_t i = skip_output_space(buf_, 0);
  if (i == buf_.size()) {
    if (at_end) {
      emit_content(buf_, out);
      buf_.clear();
    }
    return false;
  }
  const std::string_view rest = std::string_view(buf_).substr(i);
  if (rest.substr(0, kPythonTag.size()) == kPythonTag) {
    marker_ = buf_.substr(0, i + kPythonTag.size());
    buf_.erase(0, i + kPythonTag.size());
    state_ = State::kCall;
    return true;
  }
  if (rest.front() == '{') {
    marker_ = buf_.substr(0, i);
    buf_.erase(0, i);
    state_ = State::kCall;
    return true;
  }
  if (!at_end && rest.size() < kPythonTag.size() && kPythonTag.substr(0, rest.size()) == rest) {
    return false;  // could still become the tag
  }
  state_ = State::kPlain;
  return true;
}

bool ToolCallParser::scan_text(bool at_end, std::vector<ToolCallPiece>& out) {
  const std::string_view marker = format_ == ToolCallFormat::kHermes ? kHermesOpen : kMistralCalls;
  const size_t pos = buf_.find(marker);
  if (pos != std::string::npos) {
    size_t gap = pos;
    while (gap > 0 && is_output_space(buf_[gap - 1])) --gap;
    emit_content(std::string_view(buf_).substr(0, gap), out);
    marker_ = buf_.substr(gap, pos + marker.size() - gap);  // the dropped space + the marker
    buf_.erase(0, pos + marker.size());
    state_ = State::kCall;
    return true;
  }
  if (at_end) {
    emit_content(buf_, out);
    buf_.clear();
    return false;
  }
  size_t keep = buf_.size() - partial_marker_length(buf_, marker);
  while (keep > 0 && is_output_space(buf_[keep - 1])) --keep;
  emit_content(std::string_view(buf_).substr(0, keep), out);
  buf_.erase(0, keep);
  return false;
}

bool ToolCallParser::scan_hermes_call(bool at_end, std::vector<ToolCallPiece>& out) {
  size_t body_end = buf_.find(kHermesClose);
  size_t consumed = 0;
  if (body_end != std::string::npos) {
    consumed = body_end + kHermesClose.size();
  } else if (at_end) {
    body_end = buf_.size();
    consumed = buf_.size();
  } else {
    return false;
  }
  auto calls = calls_from_text(trim(std::string_view(buf_).substr(0, body_end)));
  if (calls && calls->size() == 1) {
    emit_call(std::move(calls->front()), out);
    drop_leading_space_ = true;
  } else {
    emit_content(marker_ + buf_.substr(0, consumed), out);
  }
  buf_.erase(0, consumed);
  end_block();
  return true;
}

bool ToolCallParser::scan_mistral_call(bool at_end, std::vector<ToolCallPiece>& out) {
  // The block failed: its text so far (marker included) is content.
  const auto fail = [&](size_t consumed) {
    emit_content(marker_ + buf_.substr(0, consumed), out);
    buf_.erase(0, consumed);
    end_block();
    return true;
  };
  const size_t i = skip_output_space(buf_, 0);
  if (i == buf_.size()) return at_end ? fail(buf_.size()) : false;

  if (buf_[i] == '[' || buf_[i] == '{') {  // v3: a JSON list of calls (or one call)
    const size_t end = json_value_end(buf_, i);
    if (end == std::string::npos) return at_end ? fail(buf_.size()) : false;
    auto calls = calls_from_text(std::string_view(buf_).substr(i, end - i));
    if (!calls) return fail(end);
    for (auto& call : *calls) emit_call(std::move(call), out);
    buf_.erase(0, end);
    drop_leading_space_ = true;
    end_block();
    return true;
  }

  // v7+: name, optionally [CALL_ID]id, then [ARGS] and a JSON object, with
  // [ARGS] at most kMaxMistralName bytes on and no other marker before it.
  // Otherwise only the marker is text and the rest is scanned again (a later
  // marker in it still starts a call), so the outcome does not depend on how
  // much of the output has arrived.
  const size_t args = buf_.find(kMistralArgs, i);
  if (buf_.find(kMistralCalls, i) < args) return fail(i);
  if (args == std::string::npos) {
    if (at_end || buf_.size() - i >= kMaxMistralName + kMistralArgs.size()) return fail(i);
    return false;
  }
  if (args - i > kMaxMistralName) return fail(i);
  std::string_view name = std::string_view(buf_).substr(i, args - i);
  if (const size_t id = name.find(kMistralCallId); id != std::string_view::npos) name = name.substr(0, id);
  name = trim(name);
  if (name.empty() || name.size() > kMaxMistralName) return fail(args + kMistralArgs.size());
  const size_t j = skip_output_space(buf_, args + kMistralArgs.size());
  if (j == buf_.size()) return at_end ? fail(buf_.size()) : false;
  if (buf_[j] != '{') return fail(j);
  const size_t end = json_value_end(buf_, j);
  if (end == std::string::npos) return at_end ? fail(buf_.size()) : false;
  auto object = parse_json(std::string_view(buf_).substr(j, end - j));
  if (!object || !object->is_object()) return fail(end);
  emit_call(ToolCall{std::string(name), json::serialize(*object)}, out);
  buf_.erase(0, end);
  drop_leading_space_ = true;
  end_block();
  return true;
}

bool ToolCallParser::scan_llama_call(bool at_end, std::vector<ToolCallPiece>& out) {
  // Not a call: the rest of the output is text (with the prefix, when no call came yet).
  const auto plain = [&]() {
    if (calls_ == 0) emit_content(marker_, out);
    marker_.clear();
    state_ = State::kPlain;
    return true;
  };
  size_t i = skip_output_space(buf_, 0);
  if (calls_ > 0) {  // after a call: ";" and the next one, or the end
    if (i == buf_.size()) {
      if (at_end) buf_.clear();
      return false;
    }
    if (buf_[i] != ';') return plain();
    i = skip_output_space(buf_, i + 1);
    if (i == buf_.size()) {
      if (at_end) return plain();
      return false;
    }
  }
  if (i == buf_.size()) return at_end ? plain() : false;
  if (buf_[i] != '{') return plain();
  const size_t end = json_value_end(buf_, i);
  if (end == std::string::npos) return at_end ? plain() : false;
  auto calls = calls_from_text(std::string_view(buf_).substr(i, end - i));
  if (!calls || calls->size() != 1) return plain();
  emit_call(std::move(calls->front()), out);
  buf_.erase(0, end);
  drop_leading_space_ = true;
  return true;
}

}  // namespace tandem::text
