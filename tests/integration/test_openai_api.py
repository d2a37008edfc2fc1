"""The OpenAI surface through the official `openai` client and raw HTTP."""
import json

import openai
import pytest
import requests


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url("/v1"), api_key="unused", max_retries=0)


def sse_payloads(resp):
    """The data payloads of an SSE response, in order."""
    out = []
    for line in resp.iter_lines():
        if line.startswith(b"data: "):
            out.append(line[len(b"data: "):].decode())
        else:
            assert line == b"", line
    return out


def test_models_list_and_retrieve(client, model_name):
    models = client.models.list()
    assert [m.id for m in models.data] == [model_name]
    assert client.models.retrieve(model_name).id == model_name
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_chat_completion(client, model_name):
    r = client.chat.completions.create(model=model_name, messages=[{"role": "user", "content": "Hello"}],
                                       max_tokens=8)
    assert r.id.startswith("chatcmpl-")
    assert r.object == "chat.completion"
    assert r.model == model_name
    assert len(r.choices) == 1
    c = r.choices[0]
    assert c.index == 0 and c.message.role == "assistant"
    assert isinstance(c.message.content, str)
    assert c.finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens >= 0


def test_chat_stream_with_usage(client, model_name):
    stream = client.chat.completions.create(model=model_name, messages=[{"role": "user", "content": "Hi"}],
                                            max_tokens=10, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert content_chunks, "no content deltas"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason in ("stop", "length")
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens <= 10
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


def test_stream_wire_format_ends_with_done(server, model_name):
    r = requests.post(server.url("/v1/chat/completions"), stream=True, timeout=10, json={
        "model": model_name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    payloads = sse_payloads(r)
    assert payloads[-1] == "[DONE]"
    for p in payloads[:-1]:
        obj = json.loads(p)
        assert obj["object"] == "chat.completion.chunk"
        assert "usage" not in obj  # no include_usage: no usage key at all


def test_completion(client, model_name):
    r = client.completions.create(model=model_name, prompt="Hello", max_tokens=5)
    assert r.id.startswith("cmpl-")
    assert r.object == "text_completion"
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 5


def test_n_choices(client, model_name):
    r = client.chat.completions.create(model=model_name, messages=[{"role": "user", "content": "Hi"}],
                                       max_tokens=4, n=3, seed=5)
    assert sorted(c.index for c in r.choices) == [0, 1, 2]
    stream = client.completions.create(model=model_name, prompt=["ab", "cd"], max_tokens=3, n=2, stream=True)
    indexes = {c.choices[0].index for c in stream if c.choices}
    assert indexes == {0, 1, 2, 3}


def test_tokenize_detokenize_shapes(server, model_name):
    t = requests.post(server.url("/tokenize"), json={"model": model_name, "prompt": "Hello"}, timeout=5).json()
    assert set(t) >= {"count", "max_model_len", "tokens"}
    assert t["count"] == len(t["tokens"]) and t["max_model_len"] > 0
    d = requests.post(server.url("/detokenize"), json={"model": model_name, "tokens": t["tokens"]}, timeout=5).json()
    assert d == {"prompt": "Hello"}
    chat = requests.post(server.url("/tokenize"), timeout=5, json={
        "messages": [{"role": "user", "content": "Hello"}]}).json()
    assert chat["count"] > t["count"]


def test_health_ready_metrics(server):
    assert requests.get(server.url("/health"), timeout=5).status_code == 200
    assert requests.get(server.url("/ready"), timeout=5).status_code == 200
    m = requests.get(server.url("/metrics"), timeout=5)
    assert m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain")
    for name in ("tandem_time_to_first_token_seconds_bucket", "tandem_http_requests_total",
                 "tandem_num_requests_running", "tandem_e2e_request_latency_seconds_count",
                 "vllm:time_to_first_token_seconds_bucket"):
        assert name in m.text, name


# ---- exact behaviour against the instant backend (cycles the prompt) ----

def post(server, path, body, **kw):
    return requests.post(server.url(path), json=body, timeout=10, **kw)


def test_instant_completion_text_and_usage(instant):
    r = post(instant, "/v1/completions", {"prompt": "Hello", "max_tokens": 7}).json()
    assert r["choices"][0]["text"] == "HelloHe"
    assert r["choices"][0]["finish_reason"] == "length"
    assert r["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
                          "prompt_tokens_details": {"cached_tokens": 0}}


def test_instant_stop_strings(instant):
    r = post(instant, "/v1/completions", {"prompt": "abcdefg", "max_tokens": 20, "stop": ["de", "zz"]}).json()
    assert r["choices"][0]["text"] == "abc"
    assert r["choices"][0]["finish_reason"] == "stop"
    assert r["usage"]["completion_tokens"] == 5  # a b c d e
    r = post(instant, "/v1/completions", {"prompt": "abcdefg", "max_tokens": 20, "stop": "de",
                                          "include_stop_str_in_output": True}).json()
    assert r["choices"][0]["text"] == "abcde"


def test_instant_stop_string_streaming_never_leaks(instant):
    r = post(instant, "/v1/completions", {"prompt": "abcdefg", "max_tokens": 20, "stop": "def",
                                          "stream": True}, stream=True)
    payloads = sse_payloads(r)
    text = "".join(json.loads(p)["choices"][0]["text"] for p in payloads[:-1] if json.loads(p)["choices"])
    assert text == "abc"
    assert json.loads(payloads[-2])["choices"][0]["finish_reason"] == "stop"


def test_instant_stop_token_ids_and_eos(instant):
    r = post(instant, "/v1/completions", {"prompt": "abcabc", "max_tokens": 20, "stop_token_ids": [ord("c")]}).json()
    assert r["choices"][0]["text"] == "ab"
    assert r["choices"][0]["finish_reason"] == "stop"
    assert r["usage"]["completion_tokens"] == 3  # the stop token counts
    r = post(instant, "/v1/completions", {"prompt": "ab<|endoftext|>", "max_tokens": 20}).json()
    assert r["choices"][0]["text"] == "ab" and r["choices"][0]["finish_reason"] == "stop"
    r = post(instant, "/v1/completions", {"prompt": "ab<|endoftext|>", "max_tokens": 5, "ignore_eos": True}).json()
    assert r["choices"][0]["text"] == "abab" and r["choices"][0]["finish_reason"] == "length"
    r = post(instant, "/v1/completions", {"prompt": "ab<|endoftext|>", "max_tokens": 6, "min_tokens": 4}).json()
    assert r["choices"][0]["text"] == "abab"  # EOS suppressed until 4 tokens, then it stops
    assert r["choices"][0]["finish_reason"] == "stop" and r["usage"]["completion_tokens"] == 5
    r = post(instant, "/v1/completions", {"prompt": "ab<|endoftext|>", "max_tokens": 4,
                                          "ignore_eos": True, "skip_special_tokens": False}).json()
    assert r["choices"][0]["text"] == "ab<|endoftext|>a"


def test_instant_echo_and_token_prompts(instant):
    r = post(instant, "/v1/completions", {"prompt": [72, 105], "max_tokens": 3, "echo": True}).json()
    assert r["choices"][0]["text"] == "HiHiH"
    r = post(instant, "/v1/completions", {"prompt": [[72], [105]], "max_tokens": 2}).json()
    assert [c["text"] for c in r["choices"]] == ["HH", "ii"]
    assert r["usage"]["prompt_tokens"] == 2


def test_instant_logprobs(instant):
    r = post(instant, "/v1/completions", {"prompt": "ab", "max_tokens": 2, "logprobs": 2}).json()
    lp = r["choices"][0]["logprobs"]
    assert lp["tokens"] == ["a", "b"]
    assert lp["token_logprobs"] == [0.0, -0.25]
    assert lp["top_logprobs"][1] == {"b": -0.25, "c": -1.25}
    assert lp["text_offset"] == [0, 1]
    r = post(instant, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                               "max_tokens": 2, "logprobs": True, "top_logprobs": 1}).json()
    content = r["choices"][0]["logprobs"]["content"]
    assert len(content) == 2 and len(content[0]["top_logprobs"]) == 1
    assert content[0]["token"] == "<|im_start|>"


def test_instant_chat_template_kwargs_and_tools(instant):
    base = {"messages": [{"role": "user", "content": "x"}]}
    plain = post(instant, "/tokenize", base).json()
    think = post(instant, "/tokenize", {**base, "chat_template_kwargs": {"enable_thinking": False}}).json()
    decoded = post(instant, "/detokenize", {"tokens": think["tokens"]}).json()["prompt"]
    assert decoded.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert think["count"] == plain["count"] + len("<think>\n\n</think>\n\n")
    tools = post(instant, "/tokenize", {**base, "tools": [{"type": "function", "function": {"name": "f"}}]}).json()
    assert "# Tools" in post(instant, "/detokenize", {"tokens": tools["tokens"]}).json()["prompt"]
    no_gen = post(instant, "/tokenize", {**base, "add_generation_prompt": False}).json()
    assert no_gen["count"] == plain["count"] - (1 + len("assistant\n"))  # <|im_start|> is one id


def test_cached_tokens_are_reported(make_server):
    s = make_server("--cached-tokens", "3")
    r = post(s, "/v1/completions", {"prompt": "abcdef", "max_tokens": 2}).json()
    assert r["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    r = post(s, "/v1/completions", {"prompt": "ab", "max_tokens": 2, "stream": True,
                                    "stream_options": {"include_usage": True}}, stream=True)
    usage = json.loads(sse_payloads(r)[-2])["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 2  # clamped to the prompt
