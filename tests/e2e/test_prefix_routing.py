"""KV-aware routing and prefix caching across 4 CPU workers with the demo model:
multi-turn conversations behind a long shared system prompt give exactly the
answers of round-robin routing with prefix caching off, while under `kv`
routing every turn of a conversation lands on one worker and reuses its cache."""
import re

import openai
import requests

from conftest import MODEL_NAME

SYSTEM = ("You are a careful assistant for a bakery. Answer briefly and politely. The bakery opens at seven "
          "in the morning and closes at six in the evening, sells sourdough, rye, croissants and seasonal "
          "cakes, takes orders by phone, and delivers within the city on weekdays. Never invent prices.")
CONVERSATIONS = [
    ["When do you open?", "And on Sunday?", "Can I order a cake?"],
    ["Do you sell rye bread?", "Is it made with sourdough?", "How long does it keep?"],
    ["Do you deliver?", "To the suburbs too?", "What about weekends?"],
]
BASE = "[engine]\nworkers = 4\ncpu_threads = 1\ncpu_kv_cache_mib = 32\n"


def decisions(server):
    text = requests.get(server.url("/metrics"), timeout=5).text
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^tandem_router_decisions_total\{worker="([^"]+)"\} (\S+)$', text, re.M)}


def metric(server, name):
    text = requests.get(server.url("/metrics"), timeout=5).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"{name} missing from /metrics"
    return float(m.group(1))


def run_conversations(server, salt=None):
    """Each conversation turn by turn (sequentially, so the decisions counter
    says which worker served each request). Returns per-turn records."""
    client = openai.OpenAI(base_url=server.url("/v1"), api_key="none")
    out = []
    for conv in CONVERSATIONS:
        messages = [{"role": "system", "content": SYSTEM}]
        turns = []
        for question in conv:
            messages.append({"role": "user", "content": question})
            before = decisions(server)
            extra = {"cache_salt": salt} if salt else {}
            r = client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=12,
                                               temperature=0, extra_body=extra)
            after = decisions(server)
            moved = [w for w in after if after[w] != before.get(w, 0.0)]
            answer = r.choices[0].message.content
            details = r.usage.prompt_tokens_details
            turns.append({"answer": answer, "workers": moved, "prompt_tokens": r.usage.prompt_tokens,
                          "cached": details.cached_tokens if details else 0})
            messages.append({"role": "assistant", "content": answer})
        out.append(turns)
    return out


def test_kv_routing_keeps_conversations_on_one_worker_with_identical_answers(start_tandem):
    reference = start_tandem(BASE + "enable_prefix_caching = false\n[scheduler]\nrouter = \"round_robin\"\n")
    expected = run_conversations(reference)
    reference.stop()
    for conv in expected:
        for t in conv:
            assert t["cached"] == 0  # caching off: nothing is ever served from cache

    kv = start_tandem(BASE + "[scheduler]\nrouter = \"kv\"\n")
    got = run_conversations(kv)
    assert [[t["answer"] for t in c] for c in got] == [[t["answer"] for t in c] for c in expected]
    assert len(decisions(kv)) == 4  # one counter per worker
    for conv in got:
        for t in conv:
            assert len(t["workers"]) == 1, t  # exactly one decision per request
        home = conv[0]["workers"][0]
        assert all(t["workers"][0] == home for t in conv), conv
        for t in conv[1:]:
            # The whole previous turn's prompt (system prompt included) came from cache.
            assert t["cached"] > 0, t
            assert t["cached"] % 16 == 0 and t["cached"] < t["prompt_tokens"], t
    # Later conversations reuse the shared system prompt already on turn one.
    assert all(c[0]["cached"] >= 16 for c in got[1:]), got
    queries = metric(kv, "tandem_prefix_cache_queries_total")
    hits = metric(kv, "tandem_prefix_cache_hits_total")
    assert queries == sum(t["prompt_tokens"] for c in got for t in c)
    assert hits == sum(t["cached"] for c in got for t in c)
    usage = metric(kv, "tandem_kv_cache_usage_perc")
    assert 0.0 <= usage <= 1.0
    assert "overlap_blocks=" in kv.log()

    # Another tenant's salt shares nothing: the same first turn is computed again.
    salted = run_conversations(kv, salt="tenant-b")
    assert salted[0][0]["cached"] == 0
    assert salted[0][0]["answer"] == expected[0][0]["answer"]
    assert salted[0][1]["cached"] > 0  # ...but reuses its own blocks on the next turn
