"""Every documented error: status, OpenAI error object, the field it names."""
import json
import time

import openai
import pytest
import requests

from conftest import raw_request

MSG = [{"role": "user", "content": "hi"}]

CHAT_400 = [
    ({"messages": MSG, "temperature": -1}, "temperature"),
    ({"messages": MSG, "temperature": "hot"}, "temperature"),
    ({"messages": MSG, "top_p": 0}, "top_p"),
    ({"messages": MSG, "top_p": 1.01}, "top_p"),
    ({"messages": MSG, "presence_penalty": 2.5}, "presence_penalty"),
    ({"messages": MSG, "frequency_penalty": -2.5}, "frequency_penalty"),
    ({"messages": MSG, "repetition_penalty": 0}, "repetition_penalty"),
    ({"messages": MSG, "n": 0}, "n"),
    ({"messages": MSG, "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({"messages": MSG, "top_logprobs": 3}, "top_logprobs"),
    ({"messages": MSG, "stream_options": {"include_usage": True}}, "stream_options"),
    ({"messages": MSG, "max_tokens": 0}, "max_tokens"),
    ({"messages": MSG, "max_completion_tokens": 0}, "max_completion_tokens"),
    ({"messages": MSG, "min_tokens": 5, "max_tokens": 2}, "min_tokens"),
    ({"messages": MSG, "stop": [""]}, "stop"),
    ({"messages": MSG, "logit_bias": {"999999": 1}}, "logit_bias"),
    ({"messages": MSG, "stop_token_ids": [-4]}, "stop_token_ids"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]}, "messages"),
    ({}, "messages"),
    ({"messages": MSG, "cache_salt": 7}, "cache_salt"),
    ({"messages": MSG, "cache_salt": ""}, "cache_salt"),
]

COMPLETION_400 = [
    ({"prompt": "a", "logprobs": 21}, "logprobs"),
    ({"prompt": 5}, "prompt"),
    ({"prompt": [1, "a"]}, "prompt"),
    ({"prompt": [999999]}, "prompt"),
    ({"prompt": ""}, "prompt"),
    ({}, "prompt"),
    ({"prompt": "a", "cache_salt": ["x"]}, "cache_salt"),
]


def check_error(resp, status, param=None, code=None):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"]
    if param is not None:
        assert err["param"] == param, err
        assert param in err["message"], err
    if code is not None:
        assert err["code"] == code, err
    return err


@pytest.mark.parametrize("body,param", CHAT_400)
def test_chat_400(server, body, param):
    err = check_error(requests.post(server.url("/v1/chat/completions"), json=body, timeout=5), 400, param)
    assert err["type"] == "invalid_request_error"


@pytest.mark.parametrize("body,param", COMPLETION_400)
def test_completion_400(server, body, param):
    check_error(requests.post(server.url("/v1/completions"), json=body, timeout=5), 400, param)


def test_invalid_streaming_request_is_plain_json(server):
    r = requests.post(server.url("/v1/chat/completions"), json={"messages": MSG, "stream": True, "top_p": 5},
                      timeout=5, stream=True)
    check_error(r, 400, "top_p")
    assert "text/event-stream" not in r.headers["Content-Type"]


def test_invalid_json_and_wrong_body(server):
    r = requests.post(server.url("/v1/chat/completions"), data=b'{"messages": [', timeout=5,
                      headers={"Content-Type": "application/json"})
    assert "JSON" in check_error(r, 400)["message"]
    json_type = {"Content-Type": "application/json"}
    check_error(requests.post(server.url("/v1/completions"), data=b"[1,2]", timeout=5, headers=json_type), 400)
    check_error(requests.post(server.url("/tokenize"), data=b"nope", timeout=5, headers=json_type), 400)


def test_context_length_exceeded(server):
    max_len = requests.get(server.url("/v1/models"), timeout=5).json()["data"][0]["max_model_len"]
    tok = requests.post(server.url("/tokenize"), json={"prompt": "x" * 50}, timeout=5).json()
    prompt_len = tok["count"]
    over = max_len - prompt_len + 1
    r = requests.post(server.url("/v1/completions"), json={"prompt": "x" * 50, "max_tokens": over}, timeout=5)
    err = check_error(r, 400, code="context_length_exceeded")
    for number in (max_len, prompt_len, over):
        assert str(number) in err["message"], err["message"]
    ok = requests.post(server.url("/v1/completions"), json={"prompt": "x" * 50, "max_tokens": 1}, timeout=5)
    assert ok.status_code == 200


