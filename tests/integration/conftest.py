"""Fixtures for the HTTP frontend integration tests.

`server` is parametrized by server kind: "testserver"
(tests/tools/tandem_testserver: the real HttpServer over the instant test
backend and the byte tokenizer) and "tandem" (`tandem serve` with the real
demo model on the CPU backend). Tests that rely on the instant backend's exact
output use `instant` (always the test server) instead.

Binaries come from $TANDEM_BUILD_DIR (default: <repo>/build).
"""
import os
import pathlib
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))
TESTSERVER = BUILD_DIR / "tests" / "tools" / "tandem_testserver"

TANDEM = BUILD_DIR / "src" / "main" / "tandem"

SERVER_KINDS = ["testserver", "tandem"]


class Server:
    """A running server process on an ephemeral port."""

    def __init__(self, argv, kind="testserver"):
        self.kind = kind
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (\d+)", line or "")
        if not m:
            self.proc.kill()
            err = self.proc.stderr.read()
            raise RuntimeError(f"server did not start: {line!r} {err}")
        self.port = int(m.group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path):
        return self.base + path

    def metric(self, name):
        """Value of an unlabelled (or first matching) sample in /metrics."""
        text = requests.get(self.url("/metrics"), timeout=5).text
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def terminate(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class TandemServer(Server):
    """`tandem serve` with the demo model; the port comes from its log line."""

    def __init__(self, *flags, extra_config="", wrapper=()):
        if not TANDEM.exists():
            pytest.fail(f"{TANDEM} is not built (scripts/build tandem; set TANDEM_BUILD_DIR)")
        model = subprocess.run([str(REPO / "scripts" / "fetch_model")], check=True, capture_output=True,
                               text=True).stdout.strip().splitlines()[-1]
        self.kind = "tandem"
        # The same settings the test server has where the tests depend on them.
        self.config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        self.config.write("[metrics]\nvllm_names = true\n" + extra_config)
        self.config.close()
        self.argv = [*wrapper, str(TANDEM), "serve", "--config", self.config.name, "--model", str(REPO / model),
                     "--host", "127.0.0.1", "--port", "0", "--log-level", "info", *flags]
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        port_seen = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"\[main\] serving .* on http://[^ ]*:(\d+) ", line)
                if m:
                    self.port = int(m.group(1))
                    port_seen.set()

        threading.Thread(target=read, daemon=True).start()
        if not port_seen.wait(120):
            self.proc.kill()
            raise RuntimeError("tandem serve did not start:\n" + "".join(self.log))
        self.base = f"http://127.0.0.1:{self.port}"


def start_testserver(*flags):
    if not TESTSERVER.exists():
        pytest.fail(f"{TESTSERVER} is not built (ninja tandem_testserver; set TANDEM_BUILD_DIR)")
    return Server([str(TESTSERVER), "--port", "0", "--log-level", "warn", *flags])


@pytest.fixture
def make_server():
    """Starts test servers with extra flags; stops them after the test."""
    started = []

    def make(*flags):
        s = start_testserver(*flags)
        started.append(s)
        return s

    yield make
    for s in started:
        s.terminate()


@pytest.fixture(scope="module")
def make_tandem():
    """Starts `tandem serve` on the demo model with extra flags; stops it after the module."""
    started = []

    def make(*flags):
        s = TandemServer(*flags)
        started.append(s)
        return s

    yield make
    for s in started:
        s.terminate()


@pytest.fixture
def tandem_binary():
    if not TANDEM.exists():
        pytest.fail(f"{TANDEM} is not built (scripts/build tandem; set TANDEM_BUILD_DIR)")
    return TANDEM


@pytest.fixture(scope="module", params=SERVER_KINDS)
def server(request):
    if request.param == "testserver":
        s = start_testserver()
    elif request.param == "tandem":
        s = TandemServer()
    else:
        pytest.fail(f"unknown server kind {request.param}")
    yield s
    s.terminate()


@pytest.fixture(scope="module")
def instant():
    s = start_testserver()
    yield s
    s.terminate()


@pytest.fixture
def model_name(server):
    return requests.get(server.url("/v1/models"), timeout=5).json()["data"][0]["id"]


def raw_request(port, data, timeout=5.0):
    """Sends raw bytes and returns everything read until the peer closes or times out."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except socket.timeout:
            pass
        return b"".join(chunks)


def wait_for(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
