"""Admission by expected wait ([scheduler] admission_ttft_ms) with `tandem serve` on the demo model: a request
whose expected time to first token is over the budget gets 429 with a Retry-After derived from the estimate;
the same request is admitted when the server is idle. The estimate and the refusals are in /metrics."""
import json
import socket
import threading
import time

import requests

from conftest import TandemServer, wait_for

BUDGET_MS = 2000


def sample(base, name, **labels):
    text = requests.get(base + "/metrics", timeout=5).text
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def complete(s, max_tokens):
    return requests.post(s.url("/v1/completions"), timeout=60,
                         json={"prompt": "Once upon a time", "max_tokens": max_tokens, "ignore_eos": True})


def test_refused_over_the_ttft_budget_admitted_under_it():
    s = TandemServer(extra_config=f"[engine]\nmax_running = 1\n[scheduler]\nadmission_ttft_ms = {BUDGET_MS}\n")
    try:
        # Idle: admitted (the first one before any step was timed, the second with an estimate).
        assert complete(s, 4).status_code == 200
        before = sample(s.base, "tandem_admission_expected_ttft_seconds_count")
        r = complete(s, 4)
        assert r.status_code == 200, r.text
        assert sample(s.base, "tandem_admission_expected_ttft_seconds_count") == before + 1
        idle_estimate = sample(s.base, "tandem_admission_expected_ttft_seconds_sum")
        assert 0 < idle_estimate < BUDGET_MS / 1000

        # A 3,000-token generation holds the only slot: a new request would wait for all of it.
        sock = socket.create_connection(("127.0.0.1", s.port))
        body = json.dumps({"prompt": "Tell me a story", "max_tokens": 3000, "ignore_eos": True,
                           "stream": True}).encode()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        sock.settimeout(60)
        got = b""
        while got.count(b"data: ") < 3:  # streaming: it runs
            got += sock.recv(65536)
        r = complete(s, 8)
        assert r.status_code == 429, r.text
        err = r.json()["error"]
        assert err["code"] == "queue_full" and "admission_ttft_ms" in err["message"], err
        # Retry-After is the expected excess over the budget in whole seconds, 1 to 60: thousands of decode
        # steps exceed the 2 s budget by more than a second on any CPU.
        assert 2 <= int(r.headers["Retry-After"]) <= 60, r.headers
        assert sample(s.base, "tandem_admission_refusals_total", reason="ttft_budget") == 1
        assert sample(s.base, "tandem_admission_refusals_total", reason="max_queue") == 0
        sock.close()  # the long one is cancelled

        # Idle again: the same request is admitted.
        assert wait_for(lambda: sample(s.base, "tandem_num_requests_running") == 0, 10)
        r = complete(s, 8)
        assert r.status_code == 200, r.text
    finally:
        s.terminate()


def test_no_budget_by_default():
    s = TandemServer(extra_config="[engine]\nmax_running = 1\n")
    try:
        assert complete(s, 2).status_code == 200
        results = []

        def long_one():
            results.append(complete(s, 200).status_code)

        t = threading.Thread(target=long_one)
        t.start()
        assert wait_for(lambda: sample(s.base, "tandem_num_requests_running") == 1, 10)
        r = complete(s, 2)  # queued behind it, not refused
        assert r.status_code == 200, r.text
        t.join()
        assert results == [200]
        assert sample(s.base, "tandem_admission_refusals_total", reason="ttft_budget") == 0
        assert sample(s.base, "tandem_admission_expected_ttft_seconds_count") >= 2
    finally:
        s.terminate()
