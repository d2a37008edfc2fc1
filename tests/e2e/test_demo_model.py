"""`tandem serve` answers for real with the demo model, through the full path:
HTTP -> chat template -> tokenizer -> router -> worker (continuous batching,
CPU runner) -> sampler -> detokenizer -> JSON/SSE."""
import concurrent.futures

import openai
import pytest
import requests

from conftest import MODEL_NAME


def client(server):
    return openai.OpenAI(base_url=server.url("/v1"), api_key="unused", max_retries=0, timeout=120)


def chat(server, content, **kw):
    return client(server).chat.completions.create(
        model=MODEL_NAME, messages=[{"role": "user", "content": content}], **kw)


def test_models_lists_the_demo_model(demo):
    models = client(demo).models.list().data
    assert [m.id for m in models] == [MODEL_NAME]
    r = requests.get(demo.url("/ready"), timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["workers"] and all(w["state"] == "running" for w in body["workers"]), body
    metrics = requests.get(demo.url("/metrics"), timeout=5).text
    for w in body["workers"]:
        assert f'tandem_worker_healthy{{worker="{w["name"]}"}} 1' in metrics


def test_chat_gives_a_sensible_answer(demo):
    r = chat(demo, "What is the capital of France?", temperature=0, max_tokens=30)
    text = r.choices[0].message.content
    assert "Paris" in text, text
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_streaming_equals_non_streaming(demo):
    prompt = "List three colours of the rainbow."
    whole = chat(demo, prompt, temperature=0, max_tokens=24)
    stream = chat(demo, prompt, temperature=0, max_tokens=24, stream=True,
                  stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            pieces.append(c.delta.content or "")
            finish = c.finish_reason or finish
    assert "".join(pieces) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_max_tokens_gives_length(demo):
    r = client(demo).completions.create(model=MODEL_NAME, prompt="Once upon a time", max_tokens=5,
                                        temperature=0)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5


def test_same_seed_same_sample(demo):
    kw = dict(temperature=1.0, top_p=0.9, max_tokens=20, seed=1234)
    a = chat(demo, "Tell me about owls.", **kw).choices[0].message.content
    b = chat(demo, "Tell me about owls.", **kw).choices[0].message.content
    c = chat(demo, "Tell me about owls.", **{**kw, "seed": 99}).choices[0].message.content
    assert a == b
    assert a != c


def test_stop_string_ends_the_answer(demo):
    base = chat(demo, "Count from one to ten in words.", temperature=0, max_tokens=40)
    text = base.choices[0].message.content
    words = text.split()
    assert len(words) > 3, text
    stop = words[2]
    r = chat(demo, "Count from one to ten in words.", temperature=0, max_tokens=40, stop=[stop])
    out = r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop"
    assert stop not in out
    assert text.startswith(out)


def test_logprobs_are_log_probabilities(demo):
    r = chat(demo, "Hi!", temperature=0, max_tokens=5, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for tok in content:
        assert tok.logprob <= 0.0
        assert len(tok.top_logprobs) == 3
        # greedy: the chosen token is the most likely one
        assert abs(tok.top_logprobs[0].logprob - tok.logprob) < 1e-4
        assert tok.top_logprobs[0].logprob >= tok.top_logprobs[1].logprob >= tok.top_logprobs[2].logprob


def test_tokenize_matches_prompt_tokens(demo):
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    t = requests.post(demo.url("/tokenize"), json={"model": MODEL_NAME, "messages": messages}, timeout=10).json()
    r = client(demo).chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=1)
    assert t["count"] == r.usage.prompt_tokens == len(t["tokens"])
    d = requests.post(demo.url("/detokenize"), json={"model": MODEL_NAME, "tokens": t["tokens"]}, timeout=10).json()
    assert "What is the capital of France?" in d["prompt"]
    assert "<|im_start|>" in d["prompt"]


def test_context_length_is_enforced(demo):
    with pytest.raises(openai.BadRequestError) as e:
        chat(demo, "hello", max_tokens=100000)
    assert e.value.code == "context_length_exceeded" or "context" in str(e.value)


PROMPTS = [
    "The quick brown fox", "In a distant galaxy", "def fibonacci(n):", "Water boils at",
    "The best way to learn", "My favourite food is", "Paris is a city", "Once upon a time",
    "1, 2, 3, 4,", "The ocean is", "Dear diary, today", "import numpy as np\n",
    "Roses are red,", "The capital of Japan", "Machine learning is", "A recipe for bread:",
]


def complete(server, prompt):
    r = requests.post(server.url("/v1/completions"), json={
        "model": MODEL_NAME, "prompt": prompt, "max_tokens": 12, "temperature": 0,
        "ignore_eos": True}, timeout=300)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["text"]


def test_batch_invariance_16_concurrent_greedy(demo):
    alone = [complete(demo, p) for p in PROMPTS]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        together = list(pool.map(lambda p: complete(demo, p), PROMPTS))
    assert together == alone
    assert len(set(alone)) > 8  # the prompts really differ
