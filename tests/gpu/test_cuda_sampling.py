"""pytest entry of the GPU sampling check (cuda_sampling_check.cpp): CudaSampler against engine::sample on random
logits and parameter mixes (automatic, 1 and 16 CTAs per row), an empirical distribution check and batch
independence; and CudaRunner::step_and_sample against step() + engine::sample on random smollm2/qwen3 checkpoints
(tests/gpu/random_checkpoint.py, needs torch + transformers).

Skips when this machine has no NVIDIA GPU or no CUDA build of the driver: CI has no GPU, and there the CUDA code is
only compiled. On a GPU machine: TANDEM_BUILD_DIR=build-cuda pytest tests/gpu/test_cuda_sampling.py"""
import subprocess
import sys

import pytest

from gpu_env import HERE, require_built, require_gpu


def test_cuda_sampler_matches_host_sampler():
    require_gpu("the CUDA sampler is only compiled here (run on a GPU machine)")
    driver = require_built("cuda_sampling_check")
    r = subprocess.run([str(driver), "check"], capture_output=True, text=True, timeout=900)
    print(r.stdout[-6000:])
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "ALL PASS" in r.stdout
    assert "FAIL:" not in r.stdout


@pytest.mark.parametrize("shape", ["smollm2-135m", "qwen3-0.6b"])
def test_cuda_runner_step_and_sample_matches_host(shape, tmp_path):
    """CudaRunner::step_and_sample (device sampling from the runner's logits, one cluster of CTAs per row at these
    batch sizes) against step() + engine::sample on a random-weight checkpoint of the real architecture."""
    require_gpu("the CUDA sampler is only compiled here (run on a GPU machine)")
    driver = require_built("cuda_sampling_check")
    sys.path.insert(0, str(HERE))
    import run_gpu_checks  # the same random_checkpoint.py lookup as the logits check

    tool = run_gpu_checks.find_tool()
    out = tmp_path / shape
    subprocess.run([sys.executable, tool, "--shape", shape, "--out", str(out)], check=True, timeout=600)
    r = subprocess.run([str(driver), "runner", str(out)], capture_output=True, text=True, timeout=600)
    print(r.stdout[-4000:])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "greedy mismatches 0" in r.stdout and "logprob differences 0" in r.stdout
    assert "ALL PASS" in r.stdout
