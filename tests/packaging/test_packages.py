"""The .deb and .rpm that scripts/package builds: contents, metadata, maintainer scripts.

scripts/package (Release build of the tandem target, cpack -G DEB/RPM, lintian, rpmlint)
runs once per session. The .deb is then installed, upgraded, removed and purged with the
real dpkg into a throw-away root (dpkg --root, maintainer scripts run chrootless with
DPKG_ROOT, the user created there by the real systemd-sysusers). The .rpm is checked with
rpm's own queries, and its %pre runs against stub tools that record what it would do.
"""

import gzip
import hashlib
import os
import pathlib
import re
import shutil
import stat
import subprocess

import pytest

from packaging_helpers import SOURCE_DIR, ensure_tools

PACKAGE_DIR = pathlib.Path(os.environ.get("TANDEM_PACKAGE_DIR", SOURCE_DIR / "build-package"))
UNIT = "usr/lib/systemd/system/tandem.service"


def project_version() -> str:
    text = (SOURCE_DIR / "CMakeLists.txt").read_text()
    return re.search(r"project\(tandem VERSION ([0-9.]+)", text).group(1)


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(cmd, **kw)


def ok(cmd, **kw) -> str:
    r = run(cmd, **kw)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def built():
    """Runs scripts/package (with lintian and rpmlint); returns (deb, rpm, its output)."""
    ensure_tools("dpkg-shlibdeps", "rpmbuild", "rpm", "lintian", "rpmlint", "fakeroot",
                 "systemd-analyze")
    env = dict(os.environ, TANDEM_PACKAGE_DIR=str(PACKAGE_DIR))
    r = run([str(SOURCE_DIR / "scripts/package")], cwd=SOURCE_DIR, env=env, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"scripts/package failed:\n{out[-6000:]}"
    debs = sorted((PACKAGE_DIR / "packages").glob("*.deb"))
    rpms = sorted((PACKAGE_DIR / "packages").glob("*.rpm"))
    assert len(debs) == 1 and len(rpms) == 1, (debs, rpms)
    return debs[0], rpms[0], out


@pytest.fixture(scope="module")
def deb(built):
    return built[0]


@pytest.fixture(scope="module")
def rpm(built):
    return built[1]


@pytest.fixture(scope="module")
def extracted(deb, tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("deb-x")
    ok(["dpkg-deb", "-x", str(deb), str(root)])
    return root


# ---------------------------------------------------------------------------------- linters

def test_lintian_and_rpmlint_report_nothing(built):
    out = built[2]
    section = out.split("== lintian", 1)[1].split("== rpmlint", 1)
    lintian_out, rpmlint_out = section[0], section[1]
    tags = [l for l in lintian_out.splitlines() if re.match(r"^[EWIPXO]: ", l)]
    assert tags == [], "lintian findings (fix them or override with a reason):\n" + "\n".join(tags)
    assert "0 errors, 0 warnings, 0 badness" in rpmlint_out, rpmlint_out


def test_every_lint_suppression_carries_a_reason():
    lines = (SOURCE_DIR / "packaging/deb/lintian-overrides").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("tandem:"):
            assert i > 0 and lines[i - 1].startswith("#"), f"override without a reason: {line}"
    rpm_cfg = (SOURCE_DIR / "packaging/rpm/rpmlint.toml").read_text().splitlines()
    filters = [i for i, l in enumerate(rpm_cfg) if l.strip().startswith("'")]
    assert filters
    for i in filters:
        j = i - 1
        while rpm_cfg[j].strip().startswith("'"):
            j -= 1
        assert rpm_cfg[j].strip().startswith("#"), f"filter without a reason: {rpm_cfg[i]}"


# ------------------------------------------------------------------------------------- .deb

def control_field(deb, field) -> str:
    return ok(["dpkg-deb", "-f", str(deb), field]).strip()


def parse_deps(text):
    """'a (>= 1), b | c' -> [['a', ...], ['b', 'c']] (names only)."""
    return [[alt.strip().split(" ")[0] for alt in group.split("|")]
            for group in text.split(",") if group.strip()]


def test_deb_control_fields(deb):
    assert control_field(deb, "Package") == "tandem"
    assert control_field(deb, "Version") == project_version() + "-1"
    arch = ok(["dpkg", "--print-architecture"]).strip()
    assert control_field(deb, "Architecture") == arch
    assert deb.name == f"tandem_{project_version()}-1_{arch}.deb"
    assert re.match(r".+ <.+@.+>", control_field(deb, "Maintainer"))
    assert control_field(deb, "Section") and control_field(deb, "Priority") == "optional"
    description = control_field(deb, "Description")
    assert "OpenAI-compatible" in description and "/etc/tandem/tandem.toml" in description
    depends = parse_deps(control_field(deb, "Depends"))
    names = {n for group in depends for n in group}
    assert {"libc6", "libstdc++6", "adduser"} <= names
    recommends = {n for g in parse_deps(control_field(deb, "Recommends")) for n in g}
    assert {"cuda-cudart-13-0", "libcublas-13-0", "libnccl2"} <= recommends
    # CPU-only hosts: nothing CUDA or NVIDIA is a hard dependency.
    assert not any(re.search(r"cuda|cublas|nccl|nvidia", n) for n in names), names


def test_deb_depends_covers_every_library_the_binary_needs(deb, extracted):
    """Each DT_NEEDED of /usr/bin/tandem is shipped by a package named in Depends."""
    depends = {n for g in parse_deps(control_field(deb, "Depends")) for n in g}
    dynamic = ok(["objdump", "-p", str(extracted / "usr/bin/tandem")])
    needed = re.findall(r"^\s*NEEDED\s+(\S+)", dynamic, re.M)
    assert "libstdc++.so.6" in needed and "libc.so.6" in needed
    ldd = ok(["ldd", str(extracted / "usr/bin/tandem")])
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    # The dynamic loader is listed by path alone ("/lib64/ld-linux-x86-64.so.2 (0x...)"); it is
    # NEEDED when the binary links libdl users such as the static CUDA runtime.
    for path in re.findall(r"^\s*(/\S+) \(0x", ldd, re.M):
        resolved.setdefault(os.path.basename(path), path)
    for soname in needed:
        path = os.path.realpath(resolved[soname])
        owner = run(["dpkg-query", "-S", path])
        if owner.returncode != 0:  # merged /usr: the package lists the /lib path
            owner = run(["dpkg-query", "-S", path.replace("/usr/lib/", "/lib/", 1)])
        assert owner.returncode == 0, f"no package owns {path}"
        pkg = owner.stdout.split(":")[0]
        assert pkg in depends, f"{soname} comes from {pkg}, which Depends does not list"


def test_deb_files_modes_and_owners(deb, extracted):
    listing = ok(["dpkg-deb", "-c", str(deb)])
    entries = {}
    for line in listing.splitlines():
        perms, owner, _size, _date, _time, path = line.split(None, 5)
        entries[path.split(" -> ")[0].lstrip(".").rstrip("/") or "/"] = (perms, owner)
    assert all(owner == "root/root" for _, owner in entries.values()), "files must be root-owned"
    expect = {
        "/usr/bin/tandem": "-rwxr-xr-x",
        "/etc/tandem/tandem.toml": "-rw-r--r--",
        "/" + UNIT: "-rw-r--r--",
        "/usr/lib/sysusers.d/tandem.conf": "-rw-r--r--",
        "/usr/share/man/man1/tandem.1.gz": "-rw-r--r--",
        "/usr/share/doc/tandem/copyright": "-rw-r--r--",
        "/usr/share/doc/tandem/changelog.Debian.gz": "-rw-r--r--",
        "/var/lib/tandem": "drwxr-x---",
    }
    for path, perms in expect.items():
        assert path in entries, f"{path} missing from the .deb"
        assert entries[path][0] == perms, (path, entries[path][0])
    # What is shipped is the repository's files, unchanged.
    assert (extracted / "etc/tandem/tandem.toml").read_bytes() == (SOURCE_DIR / "etc/tandem.toml").read_bytes()
    assert (extracted / UNIT).read_bytes() == (SOURCE_DIR / "packaging/systemd/tandem.service").read_bytes()
    assert (extracted / "usr/lib/sysusers.d/tandem.conf").read_bytes() == \
        (SOURCE_DIR / "packaging/systemd/tandem.sysusers").read_bytes()
    man = gzip.decompress((extracted / "usr/share/man/man1/tandem.1.gz").read_bytes())
    assert man == (SOURCE_DIR / "packaging/common/tandem.1").read_bytes()
    # Release build, stripped, and it runs.
    assert "not stripped" not in ok(["file", "-L", str(extracted / "usr/bin/tandem")])
    version = run([str(extracted / "usr/bin/tandem"), "version"])
    assert project_version() in version.stdout + version.stderr


def test_deb_conffiles_and_maintainer_scripts(deb, tmp_path):
    ctl = tmp_path / "control"
    ok(["dpkg-deb", "-e", str(deb), str(ctl)])
    assert (ctl / "conffiles").read_text().split() == ["/etc/tandem/tandem.toml"]
    for script in ("postinst", "prerm", "postrm"):
        path = ctl / script
        assert stat.S_IMODE(path.stat().st_mode) == 0o755, script
        assert path.read_text().startswith("#!/bin/sh\n")
        ok(["sh", "-n", str(path)])
        # Every script must stop on errors and handle dpkg's arguments.
        assert "set -e" in path.read_text()
    postinst = "\n".join(l for l in (ctl / "postinst").read_text().splitlines()
                         if not l.lstrip().startswith("#"))
    # Never started on install (no model configured yet); enablement is tested for real below.
    assert "invoke start" not in postinst and "systemctl enable" not in postinst
    assert "systemctl start" not in postinst


class DpkgRoot:
    """A throw-away dpkg root; maintainer scripts run chrootless with DPKG_ROOT set."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"):
            (path / d).mkdir(parents=True, exist_ok=True)
        (path / "var/lib/dpkg/status").touch()
        (path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (path / "etc/group").write_text("root:x:0:\n")

    def dpkg(self, *args) -> str:
        cmd = ["dpkg", f"--root={self.path}", "--force-script-chrootless", "--force-depends",
               "--force-confdef", "--force-confold", "--log=/dev/null", *args]
        if os.geteuid() != 0:
            cmd = ["fakeroot", *cmd[:1], "--force-not-root", *cmd[1:]]
        return ok(cmd, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))

    def passwd_entry(self, name):
        for line in (self.path / "etc/passwd").read_text().splitlines():
            if line.split(":")[0] == name:
                return line.split(":")
        return None

    def status(self) -> str:
        r = run(["dpkg", f"--root={self.path}", "-s", "tandem"])
        return r.stdout if r.returncode == 0 else ""


def repack(deb: pathlib.Path, tmp: pathlib.Path, version: str, toml_suffix: str) -> pathlib.Path:
    """The same package as a newer version whose default config changed (an upgrade)."""
    tree = tmp / f"tree-{version}"
    ok(["dpkg-deb", "-R", str(deb), str(tree)])
    control = tree / "DEBIAN/control"
    control.write_text(re.sub(r"^Version: .*$", f"Version: {version}", control.read_text(), flags=re.M))
    toml = tree / "etc/tandem/tandem.toml"
    toml.write_text(toml.read_text() + toml_suffix)
    md5 = hashlib.md5(toml.read_bytes()).hexdigest()
    sums = tree / "DEBIAN/md5sums"
    sums.write_text(re.sub(r"^\S+(  etc/tandem/tandem.toml)$", md5 + r"\1", sums.read_text(), flags=re.M))
    out = tmp / f"tandem_{version}.deb"
    ok(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(out)])
    return out


def test_deb_install_upgrade_remove_purge_in_a_throwaway_root(deb, tmp_path):
    if not shutil.which("systemd-sysusers"):
        pytest.fail("systemd-sysusers is needed to create the user inside the test root")
    root = DpkgRoot(tmp_path / "root")
    r = root.path

    # install: user from sysusers.d, state dir owned by it, conffile registered, not enabled.
    root.dpkg("-i", str(deb))
    assert "Status: install ok installed" in root.status()
    user = root.passwd_entry("tandem")
    assert user is not None, "postinst did not create the tandem user"
    assert user[5] == "/var/lib/tandem" and user[6].endswith("nologin")
    assert int(user[2]) < 1000, "tandem must be a system user"
    st = (r / "var/lib/tandem").stat()
    assert (st.st_uid, st.st_gid) == (int(user[2]), int(user[3]))
    assert stat.S_IMODE(st.st_mode) == 0o750
    assert (r / "usr/bin/tandem").is_file()
    conffile_md5 = hashlib.md5((r / "etc/tandem/tandem.toml").read_bytes()).hexdigest()
    assert f"/etc/tandem/tandem.toml {conffile_md5}" in root.status()
    wants = r / "etc/systemd/system/multi-user.target.wants/tandem.service"
    assert not wants.exists() and not wants.is_symlink(), "fresh install must not enable tandem"

    # The admin configures a model and enables the service; tandem writes state.
    toml = r / "etc/tandem/tandem.toml"
    toml.write_text(toml.read_text().replace('path = ""', 'path = "/models/admin.gguf"', 1))
    admin_config = toml.read_bytes()
    assert b"/models/admin.gguf" in admin_config
    wants.parent.mkdir(parents=True, exist_ok=True)
    wants.symlink_to("/" + UNIT)
    (r / "var/lib/tandem/state.sqlite3").write_text("state")

    # upgrade: the admin's config and enablement stay; the new default lands next to it.
    newer = repack(deb, tmp_path, project_version() + "-2", "\n# new default in -2\n")
    root.dpkg("-i", str(newer))
    assert f"Version: {project_version()}-2" in root.status()
    assert toml.read_bytes() == admin_config, "upgrade overwrote the admin's tandem.toml"
    assert (r / "etc/tandem/tandem.toml.dpkg-dist").read_text().endswith("# new default in -2\n")
    assert wants.is_symlink(), "upgrade disabled an enabled service"
    assert (r / "var/lib/tandem/state.sqlite3").exists()
    assert [l for l in (r / "etc/passwd").read_text().splitlines() if l.startswith("tandem:")] == \
        [":".join(user)], "upgrade must reuse the existing user"

    # remove: program gone, configuration and state kept.
    root.dpkg("-r", "tandem")
    assert not (r / "usr/bin/tandem").exists()
    assert toml.read_bytes() == admin_config
    assert (r / "var/lib/tandem/state.sqlite3").exists()
    assert "deinstall ok config-files" in root.status()

    # purge: configuration and state gone; the system user stays (Debian practice).
    root.dpkg("-P", "tandem")
    assert not (r / "etc/tandem").exists()
    assert not (r / "var/lib/tandem").exists()
    assert root.status() == ""
    assert root.passwd_entry("tandem") is not None


def test_packaged_unit_verifies_against_the_packaged_binary(extracted, tmp_path):
    """systemd-analyze verify on the unit from the .deb, its ExecStart pointed at the .deb's
    binary; any warning (unknown key, bad value, missing binary) fails the test."""
    unit = (extracted / UNIT).read_text()
    assert "ExecStart=/usr/bin/tandem serve --config /etc/tandem/tandem.toml\n" in unit
    copy = tmp_path / "tandem.service"
    copy.write_text(unit.replace("/usr/bin/tandem", str(extracted / "usr/bin/tandem")))
    r = run(["systemd-analyze", "verify", "--man=no", str(copy)])
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


# ------------------------------------------------------------------------------------- .rpm

def rpmq(rpm, *args) -> str:
    return ok(["rpm", "-qp", *args, str(rpm)])


def test_rpm_metadata_and_dependencies(rpm):
    assert rpmq(rpm, "--qf", "%{NAME} %{VERSION} %{RELEASE}") == f"tandem {project_version()} 1"
    assert rpmq(rpm, "--qf", "%{PREFIXES}") == "(none)", "the package must not be relocatable"
    requires = rpmq(rpm, "--requires").split("\n")
    for lib in ("libstdc++.so.6()(64bit)", "libc.so.6()(64bit)"):
        assert lib in requires, requires
    assert "systemd" in requires and "shadow-utils" in requires
    assert not any(re.search(r"cuda|cublas|nccl|nvidia", r) for r in requires), requires
    recommends = rpmq(rpm, "--recommends").split()
    assert {"cuda-cudart-13-0", "libcublas-13-0", "libnccl"} <= set(recommends)
    assert "OpenAI-compatible" in rpmq(rpm, "--qf", "%{DESCRIPTION}")


def test_rpm_files_config_and_ownership(rpm):
    rows = rpmq(rpm, "--qf", "[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEUSERNAME}\t"
                             "%{FILEGROUPNAME}\t%{FILEFLAGS:fflags}\n]").strip().split("\n")
    files = {r.split("\t")[0]: r.split("\t")[1:] for r in rows}
    assert files["/usr/bin/tandem"][:3] == ["-rwxr-xr-x", "root", "root"]
    assert files["/" + UNIT][:3] == ["-rw-r--r--", "root", "root"]
    assert "/usr/lib/sysusers.d/tandem.conf" in files
    assert "/usr/share/man/man1/tandem.1.gz" in files
    assert files["/var/lib/tandem"][:3] == ["drwxr-x---", "tandem", "tandem"]
    perms, user, group, flags = files["/etc/tandem/tandem.toml"]
    assert (perms, user, group) == ("-rw-r--r--", "root", "root")
    assert "c" in flags and "n" in flags, f"tandem.toml must be %config(noreplace), flags={flags}"
    assert rpmq(rpm, "--configfiles").split() == ["/etc/tandem/tandem.toml"]
    # Directories owned by the distribution are not claimed by this package.
    for shared in ("/usr", "/usr/bin", "/etc", "/var/lib", "/usr/lib/systemd/system"):
        assert shared not in files, shared
    assert not any("changelog.Debian" in f or "lintian" in f for f in files)


def test_rpm_scripts(rpm):
    scripts = rpmq(rpm, "--scripts")
    parts = dict(re.findall(r"^(\w+) scriptlet \(using /bin/sh\):\n(.*?)(?=^\w+ scriptlet|\Z)",
                            scripts, re.M | re.S))
    assert set(parts) == {"preinstall", "postinstall", "preuninstall", "postuninstall"}, parts.keys()
    for name, body in parts.items():
        r = run(["sh", "-n"], input=body)
        assert r.returncode == 0, (name, r.stderr)
    assert "disable --now tandem.service" in parts["preuninstall"]
    assert '"$1" -eq 0' in parts["preuninstall"]
    assert "try-restart tandem.service" in parts["postuninstall"]
    post_code = "\n".join(l for l in parts["postinstall"].splitlines() if not l.lstrip().startswith("#"))
    for verb in ("enable", "preset", "start"):
        assert verb not in post_code, "a fresh install must not enable or start the service"


@pytest.mark.parametrize("have_sysusers", [True, False])
def test_rpm_pre_creates_the_user_with_either_tool(rpm, tmp_path, have_sysusers):
    """Runs %pre with stub tools on PATH that record their arguments (nothing touches the host)."""
    body = rpmq(rpm, "--qf", "%{PREIN}")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    log = tmp_path / "calls.log"
    tools = ["getent", "groupadd", "useradd"] + (["systemd-sysusers"] if have_sysusers else [])
    for tool in tools:
        s = stubs / tool
        # getent: nobody exists yet; sysusers: record stdin too.
        s.write_text("#!/bin/sh\n"
                     f'echo "{tool} $*" >> "{log}"\n'
                     + (f'/bin/cat >> "{log}"\n' if tool == "systemd-sysusers" else "")
                     + ("exit 2\n" if tool == "getent" else "exit 0\n"))
        s.chmod(0o755)
    # Only the stubs are on PATH, so the host's real tools are never reached.
    env = {"PATH": str(stubs)}
    r = run(["/bin/sh", "-s", "1"], input=body, env=env)
    assert r.returncode == 0, r.stderr
    calls = log.read_text()
    if have_sysusers:
        assert "systemd-sysusers -\nu tandem - \"Tandem LLM server\" /var/lib/tandem" in calls
        # sysusers data in %pre and in /usr/lib/sysusers.d must agree.
        conf = [l for l in (SOURCE_DIR / "packaging/systemd/tandem.sysusers").read_text().splitlines()
                if l and not l.startswith("#")]
        assert conf == ['u tandem - "Tandem LLM server" /var/lib/tandem']
    assert "groupadd -r tandem" in calls
    assert re.search(r"useradd -r -g tandem -d /var/lib/tandem -s \S*nologin .*tandem$", calls, re.M)
