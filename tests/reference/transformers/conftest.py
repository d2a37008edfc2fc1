"""Fixtures of the transformers reference tests: the demo model and the
cpu_logits driver come from the llama.cpp reference tests' modules (imported,
not copied); the fixtures are the ones make_fixtures.py here wrote."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
LLAMACPP_DIR = HERE.parent / "llamacpp"
FIXTURE = HERE / "fixtures" / "smollm2_q4_1_hf"

if str(LLAMACPP_DIR) not in sys.path:
    sys.path.insert(0, str(LLAMACPP_DIR))
from cpu_logits_driver import run_cpu_logits  # noqa: E402


def _llamacpp_conftest():
    # Loaded under its own name so it does not clash with pytest's `conftest` modules.
    spec = importlib.util.spec_from_file_location("llamacpp_reference_conftest", LLAMACPP_DIR / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo_model = _llamacpp_conftest().demo_model  # session fixture: runs scripts/fetch_model


@pytest.fixture(scope="session")
def hf_fixture():
    meta = json.loads(FIXTURE.with_suffix(".json").read_text())
    arrays = np.load(FIXTURE.with_suffix(".npz"))
    return meta, {k: arrays[k] for k in arrays.files}


@pytest.fixture(scope="session")
def hf_cpu_run(demo_model, hf_fixture, tmp_path_factory):
    meta, _ = hf_fixture
    return run_cpu_logits(demo_model, [p["ids"] for p in meta["prompts"]], tmp_path_factory.mktemp("cpu_logits_hf"),
                          meta["generate"])
