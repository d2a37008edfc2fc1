"""Smoke run of bench/serving/serving_bench.py (bench/README.md workload 2's load generator) against the
demo model on the CPU: tiny sizes, but the real driver, its worker processes and its JSON report."""
import json
import subprocess
import sys

from conftest import MODEL_NAME, REPO

DRIVER = REPO / "bench" / "serving" / "serving_bench.py"


def test_serving_bench_smoke(start_tandem, tmp_path):
    server = start_tandem("[engine]\nworkers = 1\ncpu_kv_cache_mib = 64\n")
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, str(DRIVER), "--base-url", server.base, "--concurrency", "1", "2",
                          "--requests", "4", "--input-tokens", "64", "--output-tokens", "8", "--warmup", "1",
                          "--processes", "2", "--json", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    assert report["model"] == MODEL_NAME
    # The prompt was calibrated against the server's tokenizer: ~64 tokens, not a word count.
    assert 48 <= report["mean_prompt_tokens"] <= 80, report["mean_prompt_tokens"]
    assert [lv["concurrency"] for lv in report["levels"]] == [1, 2]
    for lv in report["levels"]:
        assert lv["requests"] == 4 and lv["completed"] == 4 and lv["errors"] == 0, lv
        # min_tokens + ignore_eos: every request produced exactly the requested tokens.
        assert lv["output_tokens"] == lv["expected_output_tokens"] == 4 * 8
        assert 0 < lv["ttft_ms_p50"] <= lv["ttft_ms_p99"] < 60_000
        assert 0 < lv["itl_token_ms_p50"] <= lv["itl_token_ms_p99"]
        assert 0 < lv["itl_chunk_ms_p50"] <= lv["itl_chunk_ms_p99"]
        assert lv["output_tokens_per_s"] > 0 and lv["requests_per_s"] > 0
        assert abs(lv["output_tokens_per_s"] / lv["requests_per_s"] - 8) < 1e-6
        assert lv["processes"] == min(2, lv["concurrency"])
        assert lv["client_cpu_cores"] > 0
    # The table ends with the headline figures.
    lines = run.stdout.strip().splitlines()
    assert lines[-3].startswith("headline:")
    assert lines[-1].lstrip().startswith("concurrency   2:")


def test_serving_bench_open_loop_goodput(start_tandem, tmp_path):
    """--rates: Poisson arrivals, one level per rate; goodput counts the requests within both targets."""
    server = start_tandem("[engine]\nworkers = 1\ncpu_kv_cache_mib = 64\n")
    reports = {}
    for name, slo in (("loose", "600000"), ("tight", "0.001")):
        out = tmp_path / f"{name}.json"
        run = subprocess.run([sys.executable, str(DRIVER), "--base-url", server.base, "--rates", "2", "4",
                              "--requests", "4", "--input-tokens", "32", "--output-tokens", "4", "--warmup", "0",
                              "--processes", "2", "--slo-ttft-ms", slo, "--slo-itl-ms", slo, "--json", str(out)],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        reports[name] = json.loads(out.read_text())
        assert "goodput" in run.stdout.strip().splitlines()[-1]
    for name, report in reports.items():
        assert [lv["rate"] for lv in report["levels"]] == [2.0, 4.0]
        for lv in report["levels"]:
            assert lv["requests"] == 4 and lv["completed"] == 4 and lv["errors"] == 0, lv
            assert lv["output_tokens"] == 4 * 4
    for lv in reports["loose"]["levels"]:  # every request within a 10-minute target
        assert lv["slo_met"] == 4 and abs(lv["goodput_rps"] - lv["requests_per_s"]) < 1e-9
    for lv in reports["tight"]["levels"]:  # none within a microsecond
        assert lv["slo_met"] == 0 and lv["goodput_rps"] == 0
