"""Reliability regressions (issue #20): descriptor exhaustion, connection
caps, refusing requests from their head, draining streams, 499/abort metrics,
Content-Type and CORS, UTF-8 in error bodies, requests that can never fit,
and request preparation off the I/O threads."""
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import TESTSERVER, TandemServer, wait_for


class LoggedTestServer:
    """tandem_testserver with its log in a file (a flood must not block on a pipe)."""

    def __init__(self, *flags, wrapper=()):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.proc = subprocess.Popen([*wrapper, str(TESTSERVER), "--port", "0", "--log-level", "info", *flags],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (\d+)", line or "")
        if not m:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {open(self.log.name).read()}")
        self.port = int(m.group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path):
        return self.base + path

    def log_lines(self):
        with open(self.log.name, errors="replace") as f:
            return f.read().splitlines()

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.unlink(self.log.name)


@pytest.fixture
def logged():
    started = []

    def make(*flags, wrapper=()):
        s = LoggedTestServer(*flags, wrapper=wrapper)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def sample(base, name, **labels):
    """A sample of `name` whose labels include `labels` (0 when absent)."""
    text = requests.get(base + "/metrics", timeout=5).text
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def post_head(path, length, content_type="application/json", extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def post_json(path, body, extra=""):
    data = json.dumps(body).encode()
    return post_head(path, len(data), extra=extra) + data


def read_until_closed(sock, timeout):
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return got, True
            got += chunk
    except socket.timeout:
        return got, False


# ------------------------------------------------------------------ item 1


def test_descriptor_exhaustion_does_not_spin(logged):
    # A hard limit of 128 descriptors and 300 idle clients: the server must
    # not retry accept() in a loop (a core and MB/s of log before the fix).
    s = logged("--header-timeout", "30", "--idle-timeout", "30", wrapper=("prlimit", "--nofile=128:128"))
    socks = []
    try:
        for _ in range(300):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", s.port))
            socks.append(c)
        time.sleep(0.5)
        cpu0, lines0 = s.cpu_seconds(), len(s.log_lines())
        time.sleep(3)
        cpu = s.cpu_seconds() - cpu0
        lines = len(s.log_lines()) - lines0
        assert cpu < 0.5, f"server used {cpu:.2f} s of CPU in 3 s while out of descriptors"
        assert lines < 20, f"{lines} log lines in 3 s"
    finally:
        for c in socks:
            c.close()
    assert wait_for(lambda: healthy(s), timeout=10)


def healthy(s):
    """/health answers 200 (a connection refused while the server still counts closed ones is no)."""
    try:
        return requests.get(s.url("/health"), timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_soft_descriptor_limit_raised_to_hard(logged):
    s = logged(wrapper=("prlimit", "--nofile=256:4096"))
    with open(f"/proc/{s.proc.pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    assert line.split()[3:5] == ["4096", "4096"], line


def test_connection_caps(logged):
    s = logged("--max-connections", "4", "--max-connections-per-client", "2", "--header-timeout", "30")
    first = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(2)]
    time.sleep(0.2)
    third = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    assert read_until_closed(third, 2) == (b"", True), "the per-client cap did not close the third connection"
    third.close()
    for c in first:
        c.close()
    assert wait_for(lambda: healthy(s), timeout=5)
    assert sum("per-client connection limit" in l for l in s.log_lines()) == 1


# ------------------------------------------------------------------ item 2


@pytest.mark.parametrize("head,status", [
    (post_head("/v1/completions", 5_000_000), 401),
    (post_head("/v1/nothing-here", 5_000_000, extra="Authorization: Bearer k\r\n"), 404),
    (b"PUT /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Length: 5000000\r\n\r\n", 405),
    (post_head("/v1/completions", 5_000_000, "text/plain", "Authorization: Bearer k\r\n"), 415),
    (post_head("/v1/completions", 50_000_000, extra="Authorization: Bearer k\r\n"), 413),
])
def test_refused_from_the_head_without_reading_the_body(logged, head, status):
    s = logged("--api-key", "k", "--max-body", "10000000", "--header-timeout", "30", "--idle-timeout", "30")
    with socket.create_connection(("127.0.0.1", s.port)) as sock:
        start = time.monotonic()
        sock.sendall(head)
        got, closed = read_until_closed(sock, 3)
        assert got.startswith(f"HTTP/1.1 {status} ".encode()), got[:200]
        assert closed and time.monotonic() - start < 2, "the connection stayed open waiting for the body"
        assert b"Connection: close" in got


# ------------------------------------------------------------------ item 3


def test_drain_timeout_ends_requests_with_a_final_event(logged):
    s = logged("--token-delay-us", "20000", "--drain-wait", "1")
    stream = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    plain = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    stream.sendall(post_json("/v1/completions", {"prompt": "abc", "max_tokens": 3000, "stream": True}))
    plain.sendall(post_json("/v1/chat/completions",
                            {"messages": [{"role": "user", "content": "x"}], "max_tokens": 3000}))
    got = b""
    while got.count(b"data: ") < 3:
        got += stream.recv(65536)
    s.proc.send_signal(signal.SIGTERM)
    rest, closed = read_until_closed(stream, 10)
    got += rest
    body, plain_closed = read_until_closed(plain, 10)
    assert closed and plain_closed
    assert got.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"), got[-200:]
    assert b'"finish_reason":"abort"' in got
    assert body.startswith(b"HTTP/1.1 200 "), body[:200]
    payload = json.loads(body.split(b"\r\n\r\n", 1)[1])
    assert payload["choices"][0]["finish_reason"] == "abort"
    assert s.proc.wait(timeout=10) == 0


# ------------------------------------------------------------------ item 4


def test_dropped_clients_count_as_499_and_abort(logged):
    s = logged("--token-delay-us", "20000")
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(post_json("/v1/completions", {"prompt": "abc", "max_tokens": 1000, "stream": True}))
        got = b""
        while got.count(b"data: ") < 3:
            got += sock.recv(4096)
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(post_json("/v1/completions", {"prompt": "abc", "max_tokens": 1000}))
        time.sleep(0.2)
    assert wait_for(lambda: sample(s.base, "tandem_http_requests_total", route="/v1/completions", status="499") == 2)
    assert sample(s.base, "tandem_request_success_total", finished_reason="abort") == 2
    assert sample(s.base, "vllm:request_success_total", finished_reason="abort") == 2
    assert wait_for(lambda: sample(s.base, "tandem_num_requests_running") == 0)


# ------------------------------------------------------------------ item 5


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_generation_needs_a_json_content_type(logged, content_type):
    s = logged()
    data = json.dumps({"prompt": "ab", "max_tokens": 2})
    headers = {} if content_type is None else {"Content-Type": content_type}
    session = requests.Session()
    req = requests.Request("POST", s.url("/v1/completions"), data=data, headers=headers).prepare()
    if content_type is None:
        req.headers.pop("Content-Type", None)
    r = session.send(req, timeout=5)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["code"] == "unsupported_media_type"
    ok = requests.post(s.url("/v1/completions"), data=data, timeout=5,
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_cors_is_off_by_default(logged):
    s = logged()
    r = requests.options(s.url("/v1/chat/completions"), timeout=5,
                         headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                                  "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 405
    assert not any(k.lower().startswith("access-control-") for k in r.headers)
    r = requests.get(s.url("/v1/models"), headers={"Origin": "https://evil.example"}, timeout=5)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_allows_configured_origins(logged):
    s = logged("--cors-origin", "https://app.example")
    r = requests.options(s.url("/v1/chat/completions"), timeout=5,
                         headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Access-Control-Allow-Methods"] == "POST"
    assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]
    r = requests.post(s.url("/v1/completions"), json={"prompt": "ab", "max_tokens": 2}, timeout=5,
                      headers={"Origin": "https://app.example"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    r = requests.post(s.url("/v1/completions"), json={"prompt": "ab", "max_tokens": 2}, timeout=5,
                      headers={"Origin": "https://other.example"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


# ------------------------------------------------------------------ item 6


@pytest.mark.parametrize("target", [b"/v1/models/%FF%FE", b"/%C3%28/x", b"/v1/models/%ED%A0%80",
                                    b"/v1/models/\xff\xfe"])
def test_error_bodies_are_valid_utf8_json(logged, target):
    s = logged()
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got, _ = read_until_closed(sock, 5)
    head, body = got.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 4"), head
    json.loads(body.decode("utf-8"))  # strict: raises on invalid UTF-8


# ------------------------------------------------------------------ item 7


def test_request_that_can_never_fit_is_400_not_429(logged):
    s = logged("--queue-limit", "4")
    r = requests.post(s.url("/v1/completions"), json={"prompt": "ab", "max_tokens": 2, "n": 8}, timeout=5)
    assert r.status_code == 400, r.text
    assert "Retry-After" not in r.headers
    err = r.json()["error"]
    assert err["param"] == "n" and "4" in err["message"]
    r = requests.post(s.url("/v1/completions"), json={"prompt": ["ab", "cd", "ef"], "max_tokens": 2, "n": 2},
                      timeout=5)
    assert r.status_code == 400, r.text
    r = requests.post(s.url("/v1/completions"), json={"prompt": "ab", "max_tokens": 2, "n": 4}, timeout=5)
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ item 8


def test_health_does_not_wait_behind_tokenization():
    # One I/O thread; two 60 MB prompts (over a second of parsing and
    # tokenization each on a 2-core VM) must not delay /health. One
    # prepare thread leaves a core to the I/O thread. The answers are short
    # (400: too long for the context) so that this process stays free to poll.
    s = TandemServer(extra_config="[server]\nthreads = 1\nprepare_threads = 1\nmax_body_bytes = 80000000\n")
    try:
        prompt = "The quick brown fox jumps over the lazy dog. " * 1320000
        body = json.dumps({"prompt": prompt, "max_tokens": 1}).encode()
        done = threading.Event()
        worst = [0.0]

        def poll():
            while not done.is_set():
                t0 = time.monotonic()
                assert requests.get(s.url("/health"), timeout=30).status_code == 200
                worst[0] = max(worst[0], time.monotonic() - t0)
                time.sleep(0.01)

        def generate(_):
            r = requests.post(s.url("/v1/completions"), data=body, timeout=120,
                              headers={"Content-Type": "application/json"})
            return r.status_code, r.json()["error"]["code"]

        poller = threading.Thread(target=poll)
        poller.start()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(generate, range(2)))
        done.set()
        poller.join()
        assert results == [(400, "context_length_exceeded")] * 2
        assert worst[0] < 0.5, f"/health took {worst[0]:.2f} s while prompts were prepared"
    finally:
        s.terminate()
