#!/usr/bin/env python3
"""Forwarding overhead on TTFT: two `tandem serve` processes on loopback share a
discovery directory; appliance A serves "alpha", B serves "beta". The same
streamed chat request for "beta" goes alternately straight to B and through A
(which forwards it), and the time to the first content chunk is compared.

Usage: bench/federation/forwarding_ttft.py [--requests N] [--max-tokens N] [--model PATH]
Prints one table; the last line is the p50 difference (the forwarding overhead).
"""
import argparse
import http.client
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
CONTENT = re.compile(rb'"content":"[^"]')  # a delta with text (the first chunk's role delta has none)
BUILD = pathlib.Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))


def start(model, directory, ident, name):
    cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    cfg.write("[engine]\ncpu_threads = 1\ncpu_kv_cache_mib = 64\n[log]\nlevel = \"warn\"\n"
              f'[discovery]\ndir = "{directory}"\nid = "{ident}"\npeer_key = "bench"\n')
    cfg.close()
    proc = subprocess.Popen([str(BUILD / "src/main/tandem"), "serve", "--config", cfg.name, "--model", model,
                             "--host", "127.0.0.1", "--port", "0", "--log-level", "info",
                             "--served-model-name", name], stderr=subprocess.PIPE, text=True)
    port = []
    seen = threading.Event()

    def read():
        for line in proc.stderr:
            m = re.search(r"\[main\] serving .* on http://[^ ]*:(\d+) ", line)
            if m:
                port.append(int(m.group(1)))
                seen.set()
    threading.Thread(target=read, daemon=True).start()
    if not seen.wait(120):
        proc.kill()
        sys.exit("tandem serve did not start")
    return proc, port[0]


def ttft(conn, body):
    """Seconds from sending the request to the first SSE chunk carrying content."""
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    first = None
    buf = b""
    while True:
        data = resp.read1(65536)
        if not data:
            break
        buf += data
        if first is None and CONTENT.search(buf):
            first = time.perf_counter() - t0
    if resp.status != 200 or first is None:
        sys.exit(f"bad answer {resp.status}: {buf[:300]!r}")
    return first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=1)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    model = args.model or str(REPO / subprocess.run([str(REPO / "scripts/fetch_model")], check=True,
                                                    capture_output=True, text=True).stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as d:
        a, port_a = start(model, d, "a", "alpha")
        b, port_b = start(model, d, "b", "beta")
        try:
            time.sleep(1.0)
            body = json.dumps({"model": "beta", "messages": [{"role": "user", "content": "Say hi."}],
                               "max_tokens": args.max_tokens, "temperature": 0, "stream": True})
            direct = http.client.HTTPConnection("127.0.0.1", port_b)
            via = http.client.HTTPConnection("127.0.0.1", port_a)
            for _ in range(5):  # warm-up (prefix cache, connections)
                ttft(direct, body)
                ttft(via, body)
            times = {"direct": [], "forwarded": []}
            for _ in range(args.requests):
                times["direct"].append(ttft(direct, body))
                times["forwarded"].append(ttft(via, body))
        finally:
            for p in (a, b):
                p.terminate()
                p.wait()
    print(f"{'path':<10} {'n':>5} {'p50 ms':>9} {'p90 ms':>9} {'mean ms':>9}")
    for k, v in times.items():
        v = sorted(v)
        print(f"{k:<10} {len(v):>5} {statistics.median(v) * 1e3:>9.3f} {v[int(0.9 * len(v))] * 1e3:>9.3f} "
              f"{statistics.mean(v) * 1e3:>9.3f}")
    diffs = sorted(f - d for d, f in zip(times["direct"], times["forwarded"]))
    print(f"forwarding overhead on TTFT: p50 {(statistics.median(times['forwarded']) - statistics.median(times['direct'])) * 1e3:.3f} ms"
          f" (median of paired differences {statistics.median(diffs) * 1e3:.3f} ms)")


if __name__ == "__main__":
    main()
