"""Shared pieces of the CPU runner's reference tests: the demo model, the
llama.cpp fixtures (made by make_fixtures.py) and one run of the cpu_logits
driver over every fixture prompt."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cpu_logits_driver import REPO, run_cpu_logits

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "smollm2_q4_1"


@pytest.fixture(scope="session")
def demo_model() -> Path:
    proc = subprocess.run([str(REPO / "scripts" / "fetch_model")], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.skip(f"demo model unavailable (scripts/fetch_model failed: {proc.stderr.strip()[-300:]})")
    return Path(proc.stdout.strip().splitlines()[-1]).resolve()


@pytest.fixture(scope="session")
def fixture_data():
    meta = json.loads(FIXTURE.with_suffix(".json").read_text())
    arrays = np.load(FIXTURE.with_suffix(".npz"))
    return meta, {k: arrays[k] for k in arrays.files}


@pytest.fixture(scope="session")
def cpu_run(demo_model, fixture_data, tmp_path_factory):
    meta, _ = fixture_data
    return run_cpu_logits(demo_model, [p["ids"] for p in meta["prompts"]], tmp_path_factory.mktemp("cpu_logits"),
                          meta["generate"])
