"""Reasoning through the official `openai` client: the test server "writes" a scripted think block, and the
client must get the reasoning apart from the answer, as vLLM's reasoning parsers return it
(`reasoning_content`, and `reasoning` under vLLM's newer name), whole and streamed.

The scripts are the assistant turns that Qwen3's published chat template writes for a given reasoning and
answer (rendered by Python jinja2 configured as transformers does, tests/reference/jinja/hf_reference.py):
that text is what the model is trained to produce, so parsing it must give back what the template was given.
"""
import pathlib
import sys

import openai
import pytest
import requests

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "reference" / "jinja"
TEMPLATES = pathlib.Path(__file__).resolve().parents[1] / "data" / "templates"
QUESTION = [{"role": "user", "content": "Which is greater, 9.11 or 9.8?"}]
REASONING = "Compare the decimals: 9.11 = 9.11 and 9.8 = 9.80.\n\nSince 0.80 > 0.11, 9.8 is greater."
ANSWER = "9.8 is greater than 9.11."


def qwen3_assistant_turn(turn):
    """The text Qwen3's template writes for an assistant turn, up to its end-of-turn marker."""
    sys.path.insert(0, str(REFERENCE))
    import hf_reference  # noqa: E402 (the reference renderer lives with the jinja reference tests)

    source = (TEMPLATES / "qwen3.jinja").read_text()
    ok, prefix = hf_reference.render(source, {"messages": QUESTION, "add_generation_prompt": True}, now=0)
    assert ok, prefix
    ok, whole = hf_reference.render(source, {"messages": QUESTION + [turn], "add_generation_prompt": False}, now=0)
    assert ok, whole
    assert whole.startswith(prefix)
    generated = whole[len(prefix):]
    return generated[:generated.index("<|im_end|>")]


def client_for(make_server, parser, script):
    s = make_server("--reasoning-parser", parser, "--script", script + "<|endoftext|>")
    return s, openai.OpenAI(base_url=s.url("/v1"), api_key="unused", max_retries=0)


def streamed(client, **kwargs):
    reasoning, alias, content, finish = "", "", "", None
    for chunk in client.chat.completions.create(model="tandem-test", stream=True, **kwargs):
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            extra = choice.delta.model_extra or {}
            reasoning += extra.get("reasoning_content") or ""
            alias += extra.get("reasoning") or ""
            content += choice.delta.content or ""
    return reasoning, alias, content, finish


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_qwen3_reasoning_round_trip(make_server, stream):
    script = qwen3_assistant_turn({"role": "assistant", "content": ANSWER, "reasoning_content": REASONING})
    assert script.startswith("<think>\n")
    _, client = client_for(make_server, "qwen3", script)
    if stream:
        reasoning, alias, content, finish = streamed(client, messages=QUESTION, max_tokens=1000)
    else:
        r = client.chat.completions.create(model="tandem-test", messages=QUESTION, max_tokens=1000)
        message = r.choices[0].message
        reasoning, alias = message.model_extra["reasoning_content"], message.model_extra["reasoning"]
        content, finish = message.content, r.choices[0].finish_reason
    assert reasoning == REASONING
    assert alias == REASONING
    assert content == ANSWER
    assert finish == "stop"


def test_qwen3_reasoning_then_a_tool_call(make_server):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
    script = qwen3_assistant_turn({"role": "assistant", "content": "", "reasoning_content": "I need the weather.",
                                   "tool_calls": [call]})
    s = make_server("--reasoning-parser", "qwen3", "--tool-call-parser", "hermes", "--script", script + "<|endoftext|>")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    body = {"model": "tandem-test", "messages": QUESTION, "tools": tools, "max_tokens": 1000}
    r = requests.post(s.url("/v1/chat/completions"), json=body, timeout=30)
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["reasoning_content"] == "I need the weather."
    assert choice["message"]["content"] is None
    assert [c["function"]["name"] for c in choice["message"]["tool_calls"]] == ["get_weather"]


def test_include_reasoning_false_drops_it(make_server):
    script = qwen3_assistant_turn({"role": "assistant", "content": ANSWER, "reasoning_content": REASONING})
    s, _ = client_for(make_server, "qwen3", script)
    body = {"model": "tandem-test", "messages": QUESTION, "include_reasoning": False, "max_tokens": 1000}
    r = requests.post(s.url("/v1/chat/completions"), json=body, timeout=30)
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert message["content"] == ANSWER
    assert message["reasoning_content"] is None
    r = requests.post(s.url("/v1/chat/completions"), json={**body, "include_reasoning": "no"}, timeout=30)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "include_reasoning"


def test_deepseek_r1_reasons_without_the_opening_tag(make_server):
    _, client = client_for(make_server, "deepseek_r1", REASONING + "\n</think>\n\n" + ANSWER)
    reasoning, _, content, _ = streamed(client, messages=QUESTION, max_tokens=1000)
    assert (reasoning, content) == (REASONING, ANSWER)


def test_cut_off_reasoning_is_all_reasoning(make_server):
    script = qwen3_assistant_turn({"role": "assistant", "content": ANSWER, "reasoning_content": REASONING})
    _, client = client_for(make_server, "qwen3", script)
    r = client.chat.completions.create(model="tandem-test", messages=QUESTION, max_tokens=20)
    message = r.choices[0].message
    assert r.choices[0].finish_reason == "length"
    assert REASONING.startswith(message.model_extra["reasoning_content"])
    assert message.content is None


def test_models_without_a_reasoning_format_return_the_text(server, model_name):
    """The plain test server and the demo model (SmolLM2's template writes no think blocks)."""
    body = {"model": model_name, "messages": QUESTION, "max_tokens": 4}
    r = requests.post(server.url("/v1/chat/completions"), json=body, timeout=60)
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert "reasoning_content" not in message and "reasoning" not in message
