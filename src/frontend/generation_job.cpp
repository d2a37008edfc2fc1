#include "frontend/generation_job.h"

#include <algorithm>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/check.h"
#include "frontend/http_errors.h"
#include "frontend/json_text.h"
#include "frontend/request_id.h"

namespace tandem::frontend {

using scheduler::FinishReason;

namespace {

// `{"id":...,"type":"function","function":{"name":...,"arguments":...}}`, with
// `"index":k,` first when streaming.
void append_tool_call(std::string& out, int stream_index, const std::string& id, const text::ToolCall& call) {
  out += '{';
  if (stream_index >= 0) {
    out += "\"index\":";
    append_json_int(out, stream_index);
    out += ',';
  }
  out += "\"id\":";
  append_json_string(out, id);
  out += ",\"type\":\"function\",\"function\":{\"name\":";
  append_json_string(out, call.name);
  out += ",\"arguments\":";
  append_json_string(out, call.arguments);
  out += "}}";
}

}  // namespace

GenerationJob::Choice::Choice(const text::Tokenizer& tok, const GenerationOptions& o, const JobPlan& plan)
    : detok(tok, o.skip_special_tokens),
      stops(o.stop, o.include_stop_str_in_output),
      reasoning_parser(plan.reasoning_format, plan.reasoning_opened),
      tools(plan.tool_format) {}

void GenerationJob::Choice::clear_logprobs() {
  lp_content.clear();
  lp_tokens.clear();
  lp_token_logprobs.clear();
  lp_top.clear();
  lp_offsets.clear();
}

GenerationJob::GenerationJob(JobPlan plan, const ServedModel& model, std::string id, int64_t created,
                             RequestMetrics* metrics, Clock::time_point arrival)
    : plan_(std::move(plan)),
      model_(model),
      tok_(*model.tokenizer),
      id_(std::move(id)),
      created_(created),
      metrics_(metrics),
      arrival_(arrival) {
  const int n = plan_.options.n;
  choices_.reserve(static_cast<size_t>(plan_.choice_count()));
  for (int i = 0; i < plan_.choice_count(); ++i) {
    choices_.emplace_back(tok_, plan_.options, plan_);
    Choice& c = choices_.back();
    c.prompt_index = i / n;
    c.request_id = id_ + "-" + std::to_string(i);
    c.last_event = arrival_;
    if (plan_.options.echo) {
      c.text = plan_.prompts[static_cast<size_t>(c.prompt_index)].echo_text;
      c.decoded = c.text.size();
    }
  }
  open_choices_ = static_cast<int>(choices_.size());
  cached_.assign(plan_.prompts.size(), -1);
  if (metrics_ != nullptr) {
    int prompt_total = 0;
    for (const auto& p : plan_.prompts) prompt_total += static_cast<int>(p.tokens.size());
    metrics_->prompt_tokens.inc(prompt_total);
  }

  const bool chat = plan_.api == ApiKind::kChat;
  chunk_prefix_ = "data: {\"id\":";
  append_json_string(chunk_prefix_, id_);
  chunk_prefix_ +=
      chat ? ",\"object\":\"chat.completion.chunk\",\"created\":" : ",\"object\":\"text_completion\",\"created\":";
  append_json_int(chunk_prefix_, created_);
  chunk_prefix_ += ",\"model\":";
  append_json_string(chunk_prefix_, model_.name);
  chunk_prefix_ += ",\"choices\":[";
  if (plan_.responses) responses_ = std::make_unique<ResponsesWriter>(plan_.responses, id_, created_, model_.name);
}

scheduler::GenerationRequest GenerationJob::make_request(int choice) const {
  const Choice& c = choices_[static_cast<size_t>(choice)];
  const PlannedPrompt& p = plan_.prompts[static_cast<size_t>(c.prompt_index)];
  scheduler::GenerationRequest r;
  r.id = c.request_id;
  r.prompt = p.tokens;
  r.sampling = plan_.sampling;
  if (r.sampling.seed) *r.sampling.seed += static_cast<uint64_t>(choice);
  r.stop = plan_.stop;
  r.cache_salt = plan_.options.cache_salt;
  r.stop.max_tokens = p.max_tokens;
  if (plan_.constraint) r.constraint = plan_.constraint();  // one matcher per choice
  return r;
}

void GenerationJob::open_stream(std::string& out) {
  const bool chat = plan_.api == ApiKind::kChat;
  // Chat opens every choice with its role; completions stream no role, and
  // with echo the prompt text comes first.
  if (!chat && !plan_.options.echo) return;
  const size_t mark = out.size();
  for (size_t i = 0; i < choices_.size(); ++i) {
    out += chunk_prefix_;
    out += "{\"index\":";
    append_json_int(out, static_cast<int64_t>(i));
    if (chat) {
      out += ",\"delta\":{\"role\":\"assistant\",\"content\":\"\"}";
    } else {
      out += ",\"text\":";
      append_json_string(out, choices_[i].text);
    }
    out += ",\"logprobs\":null,\"finish_reason\":null}]";
    append_chunk_usage(out, choices_[i]);
    out += "}\n\n";
  }
  if (responses_) responses_->rewrite(out, mark);
}

void GenerationJob::append_chunk_usage(std::string& out, const Choice& c) const {
  if (!plan_.options.include_usage) return;
  if (!plan_.options.continuous_usage_stats) {
    out += ",\"usage\":null";
    return;
  }
  const int prompt = static_cast<int>(plan_.prompts[static_cast<size_t>(c.prompt_index)].tokens.size());
  out += ",\"usage\":{\"prompt_tokens\":";
  append_json_int(out, prompt);
  out += ",\"completion_tokens\":";
  append_json_int(out, c.tokens);
  out += ",\"total_tokens\":";
  append_json_int(out, prompt + c.tokens);
  out += '}';
}

void GenerationJob::append_logprob(Choice& c, const engine::SampledToken& t, size_t text_offset) {
  const auto token_text = [&](int32_t id) {
    std::string s;
    if (tok_.kind(id) == text::TokenKind::kControl) {
      s = tok_.token_text(id);
    } else {
      text::append_utf8_lossy(tok_.token_bytes(id), false, s);
    }
    return s;
  };
  const auto bytes_array = [&](std::string& out, int32_t id) {
    const std::string raw = tok_.kind(id) == text::TokenKind::kControl ? tok_.token_text(id) : tok_.token_bytes(id);
    out += '[';
    for (size_t i = 0; i < raw.size(); ++i) {
      if (i != 0) out += ',';
      append_json_int(out, static_cast<unsigned char>(raw[i]));
    }
    out += ']';
  };
  if (plan_.api == ApiKind::kChat) {
    auto& o = c.lp_content;
    if (!o.empty()) o += ',';
    o += "{\"token\":";
    append_json_string(o, token_text(t.token));
    o += ",\"logprob\":";
    append_json_number(o, t.logprob);
    o += ",\"bytes\":";
    bytes_array(o, t.token);
    o += ",\"top_logprobs\":[";
    for (size_t k = 0; k < t.top.size(); ++k) {
      if (k != 0) o += ',';
      o += "{\"token\":";
      append_json_string(o, token_text(t.top[k].token));
      o += ",\"logprob\":";
      append_json_number(o, t.top[k].logprob);
      o += ",\"bytes\":";
      bytes_array(o, t.top[k].token);
      o += '}';
    }
    o += "]}";
    return;
  }
  const bool first = c.lp_tokens.empty();
  if (!first) {
    c.lp_tokens += ',';
    c.lp_token_logprobs += ',';
    c.lp_top += ',';
    c.lp_offsets += ',';
  }
  append_json_string(c.lp_tokens, token_text(t.token));
  append_json_number(c.lp_token_logprobs, t.logprob);
  c.lp_top += '{';
  for (size_t k = 0; k < t.top.size(); ++k) {
    if (k != 0) c.lp_top += ',';
    append_json_string(c.lp_top, token_text(t.top[k].token));
    c.lp_top += ':';
    append_json_number(c.lp_top, t.top[k].logprob);
  }
  c.lp_top += '}';
  append_json_int(c.lp_offsets, static_cast<int64_t>(text_offset));
}

void GenerationJob::append_logprobs_object(std::string& out, const Choice& c) const {
  if (plan_.options.logprobs < 0) {
    out += "null";
    return;
  }
  if (plan_.api == ApiKind::kChat) {
    out += "{\"content\":[";
    out += c.lp_content;
    out += "]}";
    return;
  }
  out += "{\"tokens\":[";
  out += c.lp_tokens;
  out += "],\"token_logprobs\":[";
  out += c.lp_token_logprobs;
  out += "],\"top_logprobs\":[";
  out += c.lp_top;
  out += "],\"text_offset\":[";
  out += c.lp_offsets;
  out += "]}";
}

void GenerationJob::open_chunk(std::string& out, int index) const {
  out += chunk_prefix_;
  out += "{\"index\":";
  append_json_int(out, index);
  out += plan_.api == ApiKind::kChat ? ",\"delta\":" : ",\"text\":";
}

void GenerationJob::close_chunk(std::string& out, const Choice& c) const {
  out += ",\"logprobs\":";
  append_logprobs_object(out, c);
  out += ",\"finish_reason\":null}]";
  append_chunk_usage(out, c);
  out += "}\n\n";
}

void GenerationJob::write_chunk(std::string& out, int index, const Choice& c, std::string_view delta) {
  open_chunk(out, index);
  if (plan_.api == ApiKind::kChat) {
    out += "{\"content\":";
    append_json_string(out, delta);
    out += '}';
  } else {
    append_json_string(out, delta);
  }
  close_chunk(out, c);
}

void GenerationJob::write_tool_call_chunk(std::string& out, int index, const Choice& c, const EmittedCall& call) {
  open_chunk(out, index);
  out += "{\"tool_calls\":[";
  append_tool_call(out, c.calls_emitted - 1, call.id, call.call);
  out += "]}";
  close_chunk(out, c);
}

void GenerationJob::write_reasoning_chunk(std::string& out, int index, const Choice& c, std::string_view reasoning) {
  open_chunk(out, index);
  out += "{\"reasoning_content\":";
  append_json_string(out, reasoning);
  out += ",\"reasoning\":";
  append_json_string(out, reasoning);
  out += '}';
  close_chunk(out, c);
}

void GenerationJob::write_finish_chunk(std::string& out, int index, const Choice& c) {
  open_chunk(out, index);
  out += plan_.api == ApiKind::kChat ? "{}" : "\"\"";
  out += ",\"logprobs\":null,\"finish_reason\":\"";
  out += c.finish_reason;
  out += "\",\"stop_reason\":";
  out += c.stop_reason;
  out += "}]";
  append_chunk_usage(out, c);
  out += "}\n\n";
}

void GenerationJob::finish_choice(Choice& c, const char* reason, Clock::time_point at) {
  TANDEM_CHECK(!c.done);
  c.done = true;
  c.finish_reason = reason;
  --open_choices_;
  if (metrics_ != nullptr) {
    metrics_->e2e_latency.observe(std::chrono::duration<double>(at - arrival_).count());
    metrics_->request_finished(reason);
    const PlannedPrompt& prompt = plan_.prompts[static_cast<size_t>(c.prompt_index)];
    metrics_->request_prompt_tokens.observe(static_cast<double>(prompt.tokens.size()));
    metrics_->request_generation_tokens.observe(c.tokens);
    metrics_->request_max_tokens.observe(prompt.max_tokens);
    if (c.tokens > 0) {
      const double to_first = std::chrono::duration<double>(c.first_token_at - arrival_).count();
      metrics_->prefill_time.observe(std::max(0.0, to_first - c.queue_seconds));
      metrics_->decode_time.observe(std::chrono::duration<double>(at - c.first_token_at).count());
    }
  }
}

void GenerationJob::fail(int failed_choice, const Status& error, std::vector<std::string>& cancel_ids) {
  if (error_.ok()) error_ = error;
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    if (c.done) continue;
    c.done = true;
    c.finish_reason = "error";
    --open_choices_;
    // The failed choice has ended already; the others are still running.
    if (static_cast<int>(i) != failed_choice) cancel_ids.push_back(c.request_id);
  }
}

