// frontend::GenerationJob: one chat or completion request while it runs. It
// turns the service's TokenEvents into OpenAI output: SSE chunks as events
// arrive (streaming) or one JSON body at the end. Independent of HTTP and
// threads, so it is tested with plain data.
//
// Per choice it runs an incremental text::Detokenizer and a text::StopMatcher.
// A stop string ends the choice at once with finish_reason "stop" and asks the
// caller to cancel its GenerationRequest (cancel_ids); events that arrive
// afterwards for that choice are ignored. TokenEvent::stop_token is counted in
// usage but not rendered. A kError event fails the whole job: non-streaming
// responses become that error; streams get `data: {"error": ...}` then [DONE].
// finish_reason: kStop -> "stop", kLength -> "length", kCancelled -> "abort";
// stop_reason (vLLM's field, on the finish chunk and in whole responses): the
// stop string that matched, or the stop token id unless it is the
// tokenizer's EOS, else null.
//
// Tool calls (plan.tool_format set): the text after stop strings goes through
// a text::ToolCallParser per choice. Calls become `tool_calls` (streaming: one
// delta per call carrying its index, id, type, name and the whole arguments
// string), the rest stays content (null when a call was made and no text
// was); a choice that made a call and ended by "stop" ends by "tool_calls".
// Metrics count the engine's reason ("stop").
//
// Forced tool calls (plan.forced_tools: tool_choice "required" or a named
// function, the output constrained by the plan's grammar): the choice's text
// is held until it ends, then becomes tool_calls (streaming: one delta per
// call at the end): a named call's arguments are the whole output; "required"
// output is the JSON array [{"name", "parameters"}, ...] (vLLM's shape), and
// output that does not parse as one (cut by max_tokens) is returned as
// content. finish_reason: "tool_calls" for "required", "stop" for a named
// function (OpenAI's and vLLM's).
//
// Structured output (plan.constraint): make_request gives each choice its own
// matcher.
//
// Reasoning (plan.reasoning_format set): before the tool-call parser, a
// text::ReasoningParser per choice takes the think block out of the text; it
// is returned as `reasoning_content` and, under vLLM's newer name,
// `reasoning` (streaming: deltas carrying both; whole responses: both fields,
// null when there was none), or dropped when include_reasoning is false. The
// answer after it is the content (null when empty and there was reasoning or
// a call).
//
// Responses API (plan.responses set): the job runs as chat and a
// ResponsesWriter turns its output into the Responses shapes.
//
// Threading: not thread-safe; the owning connection uses it from its strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "frontend/job_plan.h"
#include "frontend/request_metrics.h"
#include "frontend/responses_writer.h"
#include "frontend/served_model.h"
#include "scheduler/generation.h"
#include "text/detokenizer.h"
#include "text/reasoning_parser.h"
#include "text/stop_matcher.h"
#include "text/tool_call_parser.h"

namespace tandem::frontend {

class GenerationJob {
 public:
  using Clock = std::chrono::steady_clock;

  // `id` is the response id (chatcmpl-... / cmpl-...); `metrics` may be null.
  GenerationJob(JobPlan plan, const ServedModel& model, std::string id, int64_t created, RequestMetrics* metrics,
                Clock::time_point arrival = Clock::now());
  GenerationJob(const GenerationJob&) = delete;
  GenerationJob& operator=(const GenerationJob&) = delete;

  const std::string& id() const { return id_; }
  bool streaming() const { return plan_.options.stream; }
  int choice_count() const { return static_cast<int>(choices_.size()); }
  // The GenerationRequest id of choice i ("<id>-<i>").
  const std::string& request_id(int choice) const { return choices_[choice].request_id; }

  // The service request of choice i, without sink or deadline. Seeded
  // requests get seed + i so that choices differ but stay reproducible.
  scheduler::GenerationRequest make_request(int choice) const;

  // Streaming: the first bytes of the stream (chat: a role delta per choice;
  // completions with echo: the prompt text per choice).
  void open_stream(std::string& out);

  // Applies one event of choice `choice`. Streaming output is appended to
  // `out`; ids of requests to cancel (stop string found, or the job failed)
  // are appended to `cancel_ids`.
  void on_event(int choice, scheduler::TokenEvent&& event, Clock::time_point at, std::string& out,
                std::vector<std::string>& cancel_ids);

  // Ends every open choice as a kCancelled event would (the deadline path):
  // held-back text and a finish_reason "abort" chunk are appended to `out`
  // when streaming, and each counts as "abort" in the metrics. For a server
  // that stops (drain timeout) and a client that went away. The caller
  // cancels the service requests (`cancel_ids` gets their ids).
  void abort_open(Clock::time_point at, std::string& out, std::vector<std::string>& cancel_ids);

