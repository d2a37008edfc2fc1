"""Runs Tandem's render_template tool (tests/tools/render_template.cpp) on a
batch of cases in one process and returns its replies."""
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def build_dir():
    return Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))


def tool_path():
    path = build_dir() / "tests" / "tools" / "render_template"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the render_template target (TANDEM_BUILD_DIR={build_dir()})")
    return path


def render_raw(cases):
    """cases: list of dicts {template, context, now?, hf?, repeat?}. Returns the tool's replies."""
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    env = dict(os.environ, TZ="UTC")
    proc = subprocess.run([str(tool_path())], input=lines.encode("utf-8"), capture_output=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    replies = [json.loads(line) for line in proc.stdout.decode("utf-8").split("\n") if line]
    assert len(replies) == len(cases)
    return replies


def render_batch(cases):
    """cases: list of dicts {template, context, now?, hf?}. Returns [(ok, text)]."""
    return [(r["ok"], r["output"] if r["ok"] else r["error"]) for r in render_raw(cases)]
