"""The repository as a newcomer meets it: self-contained, formatted, engine tuning read in one place, no parked
patches. Each check names the files at fault."""

import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CXX_SUFFIXES = (".h", ".cpp", ".cu", ".cuh")
# The one place that reads engine tuning from the environment (docs/style.md; `tandem doctor` shows the result).
TUNING_SOURCE = "src/common/engine_tuning.cpp"
# Environment variables that are not engine tuning and stay where they are read: systemd's (read by name through
# one helper in systemd_notify.cpp) and the CUDA toolkit's.
OTHER_ENV = {"JOURNAL_STREAM", "CUDA_HOME"}
COMPUTED_ENV_READERS = {TUNING_SOURCE, "src/main/systemd_notify.cpp"}


def tracked(*patterns):
    out = subprocess.run(["git", "ls-files", "-z", *patterns], cwd=ROOT, check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


# Paths outside the tree: the shared folder beside a checkout, and the ignored folder of device-call copies.
OUTSIDE = re.compile(r"[.][.]/shared|/work/share[d]|(^|[\s`(=])[.]device/")


def test_no_file_points_outside_the_tree():
    bad = []
    for path in tracked("README.md", "docs", "src", "tests", "bench", "scripts", "etc", "packaging"):
        if path.endswith("bench/NOTES.md"):
            continue
        p = ROOT / path
        if p.suffix in (".npz", ".gguf", ".bin") or not p.is_file():
            continue
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                bad.append(f"{path}:{n}: {line.strip()}")
    assert not bad, "lines point outside the repository:\n" + "\n".join(bad)


def test_no_parked_patches():
    patches = [p for p in tracked("bench") if p.endswith(".patch")]
    assert not patches, f"record dead ends in bench/NOTES.md instead: {patches}"


def test_engine_tuning_is_read_in_one_place():
    bad = []
    for path in tracked("src"):
        if not path.endswith(CXX_SUFFIXES) or path == TUNING_SOURCE:
            continue
        for n, line in enumerate((ROOT / path).read_text().splitlines(), 1):
            for name in re.findall(r'getenv\(\s*"([A-Z0-9_]+)"', line):
                if name not in OTHER_ENV:
                    bad.append(f"{path}:{n}: {name}")
            if "getenv(" in line and 'getenv("' not in line and path not in COMPUTED_ENV_READERS:
                bad.append(f"{path}:{n}: getenv with a computed name")
    assert not bad, f"environment read outside {TUNING_SOURCE}:\n" + "\n".join(bad)


def clang_format():
    exe = shutil.which("clang-format")
    if exe is None:
        pytest.fail("clang-format is missing: scripts/setup installs Debian's clang-format")
    version = subprocess.run([exe, "--version"], check=True, capture_output=True, text=True).stdout
    major = re.search(r"version (\d+)", version)
    if major is None or major.group(1) != "14":
        pytest.skip(f"the tree is formatted with Debian 12's clang-format 14; this is {version.strip()}")
    return exe


def test_sources_are_clang_formatted():
    exe = clang_format()
    files = [p for p in tracked("src", "tests", "bench") if p.endswith(CXX_SUFFIXES)]
    assert files
    run = subprocess.run([exe, "--dry-run", "--Werror", "--style=file", *files], cwd=ROOT, capture_output=True,
                         text=True)
    at_fault = sorted({line.split(":")[0] for line in run.stderr.splitlines() if ": error:" in line})
    assert run.returncode == 0 and not at_fault, ("not formatted (run clang-format -i on them):\n" +
                                                  "\n".join(at_fault or [run.stderr[-2000:]]))
