"""KV cache tiers (host memory and disk under the device pool) with `tandem serve`, the demo model and the CPU
backend. The device pool is kept tiny (17 blocks of 16 tokens) and the workload's working set is about 4.5x that:
six multi-turn conversations, each over its own document. Greedy outputs with the tiers must equal those of a
server that recomputes every evicted prefix; the tiers must actually serve hits (metrics); the disk tier must
survive a restart and repeated kill -9 without ever serving a bad block."""
import pathlib
import random
import re
import threading
import time

import pytest
import requests

from conftest import MODEL_NAME, Tandem

POOL = "[engine]\ncpu_kv_cache_mib = 12\ncpu_threads = 1\n"  # 17 blocks of 16 tokens
DOCS = [f"Document {i}: " + " ".join(f"item{i}_{j}" for j in range(30)) for i in range(6)]


def kv_config(disk_dir, host_gib=0.02, disk_gib=0.1, admit=1):
    return (POOL + f"[kv]\nhost_cache_gib = {host_gib}\ndisk_cache_gib = {disk_gib}\n"
            f"disk_cache_dir = \"{disk_dir}\"\ndisk_admit_uses = {admit}\n")


def complete(server, prompt):
    r = requests.post(server.url("/v1/completions"), timeout=120,
                      json={"model": MODEL_NAME, "prompt": prompt, "max_tokens": 8, "temperature": 0})
    r.raise_for_status()
    body = r.json()
    details = body["usage"].get("prompt_tokens_details") or {}
    return body["choices"][0]["text"], details.get("cached_tokens", 0)


def turn1(i):
    return f"{DOCS[i]}\nUser: What is the first item?\nAssistant:"


def turn2(i, answer):
    return f"{turn1(i)}{answer}\nUser: And the last one?\nAssistant:"


def run_workload(server):
    """Turn 1 of every conversation, then turn 2 in reverse order (the oldest
    prefixes have left the device pool by then). Returns answers and the cached
    tokens of each turn 2."""
    first = [complete(server, turn1(i))[0] for i in range(len(DOCS))]
    second, cached = {}, {}
    for i in reversed(range(len(DOCS))):
        second[i], cached[i] = complete(server, turn2(i, first[i]))
    return first, [second[i] for i in range(len(DOCS))], [cached[i] for i in range(len(DOCS))]


def metrics(server):
    return requests.get(server.url("/metrics"), timeout=5).text


def series(text, name, **labels):
    total = 0.0
    for m in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


@pytest.fixture(scope="module")
def reference(tandem_binary, tmp_path_factory):
    """The workload on a server without tiers: every evicted prefix is recomputed."""
    server = Tandem(tmp_path_factory.mktemp("ref"), POOL)
    try:
        yield run_workload(server)
    finally:
        server.stop()


def test_tiers_give_the_recomputed_outputs_and_serve_hits(reference, start_tandem, tmp_path):
    server = start_tandem(kv_config(tmp_path / "kv", host_gib=0.02))  # host tier: 29 blocks
    first, second, cached = run_workload(server)
    assert first == reference[0]
    assert second == reference[1]
    # Every turn 2 found its conversation's prefix in some tier...
    assert all(c >= 16 * 8 for c in cached), cached
    # ...while without tiers the evicted ones were recomputed.
    assert sum(reference[2]) < sum(cached)
    text = metrics(server)
    assert series(text, "tandem_kv_onboarded_blocks_total", tier="host") > 0
    assert series(text, "tandem_kv_onboarded_blocks_total", tier="disk") > 0
    assert series(text, "tandem_kv_tier_hit_tokens_total", tier="disk") > 0
    assert series(text, "tandem_kv_offloaded_bytes_total", tier="host") > 0
    assert series(text, "tandem_kv_offloaded_blocks_total", tier="disk") > 0
    assert series(text, "tandem_kv_tier_blocks_used", tier="host") == 29
    assert series(text, "tandem_kv_disk_corrupt_blocks_total") == 0


def test_disk_tier_survives_a_restart_and_drops_a_corrupt_block(reference, start_tandem, tmp_path):
    disk = tmp_path / "kv"
    toml = kv_config(disk, admit=2)  # the default filter: a block goes to disk once two requests used it
    server = start_tandem(toml)
    for _ in range(2):
        assert [complete(server, turn1(i))[0] for i in range(len(DOCS))] == reference[0]
    server.stop()
    assert server.proc.returncode == 0
    files = sorted((disk / "cpu0").glob("*.kv"))
    assert len(files) >= len(DOCS) * 8, "the shutdown flush wrote the used blocks to disk"
    # Damage one block (same size: only its checksum can tell).
    victim = files[len(files) // 2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x5A
    victim.write_bytes(bytes(data))

    server = start_tandem(toml)
    assert re.search(rf"disk tier .*cpu0: {len(files)} blocks kept", server.log()), server.log()
    out = [complete(server, turn1(i)) for i in range(len(DOCS))]
    assert [t for t, _ in out] == reference[0]
    # Every conversation's prefix comes from disk, except where the damaged block sits: a lookup ends at the
    # first block it cannot serve, so the conversation holding it may find nothing cached (if it was its first).
    assert sum(c > 0 for _, c in out) >= len(DOCS) - 1, out
    text = metrics(server)
    assert series(text, "tandem_kv_onboarded_blocks_total", tier="disk") > 0
    assert series(text, "tandem_kv_tier_hit_tokens_total", tier="disk") > 0
    assert series(text, "tandem_kv_disk_corrupt_blocks_total") == 1
    assert not victim.exists()


def test_kill_9_during_offload_leaves_a_store_that_opens_and_serves_only_good_blocks(reference, start_tandem,
                                                                                    tmp_path):
    disk = tmp_path / "kv"
    toml = kv_config(disk, host_gib=0.005, admit=1)  # 7 host blocks: evictions write to disk all the time
    rng = random.Random(22)
    for round_ in range(3):
        server = start_tandem(toml)
        stop = threading.Event()

        def load():
            i = 0
            while not stop.is_set():
                try:
                    complete(server, turn1(i % len(DOCS)) if i % 2 == 0 else turn2(i % len(DOCS), " item"))
                except requests.RequestException:
                    return
                i += 1

        clients = [threading.Thread(target=load) for _ in range(2)]
        for c in clients:
            c.start()
        deadline = time.monotonic() + 20
        while series(metrics(server), "tandem_kv_offloaded_blocks_total", tier="disk") < 4 + 4 * round_:
            assert time.monotonic() < deadline, "no disk writes under load"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.5))
        server.kill()  # SIGKILL while blocks are being written
        stop.set()
        for c in clients:
            c.join(30)
    server = start_tandem(toml)
    m = re.search(r"disk tier .*cpu0: (\d+) blocks kept", server.log())
    assert m and int(m.group(1)) > 0, server.log()
    first, second, _ = run_workload(server)
    assert first == reference[0]
    assert second == reference[1]
    text = metrics(server)
    assert series(text, "tandem_kv_disk_corrupt_blocks_total") == 0
    assert series(text, "tandem_kv_onboarded_blocks_total") > 0
