"""pytest entry of the GPU sampling check (cuda_sampling_check.cpp): CudaSampler against engine::sample on random
logits and parameter mixes, an empirical distribution check and batch independence.

Skips when this machine has no NVIDIA GPU or no CUDA build of the driver: CI has no GPU, and there the CUDA code is
only compiled. On a GPU machine: TANDEM_BUILD_DIR=build-cuda pytest tests/gpu/test_cuda_sampling.py"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BUILD = Path(os.environ.get("TANDEM_BUILD_DIR", HERE.parents[1] / "build"))
DRIVER = BUILD / "tests" / "gpu" / "cuda_sampling_check"


def _gpu_present():
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    r = subprocess.run([smi, "-L"], capture_output=True, text=True)
    return r.returncode == 0 and "GPU" in r.stdout


def test_cuda_sampler_matches_host_sampler():
    if not _gpu_present():
        pytest.skip("no NVIDIA GPU on this machine: the CUDA sampler is only compiled here (run on a GPU machine)")
    if not DRIVER.is_file():
        pytest.skip(f"{DRIVER} not built: configure with -DTANDEM_CUDA=ON and build cuda_sampling_check")
    r = subprocess.run([str(DRIVER), "check"], capture_output=True, text=True, timeout=900)
    print(r.stdout[-6000:])
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "ALL PASS" in r.stdout
    assert "FAIL:" not in r.stdout