  // Every choice has its final outcome (the response can be completed).
  bool finished() const { return open_choices_ == 0; }
  // The job failed (a kError event); non-ok until then.
  const Status& error() const { return error_; }

  // Streaming, once finished(): the usage chunk (include_usage) and [DONE],
  // or the error event and [DONE] after a failure.
  void close_stream(std::string& out);
  // Non-streaming, once finished() without error: the response body.
  std::string response_body() const;

  int prompt_tokens() const;
  int completion_tokens() const;
  int cached_tokens() const;

 private:
  struct EmittedCall {
    std::string id;
    text::ToolCall call;
  };

  struct Choice {
    Choice(const text::Tokenizer& tok, const GenerationOptions& o, const JobPlan& plan);
    int prompt_index = 0;
    std::string request_id;
    text::Detokenizer detok;
    text::StopMatcher stops;
    text::ReasoningParser reasoning_parser;
    text::ToolCallParser tools;
    std::string reasoning;           // reasoning (non-streaming responses)
    std::string text;                // content emitted (non-streaming responses)
    std::vector<EmittedCall> calls;  // tool calls (non-streaming responses)
    std::string forced_text;         // plan.forced_tools: the output so far
    int calls_emitted = 0;
    size_t decoded = 0;  // bytes the detokenizer produced (completion text_offset)
    int tokens = 0;      // counted in usage
    bool done = false;
    bool seen_first = false;
    const char* finish_reason = nullptr;
    std::string stop_reason = "null";  // JSON: the stop string or token id that ended it (vLLM), else null
    Clock::time_point last_event;
    Clock::time_point first_token_at;  // when tokens > 0
    double queue_seconds = 0;          // TokenEvent::queue_seconds of the first event
    // Logprobs as JSON array bodies without brackets: the whole choice when
    // not streaming, the current event's tokens when streaming.
    std::string lp_content;                                        // chat: content entries
    std::string lp_tokens, lp_token_logprobs, lp_top, lp_offsets;  // completions
    void clear_logprobs();
  };

  void append_logprob(Choice& c, const engine::SampledToken& t, size_t text_offset);
  // A chunk of choice `index`: open_chunk writes up to its delta (chat) or
  // text (completions), close_chunk the logprobs and the rest.
  void open_chunk(std::string& out, int index) const;
  void close_chunk(std::string& out, const Choice& c) const;
  void write_chunk(std::string& out, int index, const Choice& c, std::string_view delta);
  void write_tool_call_chunk(std::string& out, int index, const Choice& c, const EmittedCall& call);
  void write_reasoning_chunk(std::string& out, int index, const Choice& c, std::string_view reasoning);
  // Takes the reasoning out of delta_ (which keeps the answer) and writes it
  // to the stream or the choice's response.
  void split_reasoning(Choice& c, int index, bool streaming, bool at_end, std::string& out);
  // The text of one event (delta_, or pieces_ when the tool-call parser runs)
  // into the stream or the choice's response.
  void emit_output(Choice& c, int index, bool streaming, std::string& out);
  void write_finish_chunk(std::string& out, int index, const Choice& c);
  // plan.forced_tools, at the end of a choice: its held text -> pieces_.
  void forced_tool_pieces(Choice& c);
  // `,"usage":...` of a chunk of choice c (nothing without include_usage).
  void append_chunk_usage(std::string& out, const Choice& c) const;
  void finish_choice(Choice& c, const char* reason, Clock::time_point at);
  void fail(int failed_choice, const Status& error, std::vector<std::string>& cancel_ids);
  void append_usage(std::string& out) const;
  void append_logprobs_object(std::string& out, const Choice& c) const;

  JobPlan plan_;
  const ServedModel& model_;
  const text::Tokenizer& tok_;
  std::string id_;
  int64_t created_;
  RequestMetrics* metrics_;
  Clock::time_point arrival_;
  std::vector<Choice> choices_;
  std::vector<int> cached_;  // per prompt, from the first event of its choices (-1 unknown)
  int open_choices_ = 0;
  Status error_;
  std::string chunk_prefix_;                    // `data: {"id":...,"choices":[`
  std::string scratch_;                         // detokenizer output of one event
  std::string delta_;                           // emittable text of one event
  std::string reasoning_delta_, answer_delta_;  // delta_ after the reasoning parser
  std::vector<text::ToolCallPiece> pieces_;     // delta_ after the tool-call parser (when it runs)
  // POST /v1/responses (plan.responses set): rewrites the chat output of
  // open_stream, on_event and close_stream, and the body, into Responses shapes.
  std::unique_ptr<ResponsesWriter> responses_;
};

}  // namespace tandem::frontend
