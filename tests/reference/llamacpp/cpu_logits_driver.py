"""Runs the cpu_logits driver (tests/tools/cpu_logits.cpp) and reads its output."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
BUILD_DIR = Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))


def tool_path() -> Path:
    p = BUILD_DIR / "tests" / "tools" / "cpu_logits"
    if not p.exists():
        pytest.fail(f"{p} is not built (build target cpu_logits, or set TANDEM_BUILD_DIR)")
    return p


class CpuRun:
    """Output of one cpu_logits run: JSON summary and logits rows per prompt."""

    def __init__(self, summary, rows):
        self.summary = summary
        self.rows = rows
        self.vocab = summary["vocab"]

    def prompt_rows(self, i):
        """Rows of prompt i: its prompt positions, then the continuation positions."""
        p = self.summary["prompts"][i]
        end = self.summary["prompts"][i + 1]["row_offset"] if i + 1 < len(self.summary["prompts"]) else len(self.rows)
        return self.rows[p["row_offset"]:end]

    def generated(self, i):
        return self.summary["prompts"][i]["generated"]


def run_cpu_logits(model, prompts, tmp_dir, generate, weights="f16", threads=None):
    prompts_file = Path(tmp_dir) / "prompts.txt"
    prompts_file.write_text("".join(" ".join(map(str, ids)) + "\n" for ids in prompts))
    out = Path(tmp_dir) / f"rows_{weights}.f32"
    args = [str(tool_path()), "--model", str(model), "--prompts", str(prompts_file), "--out", str(out),
            "--generate", str(generate), "--weights", weights]
    if threads:
        args += ["--threads", str(threads)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"cpu_logits failed ({proc.returncode}): {proc.stderr}"
    summary = json.loads(proc.stdout)
    rows = np.fromfile(out, dtype=np.float32).reshape(-1, summary["vocab"])
    return CpuRun(summary, rows)
