"""Smoke run of bench/prefix/prefix_bench.py (bench/README.md workload 3) on the CPU with the demo model: tiny sizes,
both routers, per-conversation documents; checks the report the GPU script relies on."""
import json
import subprocess
import sys

from conftest import REPO, TANDEM

DRIVER = REPO / "bench" / "prefix" / "prefix_bench.py"


def test_prefix_bench_smoke(tandem_binary, tmp_path):
    out = tmp_path / "prefix.json"
    run = subprocess.run([sys.executable, str(DRIVER), "--binary", str(TANDEM), "--workers", "2",
                          "--conversations", "2", "--concurrency", "2", "--turns", "2", "--max-tokens", "3",
                          "--ignore-eos", "--system-repeat", "1", "--doc-words", "40", "--log-dir", str(tmp_path),
                          "--json", str(out)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    assert [r["router"] for r in report["results"]] == ["round_robin", "kv"]
    assert report["answers_total"] == 4
    for r in report["results"]:
        assert len(r["answers"]) == 2 and all(len(conv) == 2 for conv in r["answers"])
        assert 0 < r["p50"] <= r["p99"] and 0 < r["later_p50"] <= r["later_p99"]
        assert 0.0 <= r["hit"] <= 1.0 and 0.0 <= r["cached_share"] <= 1.0
        # System prompt + a 40-word document + the question: well over a hundred tokens per turn.
        assert r["mean_prompt_tokens"] > 100
    # Under kv routing a conversation's second turn lands where its first was served: its whole first-turn
    # prompt (system + document) is cached, so some prompt tokens came from cache.
    assert report["results"][1]["cached_share"] > 0.2
    lines = run.stdout.strip().splitlines()
    assert lines[-2].startswith("same answers (round_robin vs kv): ") and lines[-1].startswith("TTFT p50 round_robin / kv:")
