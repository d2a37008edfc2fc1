"""The built-in dashboard (/dashboard, /dashboard/data) of `tandem serve`.

- /dashboard/data's figures move with real traffic on the demo model: generation
  tok/s > 0, TTFT and ITL percentiles, workers listed with role, state and KV use;
- the page and its files come from the binary and ask for nothing elsewhere (CSP);
- auth: with [server] api_keys the dashboard wants a key, as a bearer token or as the
  password of HTTP Basic credentials (what a browser sends after asking);
- `[dashboard] enabled = false` makes every /dashboard route 404;
- in headless Chromium (Debian's package, installed by scripts/setup) the page loads,
  runs its script and shows the running server's worker and a non-zero throughput;
  its screenshot is kept at $TANDEM_BUILD_DIR/test-artifacts/dashboard.png.
"""
import base64
import html.parser
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import BUILD_DIR, TandemServer, wait_for

KEY = "sk-dashboard-test"
ARTIFACTS = BUILD_DIR / "test-artifacts"


def generate(server, n=3, max_tokens=24, headers=None):
    model = requests.get(server.url("/v1/models"), headers=headers, timeout=10).json()["data"][0]["id"]
    for i in range(n):
        r = requests.post(server.url("/v1/completions"), headers=headers, timeout=120,
                          json={"model": model, "prompt": f"Count to ten, take {i}:", "max_tokens": max_tokens,
                                "temperature": 0, "ignore_eos": True})
        assert r.status_code == 200, r.text


