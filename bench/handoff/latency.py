#!/usr/bin/env python3
"""Hand-off latency from a Tandem /metrics text (bench/handoff/README.md).

    python3 bench/handoff/latency.py METRICS_FILE

Prints p50 / p90 / p99 and the count of tandem_kv_handoff_seconds (prefill done -> the decode worker's first
step with the sequence) and tandem_kv_transfer_seconds (export + import), summed over workers. Quantiles are
interpolated linearly inside the histogram bucket that holds them (as Prometheus' histogram_quantile does)."""
import re
import sys


def buckets(text, name):
    acc = {}
    for m in re.finditer(r"^" + name + r'_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)$', text, re.M):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        acc[le] = acc.get(le, 0.0) + float(m.group(2))
    return sorted(acc.items())


def quantile(bs, q):
    total = bs[-1][1] if bs else 0
    if total == 0:
        return float("nan")
    rank = q * total
    lo, below = 0.0, 0.0
    for le, count in bs:
        if count >= rank:
            if le == float("inf"):
                return lo
            return lo + (le - lo) * (rank - below) / max(count - below, 1e-12)
        lo, below = le, count
    return lo


def main():
    text = open(sys.argv[1]).read()
    for name in ("tandem_kv_handoff_seconds", "tandem_kv_transfer_seconds"):
        bs = buckets(text, name)
        n = int(bs[-1][1]) if bs else 0
        qs = " ".join(f"p{int(q * 100)} {quantile(bs, q) * 1e3:.3f} ms" for q in (0.5, 0.9, 0.99))
        print(f"{name}: {n} observations; {qs}")


if __name__ == "__main__":
    main()
