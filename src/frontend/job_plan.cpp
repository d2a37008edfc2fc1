#include "frontend/job_plan.h"

#include <algorithm>
#include <string>
#include <utility>

#include <boost/json/parse.hpp>

#include "frontend/json_fields.h"

namespace tandem::frontend {
namespace {

Status check_token_id(int64_t id, const text::Tokenizer& tok, const char* field) {
  if (id < 0 || id >= tok.vocab_size()) {
    return invalid_field(field, "contains token id " + std::to_string(id) + " outside the vocabulary [0, " +
                                    std::to_string(tok.vocab_size()) + ")");
  }
  return {};
}

// Sampling parameters and stop criteria shared by every prompt of a request.
Status build_common(const GenerationOptions& o, const ServedModel& model, JobPlan& plan) {
  const auto& d = model.defaults;
  const auto& tok = *model.tokenizer;
  auto& s = plan.sampling;
  s.temperature = static_cast<float>(o.temperature.value_or(d.temperature >= 0 ? d.temperature : 1.0));
  s.top_p = static_cast<float>(o.top_p.value_or(d.top_p > 0 ? d.top_p : 1.0));
  const int top_k = o.top_k.value_or(d.top_k >= 0 ? d.top_k : 0);
  s.top_k = top_k < 0 ? 0 : top_k;
  s.min_p = static_cast<float>(o.min_p.value_or(d.min_p >= 0 ? d.min_p : 0.0));
  s.repetition_penalty =
      static_cast<float>(o.repetition_penalty.value_or(d.repetition_penalty > 0 ? d.repetition_penalty : 1.0));
  s.presence_penalty = static_cast<float>(o.presence_penalty);
  s.frequency_penalty = static_cast<float>(o.frequency_penalty);
  for (const auto& [id, bias] : o.logit_bias) {
    TANDEM_RETURN_IF_ERROR(check_token_id(id, tok, "logit_bias"));
    s.logit_bias.emplace_back(static_cast<int32_t>(id), bias);
  }
  if (o.seed) s.seed = static_cast<uint64_t>(*o.seed);
  s.logprobs = o.logprobs;

  auto& st = plan.stop;
  st.min_tokens = o.min_tokens;
  st.ignore_eos = o.ignore_eos;
  for (int64_t id : o.stop_token_ids) {
    TANDEM_RETURN_IF_ERROR(check_token_id(id, tok, "stop_token_ids"));
    st.stop_token_ids.push_back(static_cast<int32_t>(id));
  }
  st.eos_token_ids = d.eos_token_ids;
  if (st.eos_token_ids.empty() && tok.eos_id() >= 0) st.eos_token_ids.push_back(tok.eos_id());
  return {};
}

Status plan_prompt(std::vector<int32_t> tokens, const GenerationOptions& o, const ServedModel& model, const char* what,
                   PlannedPrompt& out) {
  const int64_t prompt_len = static_cast<int64_t>(tokens.size());
  if (prompt_len == 0) return invalid_field(what, "must not be empty (it encodes to zero tokens)");
  int64_t max_tokens = model.max_context - prompt_len;
  if (o.max_tokens) {
    max_tokens = *o.max_tokens;
  } else if (model.default_max_tokens > 0) {
    max_tokens = std::min<int64_t>(model.default_max_tokens, max_tokens);
  }
  if (prompt_len + std::max<int64_t>(max_tokens, 1) > model.max_context) {
    std::string msg = "This model's maximum context length is " + std::to_string(model.max_context) +
                      " tokens. However, you requested " +
                      std::to_string(prompt_len + std::max<int64_t>(max_tokens, 1)) + " tokens (" +
                      std::to_string(prompt_len) + " in the " + what + ", " +
                      std::to_string(std::max<int64_t>(max_tokens, 1)) +
                      " in the completion). Please reduce the length of the " + what + " or completion.";
    return Status(ErrorKind::kContextLengthExceeded, std::move(msg), what);
  }
  if (o.min_tokens > max_tokens) {
    return invalid_field("min_tokens", "must be less than or equal to max_tokens (" + std::to_string(max_tokens) + ")");
  }
  out.tokens = std::move(tokens);
  out.max_tokens = static_cast<int>(max_tokens);
  return {};
}

// messages[i].tool_calls[k].function.arguments: a JSON string -> its object
// (validate_messages checked that it holds one).
void parse_tool_call_arguments(boost::json::array& messages) {
  for (auto& m : messages) {
    auto* calls = m.get_object().if_contains("tool_calls");
    if (calls == nullptr || !calls->is_array()) continue;
    for (auto& call : calls->get_array()) {
      auto* args = call.get_object()["function"].get_object().if_contains("arguments");
      if (args == nullptr || !args->is_string()) continue;
      boost::system::error_code ec;
      boost::json::value parsed = boost::json::parse(args->get_string(), ec);
      if (!ec && parsed.is_object()) *args = std::move(parsed);
    }
  }
}

// Compiles the request's structured output, if any, into plan.constraint.
Status compile_structured(const StructuredOutput& spec, const ServedModel& model, JobPlan& plan) {
  if (!spec.any()) return {};
  if (!model.constraints) {
    return Status(ErrorKind::kUnsupported, "'" + spec.field + "': " + kStructuredOutputUnavailable, spec.field);
  }
  auto factory = model.constraints->compile(spec);
  if (!factory.ok()) return factory.status();
  plan.constraint = std::move(factory.value());
  return {};
}

}  // namespace

Status check_model_name(const std::string& model, const ServedModel& served) {
  if (model.empty() || model == served.name) return {};
  for (const auto& alias : served.aliases) {
    if (model == alias) return {};
  }
  return Status(ErrorKind::kNotFound, "The model `" + model + "` does not exist.", "model");
}

boost::json::object chat_template_context(ChatRequest& request, const text::Tokenizer& tokenizer) {
  boost::json::object ctx = std::move(request.template_kwargs);
  boost::json::array messages = template_messages(std::move(request.messages));
  parse_tool_call_arguments(messages);
  ctx["messages"] = std::move(messages);
  if (request.tools) ctx["tools"] = std::move(*request.tools);
  ctx["add_generation_prompt"] = request.add_generation_prompt;
  ctx["bos_token"] = tokenizer.bos_id() >= 0 ? tokenizer.token_text(tokenizer.bos_id()) : "";
  ctx["eos_token"] = tokenizer.eos_id() >= 0 ? tokenizer.token_text(tokenizer.eos_id()) : "";
  return ctx;
}

Result<JobPlan> plan_chat(ChatRequest request, const ServedModel& model) {
  TANDEM_RETURN_IF_ERROR(check_model_name(request.options.model, model));
  JobPlan plan;
  plan.api = ApiKind::kChat;
  if (request.tool_choice == ToolChoice::kRequired || request.tool_choice == ToolChoice::kNamed) {
    if (request.options.structured.any()) {
      return invalid_field("tool_choice",
                           "forcing a tool call cannot be combined with '" + request.options.structured.field + "'");
    }
    if (request.tool_choice == ToolChoice::kNamed) {
      auto named = named_tool_output(*request.tools, request.tool_name);
      if (!named.ok()) return named.status();
      request.options.structured = std::move(named.value());
    } else {
      request.options.structured = required_tools_output(*request.tools, request.parallel_tool_calls);
    }
    plan.forced_tools = request.tool_choice;
    plan.forced_tool_name = request.tool_name;
    plan.parallel_tool_calls = request.parallel_tool_calls;
  }
  TANDEM_RETURN_IF_ERROR(compile_structured(request.options.structured, model, plan));
  if (request.tool_choice == ToolChoice::kAuto) {
    if (model.tool_call_format == text::ToolCallFormat::kNone) {
      return invalid_field("tool_choice",
                           "\"auto\" needs a tool-call format, and this model's chat template shows none; "
                           "set [model] tool_call_parser (hermes, mistral or llama3_json) or send "
                           "tool_choice \"none\"");
    }
    plan.tool_format = model.tool_call_format;
    plan.parallel_tool_calls = request.parallel_tool_calls;
    request.options.skip_special_tokens = false;
  }
  TANDEM_RETURN_IF_ERROR(build_common(request.options, model, plan));
  const auto& tok = *model.tokenizer;
  auto rendered = model.render_chat(chat_template_context(request, tok));
  if (!rendered.ok()) return rendered.status();
  if (!plan.constraint) {
    plan.reasoning_format = model.reasoning_format;
    plan.reasoning_opened = text::prompt_opens_reasoning(rendered.value());
  }
  plan.include_reasoning = request.include_reasoning;
  PlannedPrompt prompt;
  TANDEM_RETURN_IF_ERROR(
      plan_prompt(tok.encode(rendered.value(), false, true), request.options, model, "messages", prompt));
  plan.stop.max_tokens = prompt.max_tokens;
  plan.prompts.push_back(std::move(prompt));
  plan.options = std::move(request.options);
  return plan;
}

Result<JobPlan> plan_completion(CompletionRequest request, const ServedModel& model) {
  TANDEM_RETURN_IF_ERROR(check_model_name(request.options.model, model));
  const auto& o = request.options;
  if (o.echo && o.logprobs >= 0) {
    return Status(ErrorKind::kUnsupported, "'echo' together with 'logprobs' is not supported", "echo");
  }
  JobPlan plan;
  plan.api = ApiKind::kCompletion;
  TANDEM_RETURN_IF_ERROR(build_common(o, model, plan));
  TANDEM_RETURN_IF_ERROR(compile_structured(o.structured, model, plan));
  const auto& tok = *model.tokenizer;
  for (auto& p : request.prompts) {
    std::vector<int32_t> ids;
    if (p.text) {
      ids = tok.encode(*p.text, true, true);
    } else {
      ids.reserve(p.tokens.size());
      for (int64_t id : p.tokens) {
        TANDEM_RETURN_IF_ERROR(check_token_id(id, tok, "prompt"));
        ids.push_back(static_cast<int32_t>(id));
      }
    }
    PlannedPrompt planned;
    if (o.echo) planned.echo_text = p.text ? *p.text : tok.decode(ids, o.skip_special_tokens);
    TANDEM_RETURN_IF_ERROR(plan_prompt(std::move(ids), o, model, "prompt", planned));
    plan.prompts.push_back(std::move(planned));
  }
  plan.stop.max_tokens = plan.prompts.front().max_tokens;
  plan.options = std::move(request.options);
  return plan;
}

}  // namespace tandem::frontend
