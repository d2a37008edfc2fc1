"""pytest entry of the GPU sampling check (cuda_sampling_check.cpp): CudaSampler against engine::sample on random
logits and parameter mixes (automatic, 1 and 16 CTAs per row), an empirical distribution check and batch
independence; and CudaRunner::step_and_sample against step() + engine::sample on random smollm2/qwen3 checkpoints
(random_checkpoint.py from $TANDEM_RANDOM_CHECKPOINT or ../shared/tools, needs torch + transformers).

Skips when this machine has no NVIDIA GPU or no CUDA build of the driver: CI has no GPU, and there the CUDA code is
only compiled. On a GPU machine: TANDEM_BUILD_DIR=build-cuda pytest tests/gpu/test_cuda_sampling.py"""
import os
import shutil
import subprocess
import sys
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


def _random_checkpoint_tool():
    for c in [os.environ.get("TANDEM_RANDOM_CHECKPOINT"), HERE.parents[1] / ".device" / "random_checkpoint.py",
              HERE.parents[2] / "shared" / "tools" / "random_checkpoint.py", Path("/work/shared/tools/random_checkpoint.py")]:
        if c and Path(c).is_file():
            return str(c)
    return None


@pytest.mark.parametrize("shape", ["smollm2-135m", "qwen3-0.6b"])
def test_cuda_runner_step_and_sample_matches_host(shape, tmp_path):
    """CudaRunner::step_and_sample (device sampling from the runner's logits, one cluster of CTAs per row at these
    batch sizes) against step() + engine::sample on a random-weight checkpoint of the real architecture."""
    if not _gpu_present():
        pytest.skip("no NVIDIA GPU on this machine: the CUDA sampler is only compiled here (run on a GPU machine)")
    if not DRIVER.is_file():
        pytest.skip(f"{DRIVER} not built: configure with -DTANDEM_CUDA=ON and build cuda_sampling_check")
    tool = _random_checkpoint_tool()
    assert tool is not None, "random_checkpoint.py not found: set TANDEM_RANDOM_CHECKPOINT"
    out = tmp_path / shape
    subprocess.run([sys.executable, tool, "--shape", shape, "--out", str(out)], check=True, timeout=600)
    r = subprocess.run([str(DRIVER), "runner", str(out)], capture_output=True, text=True, timeout=600)
    print(r.stdout[-4000:])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "greedy mismatches 0" in r.stdout and "logprob differences 0" in r.stdout
    assert "ALL PASS" in r.stdout