void GenerationJob::abort_open(Clock::time_point at, std::string& out, std::vector<std::string>& cancel_ids) {
  for (int i = 0; i < choice_count(); ++i) {
    Choice& c = choices_[static_cast<size_t>(i)];
    if (c.done) continue;
    cancel_ids.push_back(c.request_id);
    c.seen_first = true;  // no queue time to observe: it never ran, or it did and was observed
    scheduler::TokenEvent ev;
    ev.finish = FinishReason::kCancelled;
    on_event(i, std::move(ev), at, out, cancel_ids);
  }
}

void GenerationJob::on_event(int choice, scheduler::TokenEvent&& ev, Clock::time_point at, std::string& out,
                             std::vector<std::string>& cancel_ids) {
  TANDEM_CHECK(choice >= 0 && choice < choice_count());
  Choice& c = choices_[static_cast<size_t>(choice)];
  if (c.done) return;  // after a stop string or a failure: late events are ignored
  const bool streaming = plan_.options.stream;
  const size_t mark = out.size();

  if (!c.seen_first) {
    c.seen_first = true;
    int& cached = cached_[static_cast<size_t>(c.prompt_index)];
    if (cached < 0) cached = ev.cached_tokens;
    c.queue_seconds = ev.queue_seconds;
    if (metrics_ != nullptr) metrics_->queue_time.observe(ev.queue_seconds);
  }
  if (ev.finish == FinishReason::kError) {
    fail(choice, ev.error.ok() ? Status(ErrorKind::kInternal, "generation failed") : ev.error, cancel_ids);
    return;
  }

  const size_t n = ev.tokens.size();
  if (n > 0 && c.tokens == 0) c.first_token_at = at;
  if (n > 0 && metrics_ != nullptr) {
    if (c.tokens == 0) {
      metrics_->ttft.observe(std::chrono::duration<double>(at - arrival_).count());
    } else {
      const double gap = std::chrono::duration<double>(at - c.last_event).count() / static_cast<double>(n);
      for (size_t k = 0; k < n; ++k) metrics_->inter_token_latency.observe(gap);
    }
  }
  c.last_event = at;

  delta_.clear();
  bool stopped = false;
  int counted = 0;
  for (size_t k = 0; k < n && !stopped; ++k) {
    const auto& t = ev.tokens[k];
    ++counted;
    if (ev.stop_token && k + 1 == n && t.token == *ev.stop_token) break;  // counted, not rendered
    scratch_.clear();
    const size_t offset = c.decoded;
    c.decoded += c.detok.push(t.token, scratch_);
    if (plan_.options.logprobs >= 0) append_logprob(c, t, offset);
    stopped = c.stops.push(scratch_, delta_);
  }
  c.tokens += counted;
  if (metrics_ != nullptr) metrics_->generation_tokens.inc(counted);

  const char* reason = nullptr;
  if (stopped) {
    reason = "stop";
    cancel_ids.push_back(c.request_id);
  } else if (ev.finish != FinishReason::kNone) {
    scratch_.clear();
    c.decoded += c.detok.finish(scratch_);
    if (c.stops.push(scratch_, delta_)) {
      reason = "stop";
    } else {
      if (ev.finish == FinishReason::kStop && ev.stop_token && *ev.stop_token != tok_.eos_id()) {
        c.stop_reason = std::to_string(*ev.stop_token);
      }
      c.stops.finish(delta_);
      switch (ev.finish) {
        case FinishReason::kStop: reason = "stop"; break;
        case FinishReason::kLength: reason = "length"; break;
        case FinishReason::kCancelled: reason = "abort"; break;
        case FinishReason::kNone:
        case FinishReason::kError: TANDEM_CHECK(false); break;
      }
    }
  }

  if (plan_.reasoning_format != text::ReasoningFormat::kNone) {
    split_reasoning(c, choice, streaming, reason != nullptr, out);
  }
  if (plan_.tool_format != text::ToolCallFormat::kNone) {
    c.tools.push(delta_, pieces_);
    if (reason != nullptr) c.tools.finish(pieces_);
  }
  if (plan_.forced_tools != ToolChoice::kNone) {
    c.forced_text += delta_;
    delta_.clear();
    if (reason != nullptr) forced_tool_pieces(c);
  }
  emit_output(c, choice, streaming, out);
  if (reason != nullptr) {
    if (c.stops.stopped()) {
      c.stop_reason.clear();
      append_json_string(c.stop_reason, c.stops.matched());
    }
    finish_choice(c, reason, at);
    // OpenAI's reason for a turn that ended in calls; a call forced by name
    // ends by "stop", as OpenAI and vLLM report it.
    if (c.calls_emitted > 0 && std::string_view(reason) == "stop" && plan_.forced_tools != ToolChoice::kNamed) {
      c.finish_reason = "tool_calls";
    }
    if (streaming) write_finish_chunk(out, choice, c);
  }
  if (responses_) responses_->rewrite(out, mark);
}

