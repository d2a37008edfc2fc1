// frontend::ResponsesWriter: the output of a Responses API request. The
// Responses API is served as a view over chat: GenerationJob runs the request
// as the chat request it amounts to and writes chat completion chunks (or the
// chat completion body); this writer turns them into the Responses shapes, so
// stop strings, reasoning and tool-call parsing stay in one place.
//
// Streaming, for the chunks of one GenerationJob call at a time (whole SSE
// events), it writes the typed events `event: <type>\ndata: {...}\n\n` with
// a sequence_number from 0: response.created and response.in_progress (at
// the role chunk); per output item response.output_item.added, then for a
// message response.content_part.added, response.output_text.delta...,
// response.output_text.done, response.content_part.done, for reasoning
// response.reasoning_text.delta... and .done, for a function call
// response.function_call_arguments.delta and .done (the whole arguments at
// once), then response.output_item.done; at the end response.completed, or
// response.incomplete (incomplete_details.reason "max_output_tokens") when
// the chat finish_reason was "length". A chat error event becomes an `error`
// event and response.failed. The chat stream's [DONE] is not sent.
//
// Items: reasoning ("rs_<id>"), the message ("msg_<id>", output_text), each
// function call ("fc_<id>_<k>", call_id from the chat tool call's id).
// When the response completes and the plan has a store, the conversation plus
// this turn's output (an assistant message with content and tool_calls) is
// stored under the response id.
//
// Threading: not thread-safe; used by its GenerationJob's owner only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "frontend/responses_request.h"

namespace tandem::frontend {

class ResponsesWriter {
 public:
  ResponsesWriter(std::shared_ptr<const ResponsesPlan> plan, std::string id, int64_t created, std::string model);

  // Rewrites out[from..] (chat SSE events) into Responses events.
  void rewrite(std::string& out, size_t from);
  // The response object for a whole chat completion body.
  std::string body(std::string_view chat_body);

 private:
  enum class Open { kNone, kMessage, kReasoning };

  void on_chunk(const boost::json::object& chunk, std::string& out);
  void emit(std::string& out, const char* type, boost::json::object event);
  void open_item(std::string& out, Open kind);
  void close_item(std::string& out);
  void add_call(std::string& out, const boost::json::object& call, bool streaming);
  void finish(std::string& out);
  boost::json::object response_object(const char* status) const;
  void store_conversation();

  std::shared_ptr<const ResponsesPlan> plan_;
  std::string id_;
  int64_t created_;
  std::string model_;
  int64_t sequence_ = 0;
  bool started_ = false;
  bool ended_ = false;
  boost::json::array output_;  // finished output items
  Open open_ = Open::kNone;
  std::string open_text_;     // text of the open item
  std::string text_;          // the message's whole text (for the stored conversation)
  boost::json::array calls_;  // chat tool calls (for the stored conversation)
  const char* status_ = "completed";
  boost::json::value usage_;  // Responses usage, or null
  boost::json::value error_;  // {code, message} once failed, else null
};

}  // namespace tandem::frontend
