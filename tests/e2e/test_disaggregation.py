"""Disaggregated serving on the CPU backend with the demo model (issue 21): one prefill and one decode worker
give exactly the greedy answers of one aggregated worker for many concurrent requests with shared prefixes,
while some streams are cancelled mid-way and KV transfers fail now and then (a test build of the server,
tests/tools/disagg_fault_serve, fails every third KV import); afterwards no KV block is held."""
import concurrent.futures
import json
import os
import re
import time

import pytest
import requests

import conftest
from conftest import BUILD_DIR, MODEL_NAME

FAULT_SERVE = BUILD_DIR / "tests" / "tools" / "disagg_fault_serve"
PREFIXES = [
    "You are a careful assistant for a bakery that opens at seven and closes at six, sells sourdough, rye, "
    "croissants and seasonal cakes, and delivers within the city on weekdays. Question: ",
    "The following is a short story about a lighthouse keeper who lived alone on a rocky island far from "
    "the coast, with a cat, a radio and a shelf of old books. Continue: ",
]
QUESTIONS = ["When do you open?", "Do you sell rye?", "Can I order a cake?", "Do you deliver?",
             "One night", "The storm", "In the morning", "His cat"]
PROMPTS = [PREFIXES[i % 2] + QUESTIONS[i % 8] + f" ({i})" for i in range(32)]
ENGINE = "[engine]\nbackend = \"cpu\"\ncpu_threads = 1\ncpu_kv_cache_mib = 64\n"
DISAGG = (ENGINE + "[scheduler]\nmax_local_prefill_tokens = 0\nmax_prefill_queue = 1000\n"
          "[[workers]]\nrole = \"prefill\"\n[[workers]]\nrole = \"decode\"\n")


def complete(server, prompt, max_tokens=12):
    r = requests.post(server.url("/v1/completions"), json={
        "model": MODEL_NAME, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True},
        timeout=600)
    assert r.status_code == 200, r.text
    body = r.json()
    return body["choices"][0]["text"], body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]


def cancel_mid_stream(server, prompt):
    """Streams a long completion and closes the connection after a few chunks."""
    with requests.post(server.url("/v1/completions"), stream=True, timeout=600, json={
            "model": MODEL_NAME, "prompt": prompt, "max_tokens": 200, "temperature": 0, "ignore_eos": True,
            "stream": True}) as r:
        assert r.status_code == 200, r.text
        chunks = 0
        for line in r.iter_lines():
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                json.loads(line[6:])
                chunks += 1
                if chunks == 3:
                    break
    return chunks


def run_all(server, cancel):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        cancelled = [pool.submit(cancel_mid_stream, server, PREFIXES[i % 2] + "Tell me more.") for i in range(cancel)]
        answers = list(pool.map(lambda p: complete(server, p), PROMPTS))
        assert all(c.result() == 3 for c in cancelled)
    return answers


def metrics(server):
    return requests.get(server.url("/metrics"), timeout=5).text


def metric_sum(text, name):
    return sum(float(m.group(1)) for m in re.finditer(r"^" + name + r"(?:\{[^}]*\})? (\S+)$", text, re.M))


def test_prefill_and_decode_workers_match_one_aggregated_worker(start_tandem, monkeypatch):
    if not FAULT_SERVE.exists():
        pytest.fail(f"{FAULT_SERVE} is not built (scripts/build disagg_fault_serve)")
    one = start_tandem(ENGINE)
    expected = run_all(one, cancel=0)
    one.stop()

    monkeypatch.setattr(conftest, "TANDEM", FAULT_SERVE)
    env = {**os.environ, "TANDEM_TEST_FAIL_IMPORT_EVERY": "3"}
    pair = start_tandem(DISAGG, env=env)
    ready = requests.get(pair.url("/ready"), timeout=5).json()
    assert [(w["name"], w["role"]) for w in ready["workers"]] == [("cpu0", "prefill"), ("cpu1", "decode")]

    assert run_all(pair, cancel=6) == expected  # texts and usage (prompt and completion tokens)

    text = metrics(pair)
    assert metric_sum(text, r'tandem_disagg_prefills_total\{path="remote"\}') >= len(PROMPTS)
    assert metric_sum(text, "tandem_kv_transfer_failures_total") >= 1
    assert metric_sum(text, "tandem_kv_transfer_bytes_total") > 0
    assert metric_sum(text, "tandem_kv_transfer_cached_blocks_total") > 0  # shared prefixes were not copied
    assert metric_sum(text, "tandem_kv_handoff_seconds_count") > 0  # moved sequences reached a decode step
    assert 'tandem_worker_role{worker="cpu0",role="prefill"} 1' in text
    # Cancelled streams and finished requests gave every block back, on both workers.
    deadline = time.monotonic() + 30
    while metric_sum(metrics(pair), "tandem_kv_blocks_used") != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metric_sum(metrics(pair), "tandem_kv_blocks_used") == 0
    assert "injected KV import fault" in pair.log()
