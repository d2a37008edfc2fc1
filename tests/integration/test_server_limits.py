"""A request cut by the server's own limit ends in a way OpenAI clients know:
the request deadline ([server] request_timeout_s) gives finish_reason
"length", not "abort"."""
import openai


def test_request_timeout_ends_with_length(make_server):
    s = make_server("--request-timeout", "1", "--token-delay-us", "20000", "--max-context", "100000")
    client = openai.OpenAI(base_url=s.url("/v1"), api_key="unused", max_retries=0)
    r = client.completions.create(model="tandem-test", prompt="a", max_tokens=10000)
    assert r.choices[0].finish_reason == "length"
    assert 0 < r.usage.completion_tokens < 10000
    stream = client.chat.completions.create(model="tandem-test", messages=[{"role": "user", "content": "a"}],
                                            max_tokens=10000, stream=True)
    finishes = [c.choices[0].finish_reason for c in stream if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
