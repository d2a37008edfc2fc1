"""pytest entry of the GPU correctness check (run_gpu_checks.py) on the small shapes.

Skips when this machine has no NVIDIA GPU, torch/transformers, or no CUDA build of the driver: CI has no GPU,
and there the CUDA code is only compiled. On a GPU machine: TANDEM_BUILD_DIR=build-cuda pytest tests/gpu
(TANDEM_GPU_SHAPES overrides the shapes, space-separated)."""
import os
import subprocess
import sys

from gpu_env import HERE, require_built, require_gpu, require_modules


def test_cuda_logits_match_transformers(tmp_path):
    require_gpu("the CUDA runner is only compiled here (run on a GPU machine)")
    require_modules(("torch", "transformers", "safetensors", "numpy"),
                    "the GPU check needs torch + transformers as its oracle")
    driver = require_built("cuda_logits_driver")
    shapes = os.environ.get("TANDEM_GPU_SHAPES", "smollm2-135m qwen3-0.6b").split()
    out = tmp_path / "results.json"
    r = subprocess.run([sys.executable, str(HERE / "run_gpu_checks.py"), "--driver", str(driver), "--shapes", *shapes,
                        "--cpu-shapes", *shapes, "--json", str(out)], capture_output=True, text=True, timeout=3600)
    print(r.stdout[-5000:])
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
    assert "ALL PASS" in r.stdout