void GenerationJob::split_reasoning(Choice& c, int index, bool streaming, bool at_end, std::string& out) {
  reasoning_delta_.clear();
  answer_delta_.clear();
  c.reasoning_parser.push(delta_, reasoning_delta_, answer_delta_);
  if (at_end) c.reasoning_parser.finish(reasoning_delta_, answer_delta_);
  delta_.swap(answer_delta_);
  if (reasoning_delta_.empty() || !plan_.include_reasoning) return;
  if (!streaming) {
    c.reasoning += reasoning_delta_;
    return;
  }
  write_reasoning_chunk(out, index, c, reasoning_delta_);
  c.clear_logprobs();  // the event's logprobs ride on its first chunk
}

void GenerationJob::emit_output(Choice& c, int index, bool streaming, std::string& out) {
  bool wrote = false;
  const auto emit_text = [&](std::string_view text) {
    if (text.empty()) return;
    if (!streaming) {
      c.text += text;
      return;
    }
    write_chunk(out, index, c, text);
    c.clear_logprobs();  // the event's logprobs ride on its first chunk
    wrote = true;
  };
  if (plan_.tool_format == text::ToolCallFormat::kNone && plan_.forced_tools == ToolChoice::kNone) {
    emit_text(delta_);
  } else {
    for (auto& piece : pieces_) {
      if (!piece.call) {
        emit_text(piece.content);
        continue;
      }
      if (!plan_.parallel_tool_calls && c.calls_emitted > 0) continue;
      EmittedCall call{make_tool_call_id(plan_.tool_format == text::ToolCallFormat::kMistral), std::move(*piece.call)};
      ++c.calls_emitted;
      if (!streaming) {
        c.calls.push_back(std::move(call));
        continue;
      }
      write_tool_call_chunk(out, index, c, call);
      c.clear_logprobs();
      wrote = true;
    }
    pieces_.clear();
  }
  if (streaming) {
    const bool has_logprobs = !c.lp_content.empty() || !c.lp_tokens.empty();
    if (!wrote && has_logprobs) write_chunk(out, index, c, "");
    c.clear_logprobs();
  }
}

