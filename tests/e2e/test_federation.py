"""Several `tandem serve` processes on loopback sharing a discovery directory
([discovery], README "Running several appliances"): peers appear and expire,
a model served only by a peer is reachable through any appliance (streamed and
not, through the official openai client), load goes to a peer under
saturation, loops and wrong peer keys are refused, and corrupt, partial,
foreign and stale records are ignored."""
import concurrent.futures
import json
import os
import re
import signal
import time

import openai
import pytest
import requests

from conftest import MODEL_NAME

KEY = "e2e-peer-key"
TTL = 2
ENGINE = "[engine]\ncpu_threads = 1\ncpu_kv_cache_mib = 64\n"


def discovery_toml(directory, ident, key=KEY, extra="", ttl=TTL):
    return (ENGINE + f'[discovery]\ndir = "{directory}"\nid = "{ident}"\npeer_key = "{key}"\nttl_s = {ttl}\n'
            + extra)


def start(start_tandem, directory, ident, name, key=KEY, extra="", engine_extra="", ttl=TTL):
    toml = discovery_toml(directory, ident, key, extra, ttl).replace("[engine]\n", "[engine]\n" + engine_extra)
    return start_tandem(toml, extra_args=("--served-model-name", name))


def model_ids(server):
    return {m["id"]: m for m in requests.get(server.url("/v1/models"), timeout=5).json()["data"]}


