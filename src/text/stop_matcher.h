// text::StopMatcher: finds OpenAI `stop` strings in streamed text.
//
// Text goes in as it is detokenized; what comes out is the text that is safe
// to show the client now. A tail that could be the beginning of a stop string
// is held back until it either completes the stop string or cannot any more,
// so no part of a stop string is ever emitted unless include_stop is set
// (vLLM's include_stop_str_in_output). When several stop strings match, the
// one that starts earliest wins (the longest on a tie). After a match the
// matcher is stopped: the text after the stop string is discarded and further
// input is ignored.
//
// Input must be valid UTF-8 (the Detokenizer's output); because stop strings
// are valid UTF-8 too, the emitted text always ends on a character boundary.
//
// Threading: one instance per sequence, one thread at a time. Never fails.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tandem::text {

class StopMatcher {
 public:
  // Empty strings in `stops` are ignored (the frontend rejects them earlier).
  StopMatcher(std::vector<std::string> stops, bool include_stop);

  // Feeds text; appends the emittable part to `out`. Returns true when this
  // call found a stop string (out then ends at the stop string, or after it
  // with include_stop).
  bool push(std::string_view text, std::string& out);

  // End of the sequence without a stop string: appends the held tail.
  void finish(std::string& out);

  bool stopped() const { return stopped_; }
  // The stop string that matched (empty when none).
  const std::string& matched() const { return matched_; }
  bool empty() const { return stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  bool include_stop_;
  bool stopped_ = false;
  std::string matched_;
  std::string held_;
};

}  // namespace tandem::text
