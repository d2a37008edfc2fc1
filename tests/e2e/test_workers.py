"""Several CPU workers behind the router give the same greedy answers as one."""
import concurrent.futures

import requests

from conftest import MODEL_NAME

PROMPTS = ["The sun rises in the", "Bread is made from", "A haiku about snow:", "The first law of",
           "Cats and dogs are", "To make tea, first"]


def answers(server):
    def one(p):
        r = requests.post(server.url("/v1/completions"), json={
            "model": MODEL_NAME, "prompt": p, "max_tokens": 10, "temperature": 0, "ignore_eos": True},
            timeout=300)
        assert r.status_code == 200, r.text
        return r.json()["choices"][0]["text"]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        return list(pool.map(one, PROMPTS))


def worker_decisions(server):
    text = requests.get(server.url("/metrics"), timeout=5).text
    return [l for l in text.splitlines() if l.startswith("tandem_worker_requests_running{")]


def test_four_workers_round_robin_match_one_worker(start_tandem):
    one = start_tandem("[engine]\nworkers = 1\ncpu_threads = 1\ncpu_kv_cache_mib = 64\n")
    expected = answers(one)
    one.stop()
    four = start_tandem("[engine]\nworkers = 4\ncpu_threads = 1\ncpu_kv_cache_mib = 64\n"
                        "[scheduler]\nrouter = \"round_robin\"\n")
    assert answers(four) == expected
    assert len(worker_decisions(four)) == 4