void GenerationJob::forced_tool_pieces(Choice& c) {
  std::string text = std::move(c.forced_text);
  c.forced_text.clear();
  if (plan_.forced_tools == ToolChoice::kNamed) {
    // The whole output is the arguments (constrained to the tool's schema).
    const size_t begin = text.find_first_not_of(" \t\r\n");
    const size_t end = text.find_last_not_of(" \t\r\n");
    pieces_.push_back({{},
                       text::ToolCall{plan_.forced_tool_name,
                                      begin == std::string::npos ? "{}" : text.substr(begin, end - begin + 1)}});
    return;
  }
  // "required": [{"name": ..., "parameters": {...}}, ...]; output that is not
  // that shape (cut by max_tokens) stays content.
  boost::system::error_code ec;
  boost::json::parse_options opt;
  opt.max_depth = 256;
  const boost::json::value v = boost::json::parse(text, ec, {}, opt);
  std::vector<text::ToolCallPiece> calls;
  bool ok = !ec && v.is_array() && !v.get_array().empty();
  for (size_t i = 0; ok && i < v.get_array().size(); ++i) {
    const boost::json::value& item = v.get_array()[i];
    const auto* name = item.is_object() ? item.get_object().if_contains("name") : nullptr;
    const auto* params = item.is_object() ? item.get_object().if_contains("parameters") : nullptr;
    ok = name != nullptr && name->is_string() && params != nullptr && params->is_object();
    if (ok) calls.push_back({{}, text::ToolCall{std::string(name->get_string()), boost::json::serialize(*params)}});
  }
  if (ok) {
    for (auto& piece : calls) pieces_.push_back(std::move(piece));
  } else if (!text.empty()) {
    pieces_.push_back({std::move(text), std::nullopt});
  }
}

