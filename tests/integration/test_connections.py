"""Connection handling: keep-alive, pipelining, 100-continue, disconnects,
slow clients, slowloris, concurrency and draining."""
import concurrent.futures
import json
import socket
import threading
import time

import openai
import requests

from conftest import raw_request, wait_for


def read_http_responses(sock, count, timeout=5.0):
    """Reads `count` Content-Length responses from a socket; returns (status, headers, body) tuples."""
    sock.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(out)} responses"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
        length = int(headers["content-length"])
        while len(buf) < length:
            chunk = sock.recv(65536)
            assert chunk
            buf += chunk
        out.append((status, headers, buf[:length]))
        buf = buf[length:]
    return out


def post_bytes(path, body):
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def test_keep_alive_and_pipelining(instant):
    with socket.create_connection(("127.0.0.1", instant.port)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                  + post_bytes("/v1/completions", {"prompt": "Hey", "max_tokens": 4})
                  + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
                  + post_bytes("/v1/completions", {"prompt": "ab", "max_tokens": 3}))
        responses = read_http_responses(s, 4)
    assert [r[0] for r in responses] == [200, 200, 200, 200]
    assert json.loads(responses[1][2])["choices"][0]["text"] == "HeyH"
    assert json.loads(responses[2][2])["object"] == "list"
    assert json.loads(responses[3][2])["choices"][0]["text"] == "aba"


def test_connection_close_is_honoured(instant):
    resp = raw_request(instant.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 200") and b"Connection: close" in resp


def test_expect_100_continue(instant):
    data = json.dumps({"prompt": "ab", "max_tokens": 2}).encode()
    with socket.create_connection(("127.0.0.1", instant.port), timeout=5) as s:
        s.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                   f"Content-Type: application/json\r\n"
                   f"Content-Length: {len(data)}\r\n\r\n").encode())
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(data)
        (status, _, body), = read_http_responses(s, 1)
    assert status == 200 and json.loads(body)["choices"][0]["text"] == "ab"


def test_disconnect_mid_stream_cancels(make_server):
    s = make_server("--token-delay-us", "20000")
    before = s.metric("tandem_test_backend_cancel_calls_total") or 0
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(post_bytes("/v1/completions", {"prompt": "abc", "max_tokens": 1000, "stream": True}))
        got = b""
        while got.count(b"data: ") < 3:
            got += sock.recv(4096)
    assert wait_for(lambda: (s.metric("tandem_test_backend_cancel_calls_total") or 0) > before)
    assert wait_for(lambda: (s.metric("tandem_test_backend_cancelled_total") or 0) >= 1)
    assert wait_for(lambda: s.metric("tandem_num_requests_running") == 0)


def test_disconnect_while_waiting_non_streaming_cancels(make_server):
    s = make_server("--token-delay-us", "20000")
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(post_bytes("/v1/chat/completions",
                                {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1000}))
        time.sleep(0.2)
    assert wait_for(lambda: (s.metric("tandem_test_backend_cancelled_total") or 0) >= 1)


def test_client_that_does_not_read_is_dropped(make_server):
    s = make_server("--max-stream-buffer", "65536", "--max-context", "10000000")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", s.port))
    sock.sendall(post_bytes("/v1/completions", {"prompt": "a", "max_tokens": 5000000, "stream": True}))
    # The stream (~1 GB) outgrows every buffer; the client reads nothing.
    # Meanwhile others are served.
    assert requests.get(s.url("/health"), timeout=5).status_code == 200
    assert wait_for(lambda: (s.metric("tandem_test_backend_cancelled_total") or 0) >= 1, timeout=10)
    sock.close()


def test_slowloris_header_timeout(make_server):
    s = make_server("--header-timeout", "1")
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\n")
        closed = False
        for _ in range(40):
            try:
                sock.sendall(b"X-A: b\r\n")
                sock.settimeout(0.1)
                if sock.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
        elapsed = time.monotonic() - start
    assert closed, "connection was not closed"
    assert 0.8 <= elapsed <= 3.5, elapsed


def test_idle_timeout(make_server):
    s = make_server("--idle-timeout", "1")
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        read_http_responses(sock, 1)
        start = time.monotonic()
        assert sock.recv(100) == b""
        assert 0.8 <= time.monotonic() - start <= 3.5


def test_silent_connection_gets_header_timeout(make_server):
    # Before its first request a connection is held for header_timeout, not idle_timeout.
    s = make_server("--header-timeout", "1", "--idle-timeout", "30")
    with socket.create_connection(("127.0.0.1", s.port), timeout=6) as sock:
        start = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - start <= 3.5


def test_32_concurrent_streaming_clients(make_server):
    s = make_server("--token-delay-us", "1000", "--threads", "2")
    client = openai.OpenAI(base_url=s.url("/v1"), api_key="x", max_retries=0)

    def one(i):
        prompt = f"client-{i:02d}."
        stream = client.completions.create(model="tandem-test", prompt=prompt, max_tokens=40, stream=True)
        text = "".join(c.choices[0].text for c in stream if c.choices)
        return prompt, text

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(one, range(40)))
    for prompt, text in results:
        assert text == (prompt * 10)[:40], (prompt, text)


def test_drain_finishes_in_flight_and_refuses_new(make_server):
    s = make_server("--token-delay-us", "10000")
    result = {}

    def stream():
        r = requests.post(s.url("/v1/completions"), json={"prompt": "abc", "max_tokens": 60, "stream": True},
                          stream=True, timeout=20)
        result["payloads"] = [line for line in r.iter_lines() if line.startswith(b"data: ")]

    t = threading.Thread(target=stream)
    t.start()
    assert wait_for(lambda: s.metric("tandem_num_requests_running") == 1)
    s.proc.send_signal(15)  # SIGTERM: begin_drain
    assert wait_for(lambda: requests.get(s.url("/ready"), timeout=5).status_code == 503)
    r = requests.post(s.url("/v1/completions"), json={"prompt": "a", "max_tokens": 1}, timeout=5)
    assert r.status_code == 503 and "Retry-After" in r.headers
    assert requests.get(s.url("/health"), timeout=5).status_code == 200
    t.join(timeout=20)
    payloads = result["payloads"]
    assert payloads[-1] == b"data: [DONE]"
    text = "".join(json.loads(p[6:])["choices"][0]["text"] for p in payloads[:-1] if json.loads(p[6:])["choices"])
    assert text == ("abc" * 20)[:60]
    assert s.proc.wait(timeout=10) == 0
