"""Smoke tests through the client libraries users already run: LangChain's
ChatOpenAI (its tool loop sends the assistant's tool-call turn back with
content null; also over the Responses API) and LiteLLM's OpenAI-compatible
provider. Skipped where the
packages are not installed (scripts/requirements-test.txt lists them)."""
import json
import os

import pytest

from test_tool_calls import SCRIPT, TOOLS

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of its price list at import
langchain_openai = pytest.importorskip("langchain_openai")
litellm = pytest.importorskip("litellm")

from langchain_core.messages import HumanMessage, ToolMessage  # noqa: E402


def chat_model(server, model, **kwargs):
    return langchain_openai.ChatOpenAI(base_url=server.url("/v1"), api_key="unused", model=model, max_retries=0,
                                       **kwargs)


def test_langchain_invoke_and_stream(server, model_name):
    llm = chat_model(server, model_name, max_tokens=5)
    reply = llm.invoke("Say hello.")
    assert isinstance(reply.content, str)
    assert reply.response_metadata["finish_reason"] in ("stop", "length")
    chunks = list(llm.stream("Say hello."))
    assert chunks and all(isinstance(c.content, str) for c in chunks)


def test_langchain_tool_loop(make_server):
    s = make_server("--tool-call-parser", "hermes", "--script", SCRIPT)
    llm = chat_model(s, "tandem-test", max_tokens=400).bind_tools(TOOLS)
    question = HumanMessage("Weather in Oslo and Zürich?")
    first = llm.invoke([question])
    assert [c["args"] for c in first.tool_calls] == [{"city": "Oslo"}, {"city": "Zürich"}]
    results = [ToolMessage(content="-3 C", tool_call_id=c["id"]) for c in first.tool_calls]
    second = llm.invoke([question, first, *results])
    assert second.response_metadata["finish_reason"] == "tool_calls"


def test_langchain_over_the_responses_api(make_server):
    s = make_server("--tool-call-parser", "hermes", "--script", SCRIPT)
    llm = chat_model(s, "tandem-test", use_responses_api=True).bind_tools(TOOLS)
    question = HumanMessage("Weather in Oslo and Zürich?")
    first = llm.invoke([question])
    assert [c["args"] for c in first.tool_calls] == [{"city": "Oslo"}, {"city": "Zürich"}]
    results = [ToolMessage(content="-3 C", tool_call_id=c["id"]) for c in first.tool_calls]
    second = llm.invoke([question, first, *results])
    assert second.response_metadata["status"] == "completed"
    streamed = list(llm.stream([question]))
    merged = sum(streamed[1:], streamed[0])
    assert [c["args"] for c in merged.tool_calls] == [{"city": "Oslo"}, {"city": "Zürich"}]


def test_litellm_completion_and_stream(server, model_name):
    kwargs = {"model": "openai/" + model_name, "api_base": server.url("/v1"), "api_key": "unused", "max_tokens": 5,
              "messages": [{"role": "user", "content": "Say hello."}]}
    r = litellm.completion(**kwargs)
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 5
    text = "".join(chunk.choices[0].delta.content or "" for chunk in litellm.completion(stream=True, **kwargs))
    assert isinstance(text, str)


def test_litellm_tool_calls(make_server):
    s = make_server("--tool-call-parser", "hermes", "--script", SCRIPT)
    r = litellm.completion(model="openai/tandem-test", api_base=s.url("/v1"), api_key="unused", max_tokens=400,
                           messages=[{"role": "user", "content": "Weather in Oslo and Zürich?"}], tools=TOOLS)
    calls = r.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Oslo"}, {"city": "Zürich"}]