void GenerationJob::append_usage(std::string& out) const {
  const int p = prompt_tokens();
  const int k = completion_tokens();
  out += "{\"prompt_tokens\":";
  append_json_int(out, p);
  out += ",\"completion_tokens\":";
  append_json_int(out, k);
  out += ",\"total_tokens\":";
  append_json_int(out, p + k);
  out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
  append_json_int(out, cached_tokens());
  out += "}}";
}

void GenerationJob::close_stream(std::string& out) {
  TANDEM_CHECK(finished());
  const size_t mark = out.size();
  if (!error_.ok()) {
    out += "data: ";
    out += error_json(error_);
    out += "\n\n";
  } else if (plan_.options.include_usage) {
    out += chunk_prefix_;
    out += "],\"usage\":";
    append_usage(out);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
  if (responses_) responses_->rewrite(out, mark);
}

std::string GenerationJob::response_body() const {
  TANDEM_CHECK(finished());
  const bool chat = plan_.api == ApiKind::kChat;
  std::string out;
  out.reserve(256 + choices_.size() * 128);
  out += "{\"id\":";
  append_json_string(out, id_);
  out += chat ? ",\"object\":\"chat.completion\",\"created\":" : ",\"object\":\"text_completion\",\"created\":";
  append_json_int(out, created_);
  out += ",\"model\":";
  append_json_string(out, model_.name);
  out += ",\"choices\":[";
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    if (i != 0) out += ',';
    out += "{\"index\":";
    append_json_int(out, static_cast<int64_t>(i));
    if (chat) {
      out += ",\"message\":{\"role\":\"assistant\",\"content\":";
      if (c.text.empty() && (!c.calls.empty() || !c.reasoning.empty())) {
        out += "null";
      } else {
        append_json_string(out, c.text);
      }
      if (plan_.reasoning_format != text::ReasoningFormat::kNone) {
        for (const char* field : {",\"reasoning_content\":", ",\"reasoning\":"}) {
          out += field;
          if (c.reasoning.empty()) {
            out += "null";
          } else {
            append_json_string(out, c.reasoning);
          }
        }
      }
      if (!c.calls.empty()) {
        out += ",\"tool_calls\":[";
        for (size_t k = 0; k < c.calls.size(); ++k) {
          if (k != 0) out += ',';
          append_tool_call(out, -1, c.calls[k].id, c.calls[k].call);
        }
        out += ']';
      }
      out += "}";
    } else {
      out += ",\"text\":";
      append_json_string(out, c.text);
    }
    out += ",\"logprobs\":";
    append_logprobs_object(out, c);
    out += ",\"finish_reason\":\"";
    out += c.finish_reason;
    out += "\",\"stop_reason\":";
    out += c.stop_reason;
    out += '}';
  }
  out += "],\"usage\":";
  append_usage(out);
  out += '}';
  return responses_ ? responses_->body(out) : out;
}

int GenerationJob::prompt_tokens() const {
  int total = 0;
  for (const auto& p : plan_.prompts) total += static_cast<int>(p.tokens.size());
  return total;
}

int GenerationJob::completion_tokens() const {
  int total = 0;
  for (const auto& c : choices_) total += c.tokens;
  return total;
}

int GenerationJob::cached_tokens() const {
  int total = 0;
  for (int c : cached_) total += c > 0 ? c : 0;
  return total;
}

}  // namespace tandem::frontend
