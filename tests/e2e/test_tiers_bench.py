"""Smoke run of bench/tiers/tiers_bench.py on the CPU with the demo model: two servers with a 17-block device pool,
without and with a host tier; checks the report (identical answers, later turns served from the host tier)."""
import json
import subprocess
import sys

from conftest import REPO

DRIVER = REPO / "bench" / "tiers" / "tiers_bench.py"
POOL = "[engine]\ncpu_kv_cache_mib = 12\ncpu_threads = 1\n"


def test_tiers_bench_smoke(start_tandem, tmp_path):
    plain = start_tandem(POOL)
    tiered = start_tandem(POOL + "[kv]\nhost_cache_gib = 0.1\n")
    out = tmp_path / "tiers.json"
    run = subprocess.run([sys.executable, str(DRIVER), "--url", plain.base, "--url", tiered.base,
                          "--label", "no-tiers", "--label", "tiers", "--conversations", "5", "--doc-words", "30",
                          "--turns", "2", "--max-tokens", "3", "--concurrency", "2", "--json", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    assert report["pool_tokens"] == 17 * 16
    assert report["answers_total"] == 10
    assert report["same_answers"] == [10, 10]
    no_tiers, tiers = report["results"]
    assert [r["label"] for r in report["results"]] == ["no-tiers", "tiers"]
    for r in report["results"]:
        assert 0 < r["turn1_p50"] <= r["turn1_p99"] and 0 < r["later_p50"] <= r["later_p99"]
    # 5 conversations of ~10 blocks each do not fit 17 blocks: without tiers the later turns recompute...
    assert no_tiers["hit_tokens"]["host"] == 0 and no_tiers["later_cached_mean"] < 16 * 8
    # ...with a host tier their prefixes are loaded back.
    assert tiers["hit_tokens"]["host"] >= 5 * 16 * 8
    assert tiers["later_cached_mean"] >= 16 * 8
    assert tiers["onboard"]["host"]["bytes"] > 0 and tiers["onboard"]["host"]["gb_per_s"] > 0
    lines = run.stdout.strip().splitlines()
    assert lines[-2].startswith("same answers as no-tiers: ") and lines[-1].startswith("later-turn TTFT p50 no-tiers")
