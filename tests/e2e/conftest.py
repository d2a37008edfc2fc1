"""Fixtures for end-to-end tests of `tandem serve` with the real demo model
(SmolLM2-135M-Instruct, GGUF Q4_1, fetched by scripts/fetch_model) on the CPU
backend. The server is started as a real process on port 0 and reached only
over HTTP (raw requests and the official openai client)."""
import os
import pathlib
import re
import signal
import subprocess
import threading
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))
TANDEM = BUILD_DIR / "src" / "main" / "tandem"
MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1"


def demo_model_path():
    out = subprocess.run([str(REPO / "scripts" / "fetch_model")], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return str(REPO / out) if not os.path.isabs(out) else out


class Tandem:
    """A `tandem serve` process; its log (stderr) is collected in a thread."""

    def __init__(self, tmp_path, toml="", extra_args=(), env=None, wait_ready=True):
        self.config = tmp_path / f"tandem-{time.monotonic_ns()}.toml"
        self.config.write_text(toml)
        self.argv = [str(TANDEM), "serve", "--config", str(self.config), "--model", demo_model_path(),
                     "--host", "127.0.0.1", "--port", "0", *extra_args]
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.lines = []
        self.port = None
        self._port_seen = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait_ready:
            if not self._port_seen.wait(120):
                self.kill()
                raise RuntimeError("tandem serve did not start:\n" + self.log())
            self.base = f"http://127.0.0.1:{self.port}"

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r"\[main\] serving .* on http://[^ ]*:(\d+) ", line)
            if m:
                self.port = int(m.group(1))
                self._port_seen.set()

    def log(self):
        return "".join(self.lines)

    def url(self, path):
        return self.base + path

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def tandem_binary():
    if not TANDEM.exists():
        pytest.fail(f"{TANDEM} is not built (scripts/build tandem; set TANDEM_BUILD_DIR)")
    return TANDEM


@pytest.fixture(scope="module")
def demo(tandem_binary, tmp_path_factory):
    """One `tandem serve` with the demo model for a whole test module."""
    server = Tandem(tmp_path_factory.mktemp("demo"))
    yield server
    server.stop()


@pytest.fixture
def start_tandem(tandem_binary, tmp_path):
    """Starts `tandem serve` with a config; stops every one started after the test."""
    started = []

    def start(toml="", **kw):
        s = Tandem(tmp_path, toml, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
