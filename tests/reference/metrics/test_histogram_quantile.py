"""metrics::histogram_quantile (src/common/histogram_quantile.h, behind the dashboard's
TTFT/ITL percentiles) against Prometheus's own histogram_quantile, evaluated by promtool
(Debian's prometheus package, installed by scripts/setup).

Random histograms (seeded; empty buckets, observations in the +Inf bucket, one-bucket
histograms) and quantiles in (0, 1]: for each, our estimate comes from
tests/tools/histogram_quantile_cli, and a promtool rules unit test checks that PromQL's
histogram_quantile over the same cumulative buckets gives the same value (within 1e-9).
A histogram without observations is null for us and NaN for Prometheus.
"""
import os
import pathlib
import random
import shutil
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILD_DIR = pathlib.Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))
CLI = BUILD_DIR / "tests" / "tools" / "histogram_quantile_cli"

# vLLM's TTFT bucket bounds (frontend/request_metrics.cpp) and a few small sets.
TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
        160.0, 640.0, 2560.0]
QUANTILES = [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0]


def ours(q, bounds, counts):
    if not CLI.exists():
        pytest.fail(f"{CLI} is not built (scripts/build histogram_quantile_cli; set TANDEM_BUILD_DIR)")
    out = subprocess.run([str(CLI), repr(q), ",".join(repr(b) for b in bounds), ",".join(map(str, counts))],
                         check=True, capture_output=True, text=True).stdout.strip()
    return None if out == "none" else float(out)


def cases():
    rng = random.Random(26)
    out = [([0.1, 0.2, 0.5, 1.0], [2, 4, 4, 0, 0]),   # the unit test's worked example
           ([0.1, 0.2, 0.5, 1.0], [1, 0, 0, 0, 9]),   # most in +Inf
           ([0.5], [3, 0]),                           # one finite bucket
           ([0.1, 0.2], [0, 0, 5])]                   # only +Inf
    for _ in range(30):
        bounds = sorted(rng.sample(TTFT, rng.randint(2, 12))) if rng.random() < 0.7 else \
            sorted({round(rng.uniform(0.001, 50), 4) for _ in range(rng.randint(2, 8))})
        counts = [rng.choice([0, 0, rng.randint(1, 5), rng.randint(1, 500)]) for _ in range(len(bounds) + 1)]
        if sum(counts) == 0:
            counts[rng.randrange(len(counts))] = 1
        out.append((bounds, counts))
    return out


def test_estimates_match_prometheus():
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool is missing: scripts/setup installs Debian's prometheus package")
    series, tests = [], []
    for i, (bounds, counts) in enumerate(cases()):
        cumulative, total = [], 0
        for c in counts:
            total += c
            cumulative.append(total)
        for le, v in zip([repr(b) for b in bounds] + ["+Inf"], cumulative):
            series.append(f"      - series: 'h_bucket{{case=\"{i}\",le=\"{le}\"}}'\n        values: '{v}'")
        for q in QUANTILES:
            mine = ours(q, bounds, counts)
            assert mine is not None, (bounds, counts, q)
            tests.append(f"      - expr: 'abs(histogram_quantile({q}, h_bucket{{case=\"{i}\"}}) - {mine!r}) < bool 1e-9'\n"
                         f"        eval_time: 0m\n"
                         f"        exp_samples:\n"
                         f"          - labels: '{{case=\"{i}\"}}'\n"
                         f"            value: 1")
    # No observations: nothing from us, NaN from Prometheus (NaN != NaN).
    assert ours(0.5, [0.1, 0.2], [0, 0, 0]) is None
    for le in ("0.1", "0.2", "+Inf"):
        series.append(f"      - series: 'h_bucket{{case=\"empty\",le=\"{le}\"}}'\n        values: '0'")
    tests.append("      - expr: 'histogram_quantile(0.5, h_bucket{case=\"empty\"}) != bool "
                 "histogram_quantile(0.5, h_bucket{case=\"empty\"})'\n"
                 "        eval_time: 0m\n"
                 "        exp_samples:\n"
                 "          - labels: '{case=\"empty\"}'\n"
                 "            value: 1")
    text = ("rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" +
            "\n".join(series) + "\n    promql_expr_test:\n" + "\n".join(tests) + "\n")
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "quantiles_test.yml"
        path.write_text(text)
        r = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, cwd=d)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "SUCCESS" in r.stdout + r.stderr