def test_context_length_exceeded_via_client(server, model_name):
    client = openai.OpenAI(base_url=server.url("/v1"), api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model_name, prompt="a", max_tokens=10 ** 7)
    assert e.value.code == "context_length_exceeded"


def test_unknown_model_404(server):
    r = requests.post(server.url("/v1/chat/completions"), json={"model": "gpt-17", "messages": MSG}, timeout=5)
    check_error(r, 404, "model")
    check_error(requests.get(server.url("/v1/models/gpt-17"), timeout=5), 404)


def test_unknown_route_404_and_wrong_method_405(server):
    check_error(requests.get(server.url("/v2/everything"), timeout=5), 404)
    r = requests.get(server.url("/v1/chat/completions"), timeout=5)
    check_error(r, 405)
    assert r.headers["Allow"] == "POST"
    r = requests.post(server.url("/health"), timeout=5)
    check_error(r, 405)
    assert r.headers["Allow"] == "GET, HEAD"


def test_template_error_is_400(instant):
    r = requests.post(instant.url("/v1/chat/completions"), timeout=5,
                      json={"messages": [{"role": "user", "content": "RAISE_TEMPLATE_ERROR"}]})
    err = check_error(r, 400)
    assert "roles must alternate" in err["message"]


def test_malformed_http_is_400(instant):
    resp = raw_request(instant.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 400"), resp


def test_body_too_large_413(make_server):
    s = make_server("--max-body", "1000")
    r = requests.post(s.url("/v1/completions"), data=json.dumps({"prompt": "x" * 2000}), timeout=5,
                      headers={"Content-Type": "application/json"})
    check_error(r, 413)
    assert requests.post(s.url("/v1/completions"), json={"prompt": "x", "max_tokens": 1}, timeout=5).status_code == 200


def test_header_too_large_431(instant):
    resp = raw_request(instant.port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 431"), resp[:100]


def test_auth(make_server):
    s = make_server("--api-key", "sk-secret", "--api-key", "sk-other")
    body = {"prompt": "a", "max_tokens": 1}
    err = check_error(requests.post(s.url("/v1/completions"), json=body, timeout=5), 401)
    assert err["type"] == "authentication_error"
    check_error(requests.post(s.url("/v1/completions"), json=body, timeout=5,
                              headers={"Authorization": "Bearer sk-wrong"}), 401)
    check_error(requests.get(s.url("/v1/models"), timeout=5), 401)
    for key in ("sk-secret", "sk-other"):
        assert requests.post(s.url("/v1/completions"), json=body, timeout=5,
                             headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert requests.get(s.url("/health"), timeout=5).status_code == 200
    client = openai.OpenAI(base_url=s.url("/v1"), api_key="sk-secret", max_retries=0)
    assert client.completions.create(model="tandem-test", prompt="a", max_tokens=1).choices
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=s.url("/v1"), api_key="bad", max_retries=0).models.list()


def test_queue_full_429(make_server):
    s = make_server("--queue-limit", "1", "--token-delay-us", "50000")
    first = requests.post(s.url("/v1/completions"), json={"prompt": "a", "max_tokens": 100, "stream": True},
                          stream=True, timeout=10)
    assert first.status_code == 200
    r = requests.post(s.url("/v1/completions"), json={"prompt": "a", "max_tokens": 1}, timeout=5)
    err = check_error(r, 429)
    assert err["type"] == "rate_limit_error"
    assert int(r.headers["Retry-After"]) >= 1
    first.close()


def test_unavailable_503(make_server):
    s = make_server("--unavailable")
    r = requests.post(s.url("/v1/completions"), json={"prompt": "a"}, timeout=5)
    check_error(r, 503)
    assert int(r.headers["Retry-After"]) >= 1
    assert requests.get(s.url("/ready"), timeout=5).status_code == 503
    assert requests.get(s.url("/health"), timeout=5).status_code == 200


def test_refused_requests_are_logged_with_their_reason(make_tandem):
    """An operator reading the log sees why a request was refused, and which path an unknown route was."""
    s = make_tandem()
    assert requests.get(s.url("/v1/no-such-route"), timeout=5).status_code == 404
    assert requests.post(s.url("/v1/completions"), json={"prompt": "x", "max_tokens": -3}, timeout=5).status_code == 400
    deadline = time.time() + 5
    while time.time() < deadline and sum("reason=" in line for line in s.log) < 2:
        time.sleep(0.05)
    lines = [line for line in s.log if "reason=" in line]
    assert any("status=404" in line and "/v1/no-such-route" in line for line in lines), "".join(s.log)
    assert any("status=400" in line and "max_tokens" in line for line in lines), "".join(s.log)
