"""What the GPU tests need from the machine, and the skip that names what is missing.

CI has no GPU: there the CUDA code is only compiled, and every GPU test skips with a message saying so. On a GPU
machine the tests find the built tools under $TANDEM_BUILD_DIR (default: build/)."""
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BUILD = Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))


def gpu_present():
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    r = subprocess.run([smi, "-L"], capture_output=True, text=True)
    return r.returncode == 0 and "GPU" in r.stdout


def require_gpu(what):
    """Skips unless an NVIDIA GPU is visible; `what` says what would have run."""
    if not gpu_present():
        pytest.skip(f"no NVIDIA GPU on this machine: {what}")


def require_modules(modules, why):
    for mod in modules:
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"python package {mod} is missing: {why}")


def require_built(tool):
    """Skips unless tests/gpu/<tool> was built (a CUDA build)."""
    path = BUILD / "tests" / "gpu" / tool
    if not path.is_file():
        pytest.skip(f"{path} not built: configure with -DTANDEM_CUDA=ON and build {tool}")
    return path
