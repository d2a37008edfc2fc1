"""/metrics as Prometheus itself reads it: `promtool check metrics` (Debian's prometheus package, installed by
scripts/setup) finds no problem in the exposition of a server that has served requests, with the vLLM names on.
The one lint it keeps is on vLLM's own names: Prometheus reserves ':' for recording rules, and vLLM's exporter
(whose dashboards these aliases serve) uses it all the same."""
import re
import shutil
import subprocess

import pytest
import requests


def promtool():
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is missing: scripts/setup installs Debian's prometheus package")
    return exe


def test_promtool_finds_no_problem(server, model_name):
    for stream in (False, True):
        r = requests.post(server.url("/v1/completions"), timeout=60, json={
            "model": model_name, "prompt": "The capital of France is", "max_tokens": 4, "stream": stream})
        assert r.status_code == 200
    requests.get(server.url("/v1/models/no-such-model"), timeout=5)
    text = requests.get(server.url("/metrics"), timeout=5).text
    assert "vllm:" in text and "tandem_http_requests_total" in text
    check = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    lines = (check.stdout + check.stderr).splitlines()
    vllm_colon = re.compile(r"^vllm:\w+ metric names should not contain ':'$")
    problems = [line for line in lines if line.strip() and not vllm_colon.match(line)]
    assert not problems, f"promtool check metrics (exit {check.returncode}):\n" + "\n".join(problems)
    assert check.returncode == 0 or lines, f"promtool failed (exit {check.returncode}) without saying why"


# Every series a panel of vLLM's published Grafana dashboard (examples/online_serving/prometheus_grafana) queries.
VLLM_DASHBOARD = ["vllm:e2e_request_latency_seconds_count", "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
                  "vllm:time_per_output_token_seconds_count", "vllm:num_requests_running",
                  "vllm:num_requests_waiting", "vllm:gpu_cache_usage_perc", "vllm:time_to_first_token_seconds_count",
                  "vllm:request_prompt_tokens_count", "vllm:request_generation_tokens_count",
                  "vllm:request_success_total", "vllm:request_max_num_generation_tokens_count",
                  "vllm:request_prefill_time_seconds_count", "vllm:request_decode_time_seconds_count",
                  "vllm:request_queue_time_seconds_count"]


def test_every_vllm_dashboard_series_has_data(server, model_name):
    if server.kind != "tandem":
        pytest.skip("the KV gauges come from the real workers (tandem serve)")
    r = requests.post(server.url("/v1/completions"), timeout=60, json={
        "model": model_name, "prompt": "The capital of France is", "max_tokens": 3, "temperature": 0})
    assert r.status_code == 200
    text = requests.get(server.url("/metrics"), timeout=5).text
    samples = {}
    for line in text.splitlines():
        if line.startswith("vllm:"):
            name = line.split("{")[0].split(" ")[0]
            samples[name] = samples.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    missing = [n for n in VLLM_DASHBOARD if n not in samples]
    assert not missing, f"no series for {missing}"
    counted = [n for n in VLLM_DASHBOARD if n.endswith(("_count", "_total")) and samples[n] <= 0]
    assert not counted, f"no observation in {counted}"