def wait_for(predicate, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def metric(server, name, **labels):
    text = requests.get(server.url("/metrics"), timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def fnv_key_hash(key):
    h = 0xcbf29ce484222325
    for c in b"tandem-peer-key/1:" + key.encode():
        h ^= c
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


@pytest.fixture
def peers_dir(tmp_path):
    d = tmp_path / "peers"
    d.mkdir()
    return d


def test_peers_appear_and_expire(start_tandem, peers_dir):
    a = start(start_tandem, peers_dir, "a", "alpha")
    b = start(start_tandem, peers_dir, "b", "beta")
    assert wait_for(lambda: "beta" in model_ids(a) and "alpha" in model_ids(b))
    remote = model_ids(a)["beta"]
    assert remote["tandem_peers"] == ["b"]
    assert "tandem_peers" not in model_ids(a)["alpha"]
    assert requests.get(a.url("/v1/models/beta"), timeout=5).json()["root"] == "beta"
    assert metric(a, "tandem_discovery_peers") == 1
    # Each record is the JSON the README describes, with the appliance's URL and model.
    record = json.loads((peers_dir / "b.json").read_text())
    assert record["id"] == "b" and record["url"] == b.base and record["schema"] == 1
    assert record["key_hash"] == fnv_key_hash(KEY)
    assert [m["name"] for m in record["models"]] == ["beta"]
    assert record["models"][0]["capacity"] >= 1 and record["ttl_s"] == TTL
    # A clean stop removes the record at once; the peer leaves the table.
    a.stop()
    assert not (peers_dir / "a.json").exists()
    assert wait_for(lambda: "alpha" not in model_ids(b), 3)
    # kill -9 leaves the record; it expires after its TTL.
    c = start(start_tandem, peers_dir, "c", "gamma")
    assert wait_for(lambda: "gamma" in model_ids(b))
    c.proc.send_signal(signal.SIGKILL)
    c.proc.wait()
    killed_at = time.monotonic()
    assert (peers_dir / "c.json").exists()
    assert wait_for(lambda: "gamma" not in model_ids(b), TTL + 5)
    assert time.monotonic() - killed_at >= TTL - 1.5  # not before the record could have gone stale
    assert wait_for(lambda: metric(b, "tandem_discovery_peers") == 0, 2)  # the gauge follows at the next scan


def test_a_model_served_only_by_a_peer_is_reachable_through_any_appliance(start_tandem, peers_dir):
    a = start(start_tandem, peers_dir, "a", "alpha")
    b = start(start_tandem, peers_dir, "b", "beta")
    assert wait_for(lambda: "beta" in model_ids(a))
    messages = [{"role": "user", "content": "Name three colors."}]
    direct = openai.OpenAI(base_url=b.url("/v1"), api_key="x", max_retries=0)
    via_a = openai.OpenAI(base_url=a.url("/v1"), api_key="x", max_retries=0)
    expected = direct.chat.completions.create(model="beta", messages=messages, max_tokens=16, temperature=0)
    got = via_a.chat.completions.create(model="beta", messages=messages, max_tokens=16, temperature=0)
    assert got.model == "beta"
    assert got.choices[0].message.content == expected.choices[0].message.content
    assert got.usage.completion_tokens == expected.usage.completion_tokens
    assert got.usage.prompt_tokens == expected.usage.prompt_tokens
    # Streamed: the chunks arrive as the peer sends them, usage included.
    stream = via_a.chat.completions.create(model="beta", messages=messages, max_tokens=16, temperature=0,
                                           stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert chunks[-1].usage.completion_tokens == expected.usage.completion_tokens
    # Completions too, and an error body comes back as the peer wrote it.
    comp = via_a.completions.create(model="beta", prompt="The sky is", max_tokens=8, temperature=0)
    assert comp.choices[0].text == direct.completions.create(model="beta", prompt="The sky is", max_tokens=8,
                                                             temperature=0).choices[0].text
    r = requests.post(a.url("/v1/chat/completions"), json={"model": "beta", "messages": messages, "top_p": 7},
                      timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"] == "top_p"
    assert metric(a, "tandem_forwarded_requests_total", peer="b", outcome="ok") == 3
    assert metric(a, "tandem_forwarded_requests_total", peer="b", outcome="error") == 1
    assert re.search(r"forwarded_to=b", a.log())
    # A model nobody serves is still a 404.
    r = requests.post(a.url("/v1/chat/completions"), json={"model": "nobody", "messages": messages}, timeout=30)
    assert r.status_code == 404


def test_forwarding_under_saturation(start_tandem, peers_dir):
    # a: one sequence at a time, so a few requests queue; b serves the same model.
    a = start(start_tandem, peers_dir, "a", MODEL_NAME, extra="forward_queue_threshold = 1\n",
              engine_extra="max_running = 1\n")
    b = start(start_tandem, peers_dir, "b", MODEL_NAME, extra="forward_queue_threshold = 1\n")
    assert wait_for(lambda: json.loads((peers_dir / "b.json").read_text())["models"][0]["name"] == MODEL_NAME)
    assert wait_for(lambda: metric(a, "tandem_discovery_peers") == 1)

    def one(i):
        r = requests.post(a.url("/v1/completions"), json={
            "model": MODEL_NAME, "prompt": "Once upon a time", "max_tokens": 24, "temperature": 0,
            "ignore_eos": True}, timeout=300)
        assert r.status_code == 200, r.text
        return r.json()["choices"][0]["text"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(one, range(8)))
    assert len(set(texts)) == 1  # the same greedy answer wherever it ran
    forwarded = metric(a, "tandem_forwarded_requests_total", peer="b", outcome="ok")
    assert 1 <= forwarded <= 7
    assert metric(b, "tandem_http_requests_total", route="/v1/completions") == forwarded


def test_loops_are_refused(start_tandem, peers_dir):
    a = start(start_tandem, peers_dir, "a", "alpha")
    b = start(start_tandem, peers_dir, "b", "beta", extra="max_hops = 0\n")
    assert wait_for(lambda: "beta" in model_ids(a) and "alpha" in model_ids(b))
    body = {"model": "beta", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    # A request a peer already forwarded (one hop, the limit) is not forwarded again.
    r = requests.post(a.url("/v1/chat/completions"), json=body,
                      headers={"X-Tandem-Peer-Key": KEY, "X-Tandem-Hops": "1"}, timeout=30)
    assert r.status_code == 508, r.text
    err = r.json()["error"]
    assert err["code"] == "loop_detected" and "max_hops" in err["message"] and "`beta`" in err["message"]
    # max_hops = 0 on b: b never forwards.
    r = requests.post(b.url("/v1/chat/completions"), json={**body, "model": "alpha"}, timeout=30)
    assert r.status_code == 508
    # With the hop header the peer itself serves a model it has.
    r = requests.post(b.url("/v1/chat/completions"), json=body,
                      headers={"X-Tandem-Peer-Key": KEY, "X-Tandem-Hops": "1"}, timeout=60)
    assert r.status_code == 200, r.text
    r = requests.post(b.url("/v1/chat/completions"), json=body,
                      headers={"X-Tandem-Peer-Key": KEY, "X-Tandem-Hops": "x"}, timeout=30)
    assert r.status_code == 400 and "X-Tandem-Hops" in r.json()["error"]["message"]


def test_a_wrong_peer_key_is_refused(start_tandem, peers_dir):
    a = start(start_tandem, peers_dir, "a", "alpha")
    other = start(start_tandem, peers_dir, "other", "beta", key="another-key")
    body = {"model": "alpha", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    for headers in ({"X-Tandem-Peer-Key": "wrong", "X-Tandem-Hops": "1"}, {"X-Tandem-Hops": "1"},
                    {"X-Tandem-Peer-Key": KEY[:-1] + "X", "X-Tandem-Hops": "1"}):
        r = requests.post(a.url("/v1/chat/completions"), json=body, headers=headers, timeout=30)
        assert r.status_code == 401, (headers, r.text)
        assert "peer key" in r.json()["error"]["message"]
    # Records of another group are ignored (one warning), and its models not listed.
    assert wait_for(lambda: metric(a, "tandem_discovery_records_ignored_total", reason="foreign_key") == 1)
    assert "beta" not in model_ids(a) and "alpha" not in model_ids(other)
    time.sleep(TTL)  # several heartbeats of the other group: still one warning
    assert metric(a, "tandem_discovery_records_ignored_total", reason="foreign_key") == 1
    assert len(re.findall(r"ignoring .*other\.json", a.log())) == 1
    r = requests.post(a.url("/v1/chat/completions"), json={**body, "model": "beta"}, timeout=30)
    assert r.status_code == 404


def test_corrupt_partial_and_stale_records_are_ignored(start_tandem, peers_dir):
    good = {"schema": 1, "id": "stale", "url": "http://127.0.0.1:9", "version": "x", "key_hash": fnv_key_hash(KEY),
            "updated_ms": int(time.time() * 1000) - 3600_000, "ttl_s": 10, "seq": 1, "roles": ["aggregated"],
            "models": [{"name": "ghost", "aliases": [], "max_context": 64, "capacity": 1, "max_queue": 1,
                        "waiting": 0, "running": 0, "kv_usage": 0.0}]}
    (peers_dir / "stale.json").write_text(json.dumps(good))
    (peers_dir / "partial.json").write_text(json.dumps({**good, "id": "partial"})[:60])
    (peers_dir / "corrupt.json").write_bytes(b"\x00\xff{{{ not json")
    (peers_dir / "future.json").write_text(json.dumps({**good, "id": "future", "schema": 99}))
    (peers_dir / ".tmp-write.json").write_text("{")  # a writer's temporary file: not even looked at
    a = start(start_tandem, peers_dir, "a", "alpha")
    b = start(start_tandem, peers_dir, "b", "beta")
    assert wait_for(lambda: "beta" in model_ids(a))
    assert set(model_ids(a)) == {"alpha", "beta"}
    assert metric(a, "tandem_discovery_peers") == 1
    assert metric(a, "tandem_discovery_records_ignored_total", reason="stale") == 1
    assert metric(a, "tandem_discovery_records_ignored_total", reason="malformed") == 2
    assert metric(a, "tandem_discovery_records_ignored_total", reason="schema") == 1
    for name in ("stale.json", "partial.json", "corrupt.json", "future.json"):
        assert len(re.findall(r"\[discovery\] ignoring .*/" + re.escape(name), a.log())) == 1, name
    assert ".tmp-write.json" not in a.log()
    # A record corrupted while the appliances run: still serving, still one line for it.
    (peers_dir / "partial.json").write_text("{\"schema\": 1")
    time.sleep(1)
    r = requests.post(a.url("/v1/chat/completions"),
                      json={"model": "beta", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
                      timeout=60)
    assert r.status_code == 200, r.text
    assert a.proc.poll() is None and b.proc.poll() is None


def test_a_dead_peer_is_skipped_and_a_stream_it_breaks_ends_with_an_error(start_tandem, peers_dir):
    a = start(start_tandem, peers_dir, "a", "alpha")
    b = start(start_tandem, peers_dir, "b", "beta", ttl=60)  # its record outlives it
    c = start(start_tandem, peers_dir, "c", "beta", ttl=60)
    assert wait_for(lambda: model_ids(a).get("beta", {}).get("tandem_peers") == ["b", "c"])
    body = {"model": "beta", "messages": [{"role": "user", "content": "Count to twenty."}], "max_tokens": 8,
            "temperature": 0}
    # b dies; its record stays for 60 s. b is tried first (equal loads go to the first id), does not
    # answer, and the request is routed again, to c.
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait()
    r = requests.post(a.url("/v1/chat/completions"), json=body, timeout=60)
    assert r.status_code == 200, r.text
    assert metric(a, "tandem_forwarded_requests_total", peer="b", outcome="unreachable") == 1
    # Later turns of that conversation go straight to c (affinity), ...
    turn2 = {**body, "messages": body["messages"] + [r.json()["choices"][0]["message"],
                                                     {"role": "user", "content": "And back?"}]}
    for _ in range(2):
        r = requests.post(a.url("/v1/chat/completions"), json=turn2, timeout=60)
        assert r.status_code == 200, r.text
    assert metric(a, "tandem_forwarded_requests_total", peer="b", outcome="unreachable") == 1
    # ... and new conversations too: b is skipped while its record does not change (no heartbeat).
    for i in range(2):
        other = {**body, "messages": [{"role": "user", "content": f"Conversation {i}"}]}
        assert requests.post(a.url("/v1/chat/completions"), json=other, timeout=60).status_code == 200
    assert metric(a, "tandem_forwarded_requests_total", peer="b", outcome="unreachable") == 1
    assert metric(a, "tandem_forwarded_requests_total", peer="c", outcome="ok") == 5
    # A stream whose peer dies mid-answer ends with an error event and [DONE] (request migration is not
    # built yet), and the appliance in front of it keeps serving.
    r = requests.post(a.url("/v1/chat/completions"), json={**body, "max_tokens": 400, "stream": True,
                                                           "ignore_eos": True}, stream=True, timeout=120)
    assert r.status_code == 200
    events = []
    for line in r.iter_lines():
        if line.startswith(b"data: "):
            events.append(line[6:])
            if len(events) == 3:
                c.proc.send_signal(signal.SIGKILL)
    assert events[-1] == b"[DONE]"
    err = json.loads(events[-2])
    assert "error" in err and "failed" in err["error"]["message"], events[-2]
    assert metric(a, "tandem_forwarded_requests_total", peer="c", outcome="broken") == 1
    # c's record lingers until its TTL: nobody answers for beta now (c is tried, b still skipped), a 503
    # naming both; then both are skipped until their records change (503 at once).
    for _ in range(2):
        r = requests.post(a.url("/v1/chat/completions"), json=body, timeout=60)
        assert r.status_code == 503, r.text
        assert "peer appliance(s) b, c, which did not answer" in r.json()["error"]["message"]
    assert metric(a, "tandem_forwarded_requests_total", peer="c", outcome="unreachable") == 1
    assert a.proc.poll() is None
