"""Shared helpers for the packaging tests (sd_notify, systemd unit, .deb/.rpm, Dockerfile)."""

import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]


def build_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("TANDEM_BUILD_DIR", SOURCE_DIR / "build"))


def built_binary(relative: str) -> pathlib.Path:
    """A binary of the regular build (scripts/test builds everything before pytest)."""
    path = build_dir() / relative
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it first "
                    f"(ninja -C {build_dir()} {pathlib.Path(relative).name}) or set TANDEM_BUILD_DIR")
    return path


def tandem_serve_available(tandem: pathlib.Path) -> bool:
    """True once the lead's `tandem serve` exists: its --help exits 0 and documents --model."""
    try:
        r = subprocess.run([str(tandem), "serve", "--help"], capture_output=True, text=True,
                           timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "--model" in (r.stdout + r.stderr)


def ensure_tools(*programs: str) -> None:
    """Installs the Debian packages behind missing programs (the tests' own dependencies)."""
    packages = {"rpm": "rpm", "rpmbuild": "rpm", "rpmlint": "rpmlint", "lintian": "lintian",
                "dpkg-shlibdeps": "dpkg-dev", "systemd-analyze": "systemd", "fakeroot": "fakeroot"}
    missing = [p for p in programs if not _which(p)]
    if not missing:
        return
    debs = sorted({packages[p] for p in missing})
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *debs],
                       capture_output=True, text=True, env=env)
    still = [p for p in programs if not _which(p)]
    if still:
        pytest.fail(f"needed {still} (Debian packages {debs}); apt-get said:\n{r.stdout}\n{r.stderr}")


def _which(program: str) -> bool:
    return any(os.access(os.path.join(d, program), os.X_OK)
               for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep))
