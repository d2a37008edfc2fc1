"""POST /v1/responses through the official `openai` client (its types are the
reference for every field and event): text in and out, streamed as the
typed response.* events and not, previous_response_id, function tools and
the tool loop, and the clear 400s for what Tandem cannot do."""
import json

import openai
import pytest

TOOLS = [{"type": "function", "name": "get_weather", "description": "Current weather in a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
CALLS = ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
         '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bergen"}}\n</tool_call><|endoftext|>')


def client_of(server):
    return openai.OpenAI(base_url=server.url("/v1"), api_key="unused", max_retries=0)


@pytest.fixture
def scripted(make_server):
    return client_of(make_server("--script", "Hello from Tandem.<|endoftext|>"))


@pytest.fixture
def echo(make_server):
    """The instant backend without a script writes its prompt back."""
    return client_of(make_server())


@pytest.fixture
def hermes(make_server):
    return client_of(make_server("--tool-call-parser", "hermes", "--script", CALLS))


def test_text_response(scripted):
    r = scripted.responses.create(model="tandem-test", input="Hi", max_output_tokens=100)
    assert r.object == "response" and r.id.startswith("resp")
    assert r.status == "completed" and r.incomplete_details is None
    assert r.output_text == "Hello from Tandem."
    [message] = r.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert message.content[0].type == "output_text"
    assert r.usage.output_tokens == len("Hello from Tandem.") + 1  # bytes, then the EOS
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert r.max_output_tokens == 100 and r.tools == [] and r.model == "tandem-test"


def test_streamed_events(scripted):
    events = list(scripted.responses.create(model="tandem-test", input="Hi", stream=True))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert set(types[4:-4]) == {"response.output_text.delta"}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == events[-4].text == "Hello from Tandem."
    item_ids = {e.item_id for e in events if hasattr(e, "item_id")}
    assert item_ids == {events[2].item.id}
    final = events[-1].response
    assert final.status == "completed" and final.output_text == text and final.usage.output_tokens > 0


def test_max_output_tokens_makes_it_incomplete(scripted):
    r = scripted.responses.create(model="tandem-test", input="Hi", max_output_tokens=5)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert r.output_text == "Hello"
    events = list(scripted.responses.create(model="tandem-test", input="Hi", max_output_tokens=5, stream=True))
    assert events[-1].type == "response.incomplete"


def test_previous_response_id_continues_the_conversation(echo):
    first = echo.responses.create(model="tandem-test", input="first question", instructions="Be brief.",
                                  max_output_tokens=40)
    second = echo.responses.create(model="tandem-test", input=[{"role": "user", "content": "second question"}],
                                   previous_response_id=first.id, instructions="Answer in French.",
                                   max_output_tokens=400)
    prompt = second.output_text  # the instant backend writes back what the template rendered
    # This turn's instructions, the first turn without its instructions, the first answer, this input.
    history = "system\nAnswer in French.\nuser\nfirst question\nassistant\n" + first.output_text
    assert prompt.startswith(history + "\nuser\nsecond question\nassistant\n"), prompt[:300]
    assert second.previous_response_id == first.id
    with pytest.raises(openai.BadRequestError) as e:
        echo.responses.create(model="tandem-test", input="x", previous_response_id="resp-unknown")
    assert e.value.body["param"] == "previous_response_id"
    unstored = echo.responses.create(model="tandem-test", input="x", store=False, max_output_tokens=2)
    with pytest.raises(openai.BadRequestError):
        echo.responses.create(model="tandem-test", input="y", previous_response_id=unstored.id)


def test_function_calls_and_the_tool_loop(hermes):
    r = hermes.responses.create(model="tandem-test", input="Weather in Oslo and Bergen?", tools=TOOLS)
    calls = [o for o in r.output if o.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Oslo"}),
                                                                  ("get_weather", {"city": "Bergen"})]
    assert all(c.call_id.startswith("call_") and c.status == "completed" for c in calls)
    assert r.tools[0].name == "get_weather"
    follow_up = [{"role": "user", "content": "Weather in Oslo and Bergen?"}, *[c.model_dump() for c in calls],
                 *[{"type": "function_call_output", "call_id": c.call_id, "output": "-3 C"} for c in calls]]
    again = hermes.responses.create(model="tandem-test", input=follow_up, tools=TOOLS)
    assert again.status == "completed"
    chained = hermes.responses.create(model="tandem-test", previous_response_id=r.id, tools=TOOLS,
                                      input=[{"type": "function_call_output", "call_id": calls[0].call_id,
                                              "output": "-3 C"}])
    assert chained.status == "completed"


def test_function_calls_streamed(hermes):
    events = list(hermes.responses.create(model="tandem-test", input="Weather?", tools=TOOLS, stream=True))
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [json.loads(e.arguments) for e in done] == [{"city": "Oslo"}, {"city": "Bergen"}]
    added = [e.item for e in events if e.type == "response.output_item.added" and e.item.type == "function_call"]
    assert [a.name for a in added] == ["get_weather", "get_weather"]
    final = events[-1].response
    assert events[-1].type == "response.completed"
    assert [o.type for o in final.output] == ["function_call", "function_call"]


@pytest.mark.parametrize("kwargs,param", [
    ({"tools": [{"type": "web_search"}]}, "tools"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA=="}]}]},
     "input"),
    ({"text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}}, "text"),
    ({"background": True}, "background"),
    ({"input": [{"type": "item_reference", "id": "x"}]}, "input"),
])
def test_what_it_cannot_do_is_a_clear_400(scripted, kwargs, param):
    with pytest.raises(openai.BadRequestError) as e:
        scripted.responses.create(**{"model": "tandem-test", "input": "Hi", **kwargs})
    assert e.value.body["param"] == param
    assert "not supported" in e.value.body["message"] or "not available in this build" in e.value.body["message"]


def test_responses_on_each_server(server, model_name):
    client = client_of(server)
    r = client.responses.create(model=model_name, input="Say hello.", max_output_tokens=5)
    assert r.status in ("completed", "incomplete") and r.usage.output_tokens <= 5
    events = list(client.responses.create(model=model_name, input="Say hello.", max_output_tokens=5, stream=True))
    assert events[0].type == "response.created" and events[-1].type in ("response.completed", "response.incomplete")


def test_reasoning_is_its_own_item(make_server):
    client = client_of(make_server("--reasoning-parser", "qwen3", "--script",
                                   "<think>Paris is the capital.</think>Paris.<|endoftext|>"))
    r = client.responses.create(model="tandem-test", input="Capital of France?")
    assert [o.type for o in r.output] == ["reasoning", "message"]
    assert r.output[0].content[0].text == "Paris is the capital." and r.output_text == "Paris."
    events = list(client.responses.create(model="tandem-test", input="Capital of France?", stream=True))
    thinking = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    assert thinking == "Paris is the capital."
    assert [o.type for o in events[-1].response.output] == ["reasoning", "message"]
    assert events[-1].response.output_text == "Paris."


def test_the_sdk_stream_helper_accumulates_the_events(make_server):
    """client.responses.stream() rebuilds the response from the events and checks their order."""
    client = client_of(make_server("--tool-call-parser", "hermes", "--reasoning-parser", "qwen3", "--script",
                                   "<think>hmm</think>Checking.\n" + CALLS))
    with client.responses.stream(model="tandem-test", input="Weather?", tools=TOOLS) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert [o.type for o in final.output] == ["reasoning", "message", "function_call", "function_call"]
    assert final.output_text == "Checking."
    assert [json.loads(o.arguments) for o in final.output[2:]] == [{"city": "Oslo"}, {"city": "Bergen"}]
