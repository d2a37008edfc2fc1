"""Fields and endpoints vLLM has that clients read: stop_reason,
/tokenize's return_token_strs, stream_options.continuous_usage_stats, HEAD on
the GET routes, /version and /ping."""
import http.client

import openai
import pytest
import requests


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url("/v1"), api_key="unused", max_retries=0)


def test_stop_reason_names_the_stop_string(instant):
    """The instant backend writes the prompt back, so the stop string is known to come."""
    client = openai.OpenAI(base_url=instant.url("/v1"), api_key="unused", max_retries=0)
    r = client.completions.create(model="tandem-test", prompt="hello world", stop=[" wor"], max_tokens=50)
    assert r.choices[0].text == "hello"
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].model_extra["stop_reason"] == " wor"
    r = client.completions.create(model="tandem-test", prompt="hello world", max_tokens=3)
    assert r.choices[0].finish_reason == "length"
    assert r.choices[0].model_extra["stop_reason"] is None
    stream = client.chat.completions.create(model="tandem-test", messages=[{"role": "user", "content": "say STOP"}],
                                            stop=["STOP"], max_tokens=200, stream=True)
    finals = [c.choices[0] for c in stream if c.choices and c.choices[0].finish_reason]
    assert [(f.finish_reason, f.model_extra["stop_reason"]) for f in finals] == [("stop", "STOP")]


def test_tokenize_returns_token_strings(server, model_name):
    r = requests.post(server.url("/tokenize"), json={"model": model_name, "prompt": "Hello world",
                                                     "return_token_strs": True}, timeout=10).json()
    assert len(r["token_strs"]) == r["count"] == len(r["tokens"])
    assert "".join(r["token_strs"]).replace("\u0120", " ").endswith("Hello world")
    plain = requests.post(server.url("/tokenize"), json={"prompt": "Hello"}, timeout=10).json()
    assert plain["token_strs"] is None


def test_continuous_usage_stats(client, model_name):
    stream = client.chat.completions.create(model=model_name, messages=[{"role": "user", "content": "Hi"}],
                                            max_tokens=5, stream=True,
                                            stream_options={"include_usage": True, "continuous_usage_stats": True})
    chunks = list(stream)
    assert all(c.usage is not None for c in chunks)
    counts = [c.usage.completion_tokens for c in chunks]
    assert counts == sorted(counts)
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == counts[-1] <= 5
    assert all(c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens for c in chunks)


@pytest.mark.parametrize("path", ["/health", "/metrics", "/v1/models", "/version", "/ping"])
def test_head_on_get_routes(server, path):
    get = requests.get(server.url(path), timeout=10)
    head = requests.head(server.url(path), timeout=10)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    assert int(head.headers["Content-Length"]) > 0


def test_head_answers_carry_no_body_on_a_kept_alive_connection(server):
    """aiperf probes HEAD /metrics and then reuses the connection: any byte of body after a HEAD answer (RFC 9110
    9.3.2) would be read as the next status line. Answers to HEAD, refused ones included, must end at their headers;
    http.client raises BadStatusLine on stray bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for method, path, status in [("HEAD", "/metrics", 200), ("GET", "/health", 200),
                                     ("HEAD", "/v1/chat/completions", 405), ("GET", "/version", 200),
                                     ("HEAD", "/no-such-route", 404), ("HEAD", "/v1/models/no-such-model", 404),
                                     ("GET", "/v1/models", 200)]:
            conn.request(method, path)
            r = conn.getresponse()
            body = r.read()
            assert r.status == status, (method, path, r.status, body)
            if method == "HEAD":
                assert body == b""
            else:
                assert body and len(body) == int(r.getheader("Content-Length")), (path, body)
            assert not r.will_close, (method, path)
    finally:
        conn.close()


def test_version_and_ping(server):
    assert requests.get(server.url("/version"), timeout=5).json()["version"].count(".") == 2
    assert requests.get(server.url("/ping"), timeout=5).status_code == 200
    assert requests.post(server.url("/ping"), timeout=5).status_code == 200
    r = requests.put(server.url("/ping"), timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, POST"
