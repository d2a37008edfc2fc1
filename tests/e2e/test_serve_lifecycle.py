"""`tandem serve` start-up errors, `tandem doctor`, and draining on SIGTERM."""
import os
import re
import signal
import subprocess
import threading
import time

import requests

from conftest import MODEL_NAME, REPO, TANDEM, demo_model_path


TUNING_VARIABLES = ("TANDEM_CUDA_PDL", "TANDEM_CUDA_ATTN_PDL", "TANDEM_ATTN_SM90", "TANDEM_ATTN_SM90_TMA",
                    "TANDEM_GEMM_TUNE", "TANDEM_CPU_KERNELS")


def run(*args, timeout=60, tuning_env=None):
    """Runs tandem with the engine-tuning variables of `tuning_env` only (none by default)."""
    env = {k: v for k, v in os.environ.items() if k not in TUNING_VARIABLES}
    env.update(tuning_env or {})
    return subprocess.run([str(TANDEM), *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_bad_config_exits_2_with_one_line(tandem_binary, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nport = 70000\n")
    p = run("serve", "--config", str(cfg))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert f"{cfg}: [server] port: expected an integer in 0..65535, got 70000" in lines[0]
    cfg.write_text("[engine]\nbackend = \"tpu\"\n")
    p = run("serve", "--config", str(cfg))
    assert p.returncode == 2 and "[engine] backend" in p.stderr
    cfg.write_text("[model]\nnmae = \"x\"\n")
    p = run("serve", "--config", str(cfg))
    assert p.returncode == 2 and "[model] nmae: unknown key" in p.stderr
    p = run("serve", "--port", "abc")
    assert p.returncode == 2 and "--port" in p.stderr


def test_no_model_and_unreadable_model(tandem_binary, tmp_path):
    p = run("serve", "--port", "0")
    assert p.returncode == 2 and "[model] path" in p.stderr
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 10)
    p = run("serve", "--port", "0", "--model", str(bad))
    assert p.returncode == 1
    assert "broken.gguf" in p.stderr


def test_version(tandem_binary):
    p = run("version")
    assert p.returncode == 0 and p.stdout.startswith("tandem ")


def test_doctor_reports_problems_and_fixes(tandem_binary, tmp_path):
    p = run("doctor", "--model", str(tmp_path / "missing.gguf"), "--port", "0")
    assert p.returncode == 1
    assert "problem  model" in p.stdout and "fix:" in p.stdout
    p = run("doctor", "--model", demo_model_path(), "--port", "0")
    assert p.returncode == 0, p.stdout
    assert "ok       model" in p.stdout and "llama" in p.stdout and "30 layers" in p.stdout
    assert "ok       port" in p.stdout
    assert ("ok       tuning   engine.cuda: pdl=true attention_pdl=auto prefill_sm90=auto prefill_sm90_tma=auto "
            "gemm_autotune=false") in p.stdout
    assert "ok       tuning   engine.cpu: kernels=auto" in p.stdout
    assert "from the environment" not in p.stdout


def test_doctor_with_the_cpu_backend_warns_about_nothing(tandem_binary):
    """With --backend cpu no GPU is looked for (none on CI machines), and the state directory, which nothing uses
    yet, is no cause for a warning; only the CPU part of the tuning is shown."""
    p = run("doctor", "--backend", "cpu", "--model", demo_model_path(), "--port", "0")
    assert p.returncode == 0, p.stdout
    assert "ok       backend  cpu (GPUs are not used)" in p.stdout
    assert not [line for line in p.stdout.splitlines() if line.startswith(("warn", "problem"))], p.stdout
    assert "driver" not in p.stdout and "engine.cuda" not in p.stdout and "KV tier" not in p.stdout
    assert "ok       tuning   engine.cpu: kernels=auto" in p.stdout


def test_doctor_shows_tuning_from_config_and_environment(tandem_binary, tmp_path):
    cfg = tmp_path / "tuning.toml"
    cfg.write_text("[engine.cuda]\ngemm_autotune = true\n[engine.cpu]\nkernels = \"portable\"\n")
    p = run("doctor", "--config", str(cfg), "--model", demo_model_path(), "--port", "0",
            tuning_env={"TANDEM_CUDA_PDL": "0"})
    assert p.returncode == 0, p.stdout
    assert "engine.cuda: pdl=false attention_pdl=auto" in p.stdout and "gemm_autotune=true" in p.stdout
    assert "ok       tuning   engine.cpu: kernels=portable" in p.stdout
    assert "warn     tuning   from the environment, over the config file: TANDEM_CUDA_PDL=0" in p.stdout


def test_bad_tuning_exits_2_naming_the_key_or_variable(tandem_binary, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[engine.cuda]\nprefill_sm90 = \"on\"\n")
    p = run("serve", "--config", str(cfg))
    assert p.returncode == 2 and "[engine.cuda] prefill_sm90: expected one of" in p.stderr
    p = run("doctor", "--port", "0", tuning_env={"TANDEM_CUDA_PDL": "early"})
    assert p.returncode == 2
    assert "environment variable TANDEM_CUDA_PDL: expected one of 1 0 true false on off, got \"early\"" in p.stderr


def test_sigterm_drains_in_flight_requests(start_tandem):
    s = start_tandem("[server]\ndrain_timeout_s = 60\n")
    result = {}

    def long_request():
        r = requests.post(s.url("/v1/completions"), json={
            "model": MODEL_NAME, "prompt": "Once upon a time", "max_tokens": 60,
            "temperature": 0, "ignore_eos": True}, timeout=120)
        result["status"] = r.status_code
        result["tokens"] = r.json()["usage"]["completion_tokens"]

    t = threading.Thread(target=long_request)
    t.start()
    deadline = time.time() + 30
    while time.time() < deadline:  # wait until it is running
        m = requests.get(s.url("/metrics"), timeout=5).text
        if "tandem_num_requests_running 1" in m:
            break
        time.sleep(0.05)
    s.signal(signal.SIGTERM)
    time.sleep(0.3)
    r = requests.post(s.url("/v1/completions"), json={"model": MODEL_NAME, "prompt": "x", "max_tokens": 1},
                      timeout=10)
    assert r.status_code == 503
    assert "Retry-After" in r.headers
    assert requests.get(s.url("/health"), timeout=5).status_code == 200
    assert requests.get(s.url("/ready"), timeout=5).status_code == 503
    t.join(120)
    assert result == {"status": 200, "tokens": 60}
    assert s.wait(30) == 0
    assert "draining" in s.log()


def test_second_signal_exits_at_once(start_tandem):
    s = start_tandem("[server]\ndrain_timeout_s = 120\n")
    def doomed_request():
        try:
            requests.post(s.url("/v1/completions"), json={
                "model": MODEL_NAME, "prompt": "Once", "max_tokens": 2000, "ignore_eos": True}, timeout=120)
        except requests.ConnectionError:
            pass  # the server exits under it: expected

    t = threading.Thread(target=doomed_request)
    t.start()
    time.sleep(1.0)
    s.signal(signal.SIGTERM)
    time.sleep(0.3)
    started = time.time()
    s.signal(signal.SIGINT)
    assert s.wait(20) == 1
    assert time.time() - started < 10
    t.join(30)


def test_port_in_use_fails_cleanly(demo, start_tandem):
    s = start_tandem("", extra_args=("--port", str(demo.port)), wait_ready=False)
    assert s.wait(120) == 1
    assert "cannot start the HTTP server" in s.log()


def test_operator_log_shows_load_progress_and_periodic_stats(start_tandem):
    """Terminal and container users see the weights load and, while the server is busy, a stats line."""
    s = start_tandem("[log]\nstats_interval_s = 1\n")
    progress = [int(m) for m in re.findall(r"\[main\] loading weights (\d+)%", s.log())]
    assert len(progress) >= 2 and progress == sorted(progress) and progress[-1] >= 90, s.log()
    done = threading.Event()

    def load():
        while not done.is_set():
            requests.post(s.url("/v1/completions"), json={
                "model": MODEL_NAME, "prompt": "Once upon a time", "max_tokens": 16, "temperature": 0}, timeout=60)

    t = threading.Thread(target=load)
    t.start()
    try:
        deadline = time.time() + 20
        while time.time() < deadline and "[stats]" not in s.log():
            time.sleep(0.2)
    finally:
        done.set()
        t.join(60)
    stats = [line for line in s.lines if "[stats]" in line]
    assert stats, s.log()
    assert re.search(r"prompt [\d.]+ tok/s, generation [\d.]+ tok/s, running \d+, waiting \d+, KV cache [\d.]+%, "
                     r"prefix cache hits [\d.]+%", stats[0]), stats[0]
