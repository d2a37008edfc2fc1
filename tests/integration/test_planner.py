"""The SLA planner inside `tandem serve` (src/main/planner_tick.h) on the demo model.

- with [planner] enabled on two CPU workers and a profile under which the
  traffic overloads all-aggregated workers (slow prefill, decode steps near the
  ITL target), the planner flips a worker to prefill while requests run: every
  request still succeeds; the change shows in /metrics
  (tandem_planner_decisions_total{action="role_change"}, the predicted load),
  on the dashboard's timeline and in the log;
- [planner] enabled without a profile, or with a profile that cannot be read,
  stops serve at start-up with an error naming [planner] profile.
"""
import json
import subprocess
import tempfile
import threading

import requests

from conftest import REPO, TANDEM, TandemServer, wait_for

# Prefill: 10 tokens/s; decode: 40 ms a step at any batch. TTFT target 1000 s
# (so prefill may queue), ITL target 50 ms: all-aggregated has no ITL budget
# left once prefill takes 20% of the time; 1 prefill + 1 decode meets it.
PROFILE = {"version": 1, "shapes": [{
    "name": "slow-prefill", "max_batch_tokens": 2048, "max_running": 64,
    "prefill": {"tokens": [1, 2048], "seconds": [0.1, 204.8]},
    "decode": {"batch": [1, 64], "context": [1, 10000], "seconds": [[0.04, 0.04], [0.04, 0.04]]}}]}


def write_profile():
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(PROFILE, f)
    f.close()
    return f.name


def planner_config(profile):
    return ("[engine]\nbackend = \"cpu\"\nworkers = 2\n"
            f"[planner]\nenabled = true\nttft_p95_ms = 1000000\nitl_p95_ms = 50\ninterval_s = 1\nprofile = \"{profile}\"\n")


def metric(server, name, labels=""):
    text = requests.get(server.url("/metrics"), timeout=5).text
    for line in text.splitlines():
        if line.startswith(name + labels + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_planner_flips_a_worker_under_load():
    s = TandemServer(extra_config=planner_config(write_profile()))
    try:
        assert requests.get(s.url("/dashboard/data"), timeout=5).json()["planner"]["enabled"] is True
        model = requests.get(s.url("/v1/models"), timeout=10).json()["data"][0]["id"]
        stop = threading.Event()
        failures = []
        done = [0]

        def client(k):
            i = 0
            while not stop.is_set():
                r = requests.post(s.url("/v1/completions"), timeout=120,
                                  json={"model": model, "prompt": f"Client {k} request {i}: count to ten:",
                                        "max_tokens": 8, "temperature": 0, "ignore_eos": True})
                if r.status_code != 200:
                    failures.append(r.text)
                done[0] += 1
                i += 1

        threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        try:
            flipped = wait_for(
                lambda: (metric(s, "tandem_planner_decisions_total", '{action="role_change"}') or 0) >= 1,
                timeout=60, interval=0.5)
            # A few more requests after the flip, served by the new roles.
            after = done[0]
            wait_for(lambda: done[0] >= after + 6, timeout=60, interval=0.2)
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert flipped, "no role change:\n" + "".join(s.log[-30:])
        assert not failures, failures[:3]
        assert done[0] >= 6
        assert metric(s, "tandem_planner_predicted_rps") is not None
        assert (metric(s, "tandem_planner_predicted_prompt_tokens_per_second") or 0) > 0
        decisions = requests.get(s.url("/dashboard/data"), timeout=5).json()["planner"]["decisions"]
        assert decisions, "the dashboard timeline shows the change"
        first = decisions[0]
        assert first["action"] == "role" and first["from"] == "aggregated"
        assert first["to"] in ("prefill", "decode") and first["worker"].startswith("cpu")
        assert "predicted" in first["reason"]
        assert any("[planner] worker=" in line and "role aggregated ->" in line for line in s.log)
    finally:
        s.terminate()


def run_serve(config_text):
    cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    cfg.write(config_text)
    cfg.close()
    model = subprocess.run([str(REPO / "scripts" / "fetch_model")], check=True, capture_output=True,
                           text=True).stdout.strip().splitlines()[-1]
    return subprocess.run([str(TANDEM), "serve", "--config", cfg.name, "--model", str(REPO / model), "--port", "0"],
                          capture_output=True, text=True, timeout=120)


def test_planner_needs_a_readable_profile():
    r = run_serve("[engine]\nbackend = \"cpu\"\n[planner]\nenabled = true\n")
    assert r.returncode == 2, r.stderr
    assert "[planner] profile" in r.stderr
    r = run_serve("[engine]\nbackend = \"cpu\"\n[planner]\nenabled = true\nprofile = \"/nonexistent/p.json\"\n")
    assert r.returncode == 2, r.stderr
    assert "[planner] profile" in r.stderr and "/nonexistent/p.json" in r.stderr
