"""Tool calls through the official `openai` client: the test server "writes" a
scripted hermes-format answer, and the client must see `tool_calls` exactly as
it sees them from OpenAI or vLLM (non-streaming, and accumulated from stream
deltas). Also the 400s for tool_choice values the test server cannot honour: it
has no grammar engine, so a forced call (constrained decoding) is refused, never
answered unconstrained."""
import json
import pathlib
import sys

import openai
import pytest
import requests

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]

SCRIPT = ('Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
          '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call><|endoftext|>')
MESSAGES = [{"role": "user", "content": "Weather in Oslo and Zürich?"}]


@pytest.fixture
def hermes(make_server):
    s = make_server("--tool-call-parser", "hermes", "--script", SCRIPT)
    return openai.OpenAI(base_url=s.url("/v1"), api_key="unused", max_retries=0)


def test_tool_calls_non_streaming(hermes):
    r = hermes.chat.completions.create(model="tandem-test", messages=MESSAGES, tools=TOOLS, max_tokens=400)
    c = r.choices[0]
    assert c.finish_reason == "tool_calls"
    assert c.message.content == "Checking."
    calls = c.message.tool_calls
    assert [t.function.name for t in calls] == ["get_weather", "get_weather"]
    assert [json.loads(t.function.arguments) for t in calls] == [{"city": "Oslo"}, {"city": "Zürich"}]
    assert all(t.type == "function" and t.id.startswith("call_") for t in calls)
    assert calls[0].id != calls[1].id


def test_tool_calls_streamed(hermes):
    stream = hermes.chat.completions.create(model="tandem-test", messages=MESSAGES, tools=TOOLS, max_tokens=400,
                                            stream=True)
    content, calls, finish = "", {}, None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        delta = choice.delta
        content += delta.content or ""
        for t in delta.tool_calls or []:  # accumulate as clients do: by index
            entry = calls.setdefault(t.index, {"id": None, "name": "", "arguments": ""})
            entry["id"] = t.id or entry["id"]
            entry["name"] += (t.function.name or "") if t.function else ""
            entry["arguments"] += (t.function.arguments or "") if t.function else ""
    assert finish == "tool_calls"
    assert content == "Checking."
    assert sorted(calls) == [0, 1]
    assert [json.loads(calls[i]["arguments"]) for i in (0, 1)] == [{"city": "Oslo"}, {"city": "Zürich"}]
    assert all(calls[i]["name"] == "get_weather" and calls[i]["id"].startswith("call_") for i in (0, 1))


def test_tool_choice_none_leaves_the_text(hermes):
    r = hermes.chat.completions.create(model="tandem-test", messages=MESSAGES, tools=TOOLS, tool_choice="none",
                                       max_tokens=400)
    c = r.choices[0]
    assert c.finish_reason == "stop"
    assert not c.message.tool_calls
    assert "<tool_call>" in c.message.content


def test_parallel_tool_calls_false_keeps_the_first(hermes):
    r = hermes.chat.completions.create(model="tandem-test", messages=MESSAGES, tools=TOOLS, max_tokens=400,
                                       parallel_tool_calls=False)
    calls = r.choices[0].message.tool_calls
    assert len(calls) == 1 and json.loads(calls[0].function.arguments) == {"city": "Oslo"}


