#include "frontend/responses_writer.h"

#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace tandem::frontend {
namespace {

namespace json = boost::json;

const json::value* present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::string_view string_or_empty(const json::object& o, std::string_view key) {
  const json::value* v = present(o, key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// Chat usage -> Responses usage.
json::value responses_usage(const json::object& usage) {
  const auto count = [&](const char* key) {
    const json::value* v = present(usage, key);
    return v != nullptr && v->is_int64() ? v->get_int64() : int64_t{0};
  };
  int64_t cached = 0;
  if (const json::value* d = present(usage, "prompt_tokens_details"); d != nullptr && d->is_object()) {
    if (const json::value* c = present(d->get_object(), "cached_tokens"); c != nullptr && c->is_int64()) {
      cached = c->get_int64();
    }
  }
  return json::object{{"input_tokens", count("prompt_tokens")},
                      {"input_tokens_details", json::object{{"cached_tokens", cached}, {"cache_write_tokens", 0}}},
                      {"output_tokens", count("completion_tokens")},
                      {"output_tokens_details", json::object{{"reasoning_tokens", 0}}},
                      {"total_tokens", count("total_tokens")}};
}

json::object text_part(const char* type, std::string_view text) {
  json::object part{{"type", type}, {"text", text}};
  if (std::string_view(type) == "output_text") {
    part["annotations"] = json::array();
    part["logprobs"] = json::array();
  }
  return part;
}

}  // namespace

ResponsesWriter::ResponsesWriter(std::shared_ptr<const ResponsesPlan> plan, std::string id, int64_t created,
                                 std::string model)
    : plan_(std::move(plan)), id_(std::move(id)), created_(created), model_(std::move(model)) {}

void ResponsesWriter::emit(std::string& out, const char* type, json::object event) {
  event["type"] = type;
  event["sequence_number"] = sequence_++;
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += json::serialize(event);
  out += "\n\n";
}

json::object ResponsesWriter::response_object(const char* status) const {
  json::object r = plan_->echo;
  r["id"] = id_;
  r["object"] = "response";
  r["created_at"] = created_;
  r["model"] = model_;
  r["status"] = status;
  r["output"] = output_;
  r["usage"] = usage_;
  r["error"] = error_;
  r["incomplete_details"] = std::string_view(status) == "incomplete"
                                ? json::value(json::object{{"reason", "max_output_tokens"}})
                                : json::value(nullptr);
  return r;
}

void ResponsesWriter::rewrite(std::string& out, size_t from) {
  const std::string chat = out.substr(from);
  out.resize(from);
  size_t pos = 0;
  while (pos < chat.size()) {
    const size_t end = chat.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string_view event = std::string_view(chat).substr(pos, end - pos);
    pos = end + 2;
    if (event.substr(0, 6) != "data: ") continue;
    const std::string_view payload = event.substr(6);
    if (payload == "[DONE]") {
      finish(out);
      continue;
    }
    boost::system::error_code ec;
    json::value chunk = json::parse(payload, ec);
    if (!ec && chunk.is_object()) on_chunk(chunk.get_object(), out);
  }
}

void ResponsesWriter::on_chunk(const json::object& chunk, std::string& out) {
  if (ended_) return;
  if (!started_) {
    started_ = true;
    emit(out, "response.created", json::object{{"response", response_object("in_progress")}});
    emit(out, "response.in_progress", json::object{{"response", response_object("in_progress")}});
  }
  if (const json::value* err = present(chunk, "error"); err != nullptr && err->is_object()) {
    const json::object& e = err->get_object();
    const json::value* code = present(e, "code");
    json::value c = code != nullptr ? *code : json::value(present(e, "type") ? e.at("type") : json::value(nullptr));
    error_ = json::object{{"code", c}, {"message", string_or_empty(e, "message")}};
    emit(out, "error",
         json::object{{"code", c},
                      {"message", string_or_empty(e, "message")},
                      {"param", present(e, "param") ? e.at("param") : json::value(nullptr)}});
    emit(out, "response.failed", json::object{{"response", response_object("failed")}});
    ended_ = true;
    return;
  }
  const json::value* choices = present(chunk, "choices");
  if (choices == nullptr || !choices->is_array() || choices->get_array().empty()) {
    if (const json::value* u = present(chunk, "usage"); u != nullptr && u->is_object()) {
      usage_ = responses_usage(u->get_object());
    }
    return;
  }
  const json::object* choice = choices->get_array()[0].if_object();
  if (choice == nullptr) return;
  if (const json::value* d = present(*choice, "delta"); d != nullptr && d->is_object()) {
    const json::object& delta = d->get_object();
    if (const std::string_view r = string_or_empty(delta, "reasoning_content"); !r.empty()) {
      if (open_ != Open::kReasoning) open_item(out, Open::kReasoning);
      open_text_ += r;
      json::object ev{{"item_id", "rs_" + id_ + "_" + std::to_string(output_.size())},
                      {"output_index", output_.size()},
                      {"content_index", 0},
                      {"delta", r}};
      emit(out, "response.reasoning_text.delta", std::move(ev));
    }
    if (const std::string_view c = string_or_empty(delta, "content"); !c.empty()) {
      if (open_ != Open::kMessage) open_item(out, Open::kMessage);
      open_text_ += c;
      text_ += c;
      json::object ev{{"item_id", "msg_" + id_ + "_" + std::to_string(output_.size())},
                      {"output_index", output_.size()},
                      {"content_index", 0},
                      {"delta", c},
                      {"logprobs", json::array()}};
      emit(out, "response.output_text.delta", std::move(ev));
    }
    if (const json::value* calls = present(delta, "tool_calls"); calls != nullptr && calls->is_array()) {
      close_item(out);
      for (const auto& call : calls->get_array()) {
        if (call.is_object()) add_call(out, call.get_object(), true);
      }
    }
  }
  if (const std::string_view reason = string_or_empty(*choice, "finish_reason"); !reason.empty()) {
    close_item(out);
    if (reason == "length") status_ = "incomplete";
  }
}

void ResponsesWriter::open_item(std::string& out, Open kind) {
  close_item(out);
  open_ = kind;
  open_text_.clear();
  const bool message = kind == Open::kMessage;
  const std::string item_id = (message ? "msg_" : "rs_") + id_ + "_" + std::to_string(output_.size());
  json::object item = message ? json::object{{"id", item_id},
                                             {"type", "message"},
                                             {"role", "assistant"},
                                             {"status", "in_progress"},
                                             {"content", json::array()}}
                              : json::object{{"id", item_id},
                                             {"type", "reasoning"},
                                             {"summary", json::array()},
                                             {"content", json::array()},
                                             {"status", "in_progress"}};
  emit(out, "response.output_item.added", json::object{{"output_index", output_.size()}, {"item", std::move(item)}});
  emit(out, "response.content_part.added",
       json::object{{"item_id", item_id},
                    {"output_index", output_.size()},
                    {"content_index", 0},
                    {"part", text_part(message ? "output_text" : "reasoning_text", "")}});
}

void ResponsesWriter::close_item(std::string& out) {
  if (open_ == Open::kNone) return;
  const bool message = open_ == Open::kMessage;
  open_ = Open::kNone;
  const std::string item_id = (message ? "msg_" : "rs_") + id_ + "_" + std::to_string(output_.size());
  json::object part = text_part(message ? "output_text" : "reasoning_text", open_text_);
  json::object done{{"item_id", item_id}, {"output_index", output_.size()}, {"content_index", 0}, {"text", open_text_}};
  if (message) done["logprobs"] = json::array();
  emit(out, message ? "response.output_text.done" : "response.reasoning_text.done", std::move(done));
  emit(out, "response.content_part.done",
       json::object{{"item_id", item_id}, {"output_index", output_.size()}, {"content_index", 0}, {"part", part}});
  json::object item = message ? json::object{{"id", item_id},
                                             {"type", "message"},
                                             {"role", "assistant"},
                                             {"status", "completed"},
                                             {"content", json::array{part}}}
                              : json::object{{"id", item_id},
                                             {"type", "reasoning"},
                                             {"summary", json::array()},
                                             {"content", json::array{part}},
                                             {"status", "completed"}};
  emit(out, "response.output_item.done", json::object{{"output_index", output_.size()}, {"item", item}});
  output_.push_back(std::move(item));
}

void ResponsesWriter::add_call(std::string& out, const json::object& call, bool streaming) {
  const json::value* fn = present(call, "function");
  if (fn == nullptr || !fn->is_object()) return;
  const std::string_view name = string_or_empty(fn->get_object(), "name");
  const std::string_view arguments = string_or_empty(fn->get_object(), "arguments");
  const std::string_view call_id = string_or_empty(call, "id");
  const std::string item_id = "fc_" + id_ + "_" + std::to_string(output_.size());
  json::object item{{"id", item_id}, {"type", "function_call"}, {"call_id", call_id},
                    {"name", name},  {"arguments", arguments},  {"status", "completed"}};
  if (streaming) {
    json::object added = item;
    added["arguments"] = "";
    added["status"] = "in_progress";
    emit(out, "response.output_item.added", json::object{{"output_index", output_.size()}, {"item", added}});
    emit(out, "response.function_call_arguments.delta",
         json::object{{"item_id", item_id}, {"output_index", output_.size()}, {"delta", arguments}});
    emit(out, "response.function_call_arguments.done",
         json::object{{"item_id", item_id}, {"output_index", output_.size()}, {"arguments", arguments}});
    emit(out, "response.output_item.done", json::object{{"output_index", output_.size()}, {"item", item}});
  }
  output_.push_back(std::move(item));
  calls_.push_back(json::object{
      {"id", call_id}, {"type", "function"}, {"function", json::object{{"name", name}, {"arguments", arguments}}}});
}

void ResponsesWriter::finish(std::string& out) {
  if (ended_) return;
  ended_ = true;
  close_item(out);
  const bool incomplete = std::string_view(status_) == "incomplete";
  emit(out, incomplete ? "response.incomplete" : "response.completed",
       json::object{{"response", response_object(status_)}});
  store_conversation();
}

void ResponsesWriter::store_conversation() {
  if (!plan_->store || !error_.is_null()) return;
  json::array conversation = plan_->conversation;
  json::object turn{{"role", "assistant"},
                    {"content", text_.empty() && !calls_.empty() ? json::value(nullptr) : json::value(text_)}};
  if (!calls_.empty()) turn["tool_calls"] = calls_;
  conversation.push_back(std::move(turn));
  plan_->store->put(id_, std::move(conversation));
}

std::string ResponsesWriter::body(std::string_view chat_body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(chat_body, ec);
  const json::object* chat = !ec ? parsed.if_object() : nullptr;
  const json::value* choices = chat != nullptr ? present(*chat, "choices") : nullptr;
  if (choices != nullptr && choices->is_array() && !choices->get_array().empty() &&
      choices->get_array()[0].is_object()) {
    const json::object& choice = choices->get_array()[0].get_object();
    const json::value* m = present(choice, "message");
    const json::object empty;
    const json::object& message = m != nullptr && m->is_object() ? m->get_object() : empty;
    const std::string_view reasoning = string_or_empty(message, "reasoning_content");
    const json::value* calls = present(message, "tool_calls");
    const bool has_calls = calls != nullptr && calls->is_array() && !calls->get_array().empty();
    if (!reasoning.empty()) {
      output_.push_back(json::object{{"id", "rs_" + id_ + "_" + std::to_string(output_.size())},
                                     {"type", "reasoning"},
                                     {"summary", json::array()},
                                     {"content", json::array{text_part("reasoning_text", reasoning)}},
                                     {"status", "completed"}});
    }
    text_ = string_or_empty(message, "content");
    if (!text_.empty() || !has_calls) {
      output_.push_back(json::object{{"id", "msg_" + id_ + "_" + std::to_string(output_.size())},
                                     {"type", "message"},
                                     {"role", "assistant"},
                                     {"status", "completed"},
                                     {"content", json::array{text_part("output_text", text_)}}});
    }
    if (has_calls) {
      std::string unused;
      for (const auto& call : calls->get_array()) {
        if (call.is_object()) add_call(unused, call.get_object(), false);
      }
    }
    if (string_or_empty(choice, "finish_reason") == "length") status_ = "incomplete";
  }
  if (const json::value* u = chat != nullptr ? present(*chat, "usage") : nullptr; u != nullptr && u->is_object()) {
    usage_ = responses_usage(u->get_object());
  }
  ended_ = true;
  store_conversation();
  return json::serialize(response_object(status_));
}

}  // namespace tandem::frontend