def data(server, since=0, headers=None):
    r = requests.get(server.url(f"/dashboard/data?since={since}"), headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()


@pytest.fixture(scope="module")
def open_server():
    s = TandemServer()
    yield s
    s.terminate()


def test_figures_move_with_traffic(open_server):
    s = open_server
    before = data(s)
    assert before["version"] == 1
    assert before["planner"] == {"enabled": False, "decisions": []}
    generate(s)
    # The sampler ticks once a second: wait for a sample that saw the tokens.
    assert wait_for(lambda: any(x["generation_tps"] > 0 for x in data(s)["samples"]), timeout=10)
    snap = data(s)
    samples = snap["samples"]
    moving = [x for x in samples if x["generation_tps"] > 0]
    assert moving and all(x["prompt_tps"] >= 0 for x in samples)
    # Each sample's seq is above the one before; times go forward.
    assert [x["seq"] for x in samples] == sorted(x["seq"] for x in samples)
    assert snap["seq"] == samples[-1]["seq"]
    # Percentiles over the window that held the requests: TTFT and ITL exist, p50 <= p95 <= p99.
    with_ttft = [x for x in samples if x["ttft_s"]["p50"] is not None]
    with_itl = [x for x in samples if x["itl_s"]["p50"] is not None]
    assert with_ttft and with_itl
    for x in with_ttft[-1]["ttft_s"], with_itl[-1]["itl_s"]:
        assert 0 < x["p50"] <= x["p95"] <= x["p99"]
    # The prompt lookups gave a hit rate in [0, 1] (the prompts share a prefix).
    rates = [x["hit_rate"] for x in samples if x["hit_rate"] is not None]
    assert rates and all(0 <= r <= 1 for r in rates)
    # Workers with role, state, backend and device KV; /ready names the same workers.
    ready = requests.get(s.url("/ready"), timeout=5).json()["workers"]
    workers = snap["workers"]
    assert [w["name"] for w in workers] == [w["name"] for w in ready]
    for w in workers:
        assert w["role"] == "aggregated" and w["state"] == "ready"
        assert w["backend"] == "cpu" and w["device"] == "cpu"
        device = [t for t in w["kv"] if t["tier"] == "device"]
        assert device and device[0]["capacity"] > 0
    # Only what is new after `since`.
    later = data(s, since=snap["seq"])
    assert all(x["seq"] > snap["seq"] for x in later["samples"])


def test_page_and_files_come_from_the_binary(open_server):
    s = open_server
    page = requests.get(s.url("/dashboard"), timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"

    # Every resource the page names is on this server (a relative or /-rooted URL) and is served.
    class Refs(html.parser.HTMLParser):
        refs = []

        def handle_starttag(self, tag, attrs):
            for k, v in attrs:
                if k in ("src", "href"):
                    self.refs.append(v)

    p = Refs()
    p.feed(page.text)
    assert p.refs, "the page names its script and style"
    for ref in p.refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
        r = requests.get(s.url(ref), timeout=5)
        assert r.status_code == 200, ref
    js = requests.get(s.url("/dashboard/dashboard.js"), timeout=5)
    assert js.headers["Content-Type"].startswith("text/javascript")
    assert "http://" not in js.text.replace("http://www.w3.org/2000/svg", "") and "https://" not in js.text
    assert requests.get(s.url("/dashboard/nope.js"), timeout=5).status_code == 404
    assert requests.head(s.url("/dashboard"), timeout=5).status_code == 200
    assert requests.post(s.url("/dashboard/data"), json={}, timeout=5).status_code == 405


def test_dashboard_needs_a_key_when_keys_are_set():
    s = TandemServer(extra_config=f'[server]\napi_keys = ["{KEY}"]\n')
    try:
        for path in ("/dashboard", "/dashboard/data", "/dashboard/dashboard.js"):
            r = requests.get(s.url(path), timeout=5)
            assert r.status_code == 401, path
            assert r.headers["WWW-Authenticate"].startswith("Basic "), "a browser asks for the key"
        bearer = {"Authorization": f"Bearer {KEY}"}
        basic = {"Authorization": "Basic " + base64.b64encode(f"admin:{KEY}".encode()).decode()}
        wrong = {"Authorization": "Basic " + base64.b64encode(b"admin:sk-wrong").decode()}
        assert requests.get(s.url("/dashboard"), headers=bearer, timeout=5).status_code == 200
        assert requests.get(s.url("/dashboard/data"), headers=basic, timeout=5).status_code == 200
        assert requests.get(s.url("/dashboard/data"), headers=wrong, timeout=5).status_code == 401
        # Basic credentials are the dashboard's only: the API still wants a bearer key.
        assert requests.get(s.url("/v1/models"), headers=basic, timeout=5).status_code == 401
        generate(s, n=1, headers=bearer)
        assert wait_for(lambda: any(x["generation_tps"] > 0 for x in data(s, headers=basic)["samples"]), timeout=10)
    finally:
        s.terminate()


def test_disabled_dashboard_is_not_found():
    s = TandemServer(extra_config="[dashboard]\nenabled = false\n")
    try:
        for path in ("/dashboard", "/dashboard/", "/dashboard/data", "/dashboard/dashboard.js"):
            assert requests.get(s.url(path), timeout=5).status_code == 404, path
        assert requests.get(s.url("/health"), timeout=5).status_code == 200
        assert not any("dashboard on http" in line for line in s.log)
    finally:
        s.terminate()


# ---------------------------------------------------------------- headless Chromium

def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium is not installed (scripts/setup installs Debian's chromium package)")


def run_chromium(*args, timeout=90):
    # --no-sandbox: CI and containers run as root, where Chromium's sandbox cannot start.
    # A throwaway profile keeps runs apart; --virtual-time-budget lets the page's timers
    # (the 1 s poll) run before the DOM is dumped or the screenshot taken.
    with tempfile.TemporaryDirectory() as profile:
        argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
                f"--user-data-dir={profile}", "--virtual-time-budget=4000", *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, "HOME": profile})
    return r


class Cells(html.parser.HTMLParser):
    """Text by element id, and the rows of the workers table."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.text = {}
        self.rows = []
        self._stack = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-worker" in a:
            self.rows.append(a["data-worker"])
        if tag not in self.VOID:
            self._stack.append(a.get("id"))

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        for i in self._stack:
            if i:
                self.text[i] = self.text.get(i, "") + data


def test_page_shows_live_figures_in_headless_chromium(open_server):
    s = open_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Keep tokens flowing while the browser loads the page, so the figure it shows now is > 0.
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            generate(s, n=1, max_tokens=48)

    # Two clients, so that no 1 s interval goes without a token while one of them is in its prefill.
    threads = [threading.Thread(target=traffic, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: (data(s)["samples"] or [{"generation_tps": 0}])[-1]["generation_tps"] > 0,
                        timeout=15)
        url = s.url("/dashboard")
        dom = run_chromium("--dump-dom", url)
        assert dom.returncode == 0, dom.stderr[-2000:]
        shot = ARTIFACTS / "dashboard.png"
        if shot.exists():
            shot.unlink()
        png = run_chromium("--window-size=1280,960", f"--screenshot={shot}", url)
        assert png.returncode == 0, png.stderr[-2000:]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    cells = Cells()
    cells.feed(dom.stdout)
    worker_names = [w["name"] for w in data(s)["workers"]]
    assert cells.rows == worker_names, dom.stdout[:3000]
    assert cells.text.get("connection") == "live", cells.text
    assert float(cells.text["tile-generation"].replace(",", "")) > 0, cells.text
    assert cells.text.get("planner-state") == "planner: off"
    assert cells.text.get("model"), "the model's name is shown"
    assert "series" in dom.stdout, "the charts drew lines"
    # The screenshot is a PNG of the requested size.
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(head[16:20], "big") == 1280
