"""pytest entry of the GPU correctness check (run_gpu_checks.py) on the small shapes.

Skips when this machine has no NVIDIA GPU, torch/transformers, or no CUDA build of the driver: CI has no GPU,
and there the CUDA code is only compiled. On a GPU machine: TANDEM_BUILD_DIR=build-cuda pytest tests/gpu
(TANDEM_GPU_SHAPES overrides the shapes, space-separated)."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BUILD = Path(os.environ.get("TANDEM_BUILD_DIR", HERE.parents[1] / "build"))
DRIVER = BUILD / "tests" / "gpu" / "cuda_logits_driver"


def _gpu_present():
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    r = subprocess.run([smi, "-L"], capture_output=True, text=True)
    return r.returncode == 0 and "GPU" in r.stdout


def test_cuda_logits_match_transformers(tmp_path):
    if not _gpu_present():
        pytest.skip("no NVIDIA GPU on this machine: the CUDA runner is only compiled here (run on a GPU machine)")
    for mod in ("torch", "transformers", "safetensors", "numpy"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"python package {mod} is missing: the GPU check needs torch + transformers as its oracle")
    if not DRIVER.is_file():
        pytest.skip(f"{DRIVER} not built: configure with -DTANDEM_CUDA=ON and build cuda_logits_driver")
    shapes = os.environ.get("TANDEM_GPU_SHAPES", "smollm2-135m qwen3-0.6b").split()
    out = tmp_path / "results.json"
    r = subprocess.run([sys.executable, str(HERE / "run_gpu_checks.py"), "--driver", str(DRIVER), "--shapes", *shapes,
                        "--cpu-shapes", *shapes, "--json", str(out)], capture_output=True, text=True, timeout=3600)
    print(r.stdout[-5000:])
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
    assert "ALL PASS" in r.stdout
