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