def test_a_tool_round_trip_is_accepted(hermes):
    first = hermes.chat.completions.create(model="tandem-test", messages=MESSAGES, tools=TOOLS, max_tokens=400)
    call = first.choices[0].message.tool_calls[0]
    follow_up = MESSAGES + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "-3 C, snow"},
    ]
    r = hermes.chat.completions.create(model="tandem-test", messages=follow_up, tools=TOOLS, max_tokens=400)
    assert r.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("tool_choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_forced_tool_choice_without_a_grammar_engine_is_refused(hermes, tool_choice):
    with pytest.raises(openai.BadRequestError) as e:
        hermes.chat.completions.create(model="tandem-test", messages=MESSAGES, tools=TOOLS, tool_choice=tool_choice)
    assert e.value.body["param"] == "tool_choice"
    assert "structured output is not available in this build" in e.value.body["message"]


def test_forced_tool_choice_naming_an_unknown_function_is_a_400(hermes):
    with pytest.raises(openai.BadRequestError) as e:
        hermes.chat.completions.create(model="tandem-test", messages=MESSAGES, tools=TOOLS,
                                       tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert e.value.body["param"] == "tool_choice"
    assert "get_time" in e.value.body["message"]


@pytest.mark.parametrize("body,param", [
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
     "response_format"),
    ({"structured_outputs": {"regex": "a+"}}, "structured_outputs"),
    ({"guided_json": {"type": "object"}}, "guided_json"),
    ({"guided_choice": ["a", "b"]}, "guided_choice"),
])
def test_structured_output_without_a_grammar_engine_is_refused(hermes, body, param):
    for create in (lambda **kw: hermes.chat.completions.create(messages=MESSAGES, **kw),
                   lambda **kw: hermes.completions.create(prompt="Hi", **kw)):
        with pytest.raises(openai.BadRequestError) as e:
            create(model="tandem-test", max_tokens=5, extra_body=body)
        assert e.value.body["param"] == param
        assert "structured output is not available in this build" in e.value.body["message"]


def test_bad_tools_name_the_field(hermes):
    with pytest.raises(openai.BadRequestError) as e:
        hermes.chat.completions.create(model="tandem-test", messages=MESSAGES,
                                       tools=[{"type": "function", "function": {"description": "no name"}}])
    assert e.value.body["param"] == "tools"
    assert "tools[0].function.name" in e.value.body["message"]


def test_models_without_a_tool_format_refuse_auto(server, model_name):
    """The plain test server and the demo model (SmolLM2's template teaches no tool format)."""
    body = {"model": model_name, "messages": MESSAGES, "tools": TOOLS, "max_tokens": 2}
    r = requests.post(server.url("/v1/chat/completions"), json=body, timeout=60)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "tool_choice"
    assert "tool_call_parser" in r.json()["error"]["message"]
    r = requests.post(server.url("/v1/chat/completions"), json={**body, "tool_choice": "none"}, timeout=60)
    assert r.status_code == 200, r.text


# The calls as the published chat templates write them into an assistant turn (rendered by Python jinja2
# configured as transformers does, tests/reference/jinja/hf_reference.py): that text is what the models are
# trained to produce, so the parser must give back exactly the calls the template was given.
REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "reference" / "jinja"
TEMPLATES = pathlib.Path(__file__).resolve().parents[1] / "data" / "templates"
PUBLISHED = [  # template, --tool-call-parser, end-of-turn text the template writes after the calls
    ("qwen2.5", "hermes", "<|im_end|>"),
    ("qwen3", "hermes", "<|im_end|>"),
    ("mistral_nemo", "mistral", "</s>"),
    ("mistral_small_3.2", "mistral", "</s>"),
    ("llama3.1", "llama3_json", "<|eot_id|>"),
    ("llama3.2", "llama3_json", "<|eot_id|>"),
]
CALLS = [
    {"id": "abcDEF123", "type": "function",
     "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": [1, 2], "note": "a \"quoted\" }"}}},
    {"id": "xyz789ABC", "type": "function", "function": {"name": "get_time", "arguments": {}}},
]


def rendered_assistant_turn(template, end_of_turn, calls):
    sys.path.insert(0, str(REFERENCE))
    import hf_reference  # noqa: E402 (the reference renderer lives with the jinja reference tests)

    source = (TEMPLATES / f"{template}.jinja").read_text()
    mistral = template.startswith("mistral")
    kwargs = {"tools": TOOLS, "bos_token": "<s>" if mistral else "<|begin_of_text|>",
              "eos_token": "</s>" if mistral else "<|eot_id|>"}
    user = [{"role": "user", "content": "Weather in Zürich?"}]
    # Qwen3's template reads the content as a string; OpenAI clients send "" or null.
    turn = {"role": "assistant", "content": "", "tool_calls": calls}
    ok, prefix = hf_reference.render(source, {"messages": user, "add_generation_prompt": True, **kwargs}, now=0)
    assert ok, prefix
    ok, whole = hf_reference.render(source, {"messages": user + [turn], "add_generation_prompt": False, **kwargs},
                                    now=0)
    assert ok, whole
    assert whole.startswith(prefix)
    generated = whole[len(prefix):]
    assert end_of_turn in generated, generated
    return generated[:generated.index(end_of_turn)]


@pytest.mark.parametrize("template,parser,end_of_turn", PUBLISHED, ids=[p[0] for p in PUBLISHED])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_calls_written_by_the_published_templates_parse_back(make_server, template, parser, end_of_turn, stream):
    calls = CALLS[:1] if parser == "llama3_json" else CALLS  # Llama 3.x templates take one call a turn
    text = rendered_assistant_turn(template, end_of_turn, calls)
    s = make_server("--tool-call-parser", parser, "--script", text + "<|endoftext|>")
    client = openai.OpenAI(base_url=s.url("/v1"), api_key="unused", max_retries=0)
    r = client.chat.completions.create(model="tandem-test", messages=MESSAGES, tools=TOOLS, max_tokens=1000,
                                       stream=stream)
    if stream:
        content, got, finish = "", {}, None
        for chunk in r:
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                content += choice.delta.content or ""
                for t in choice.delta.tool_calls or []:
                    got.setdefault(t.index, (t.function.name, t.function.arguments, t.id))
        got = [got[i] for i in sorted(got)]
    else:
        finish = r.choices[0].finish_reason
        content = r.choices[0].message.content or ""
        got = [(t.function.name, t.function.arguments, t.id) for t in r.choices[0].message.tool_calls or []]
    assert finish == "tool_calls", text
    assert [name for name, _, _ in got] == [c["function"]["name"] for c in calls], text
    assert [json.loads(args) for _, args, _ in got] == [c["function"]["arguments"] for c in calls], text
    id_length = 9 if parser == "mistral" else len("call_") + 24
    assert all(len(call_id) == id_length for _, _, call_id in got)
    # Only Qwen3's empty think block precedes the calls; the text before the first call is the content.
    assert content == ("<think>\n\n</think>" if template == "qwen3" else ""), content
