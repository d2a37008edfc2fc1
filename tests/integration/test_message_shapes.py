"""The message shapes OpenAI clients send, through the official `openai`
client against the test server and the demo model (whose SmolLM2 template
concatenates `content` as a string): text parts, null content in the tool
loop, the developer role, names and tool results all render; non-text parts
are a clear 400."""
import openai
import pytest
import requests

TOOLS = [{
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}]


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url("/v1"), api_key="unused", max_retries=0)


def test_text_parts(server, client, model_name):
    parts = [{"type": "text", "text": "Name a colour."}, {"type": "text", "text": "One word."}]
    r = client.chat.completions.create(model=model_name, max_tokens=4, messages=[{"role": "user", "content": parts}])
    assert r.choices[0].finish_reason in ("stop", "length")
    # vLLM joins the parts with a newline before a template that takes `content` as a string: the prompt is the
    # one the joined string gives.
    def tokens(content):
        r = requests.post(server.url("/tokenize"), timeout=10,
                          json={"model": model_name, "messages": [{"role": "user", "content": content}]})
        assert r.status_code == 200, r.text
        return r.json()["tokens"]

    assert tokens(parts) == tokens("Name a colour.\nOne word.") != tokens("Name a colour.One word.")


def test_tool_loop_with_null_content(server, client, model_name):
    """The standard loop: the assistant turn that called a tool comes back with content None."""
    messages = [
        {"role": "system", "content": "You answer with the tool's result."},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "a1b2c3d4e", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "a1b2c3d4e", "content": "-3 C, snow"},
    ]
    r = client.chat.completions.create(model=model_name, messages=messages, tools=TOOLS, tool_choice="none",
                                       max_tokens=4)
    assert r.choices[0].finish_reason in ("stop", "length")
    tokens = requests.post(server.url("/tokenize"), json={"model": model_name, "messages": messages}, timeout=10)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["count"] > 0


def test_developer_role_and_names(client, model_name):
    r = client.chat.completions.create(model=model_name, max_tokens=4, messages=[
        {"role": "developer", "content": "Answer in one word."},
        {"role": "user", "name": "ann", "content": "Hi"}])
    assert r.choices[0].finish_reason in ("stop", "length")


def test_non_text_parts_are_refused(client, model_name):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model_name, max_tokens=4, messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}])
    assert e.value.body["param"] == "messages"
    assert "'image_url' is not supported" in e.value.body["message"]
