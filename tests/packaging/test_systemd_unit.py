"""packaging/systemd/tandem.service: systemd's own checks (verify, security) on a copy whose
ExecStart points at the built binary, and the settings issue 7 requires."""

import re
import subprocess

import pytest

from packaging_helpers import SOURCE_DIR, built_binary, ensure_tools

UNIT = SOURCE_DIR / "packaging/systemd/tandem.service"


def parse_unit(text: str):
    """{section: {key: [values]}} (systemd allows repeated keys)."""
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


@pytest.fixture(scope="module")
def unit():
    return parse_unit(UNIT.read_text())


@pytest.fixture
def unit_copy(tmp_path):
    """The unit with ExecStart pointing at the built tandem binary."""
    ensure_tools("systemd-analyze")
    tandem = built_binary("src/main/tandem")

    def make(text=None, name="tandem.service"):
        text = UNIT.read_text() if text is None else text
        path = tmp_path / name
        path.write_text(text.replace("/usr/bin/tandem", str(tandem)))
        return path
    return make


def verify(path):
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verify_is_silent(unit_copy):
    r = verify(unit_copy())
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


@pytest.mark.parametrize("mutation,needle", [
    (("\nDevicePolicy=closed\n", "\nDevicePolicyy=closed\n"), "Unknown key"),
    (("\nType=notify\n", "\nType=notifyy\n"), "Failed to parse service type"),
    (("\nLimitNOFILE=65536\n", "\nLimitNOFILE=lots\n"), "Failed to parse resource value"),
])
def test_verify_would_catch_a_broken_unit(unit_copy, mutation, needle):
    """The check above is not a rubber stamp: systemd reports these edits."""
    text = UNIT.read_text()
    assert mutation[0] in text
    r = verify(unit_copy(text.replace(mutation[0], mutation[1], 1), "broken.service"))
    assert needle in r.stderr, r.stderr


def test_verify_catches_a_missing_binary(tmp_path):
    ensure_tools("systemd-analyze")
    path = tmp_path / "tandem.service"
    path.write_text(UNIT.read_text().replace("/usr/bin/tandem", str(tmp_path / "no-such-tandem")))
    r = verify(path)
    assert r.returncode != 0 and "no-such-tandem" in r.stderr


def test_security_exposure_stays_low(unit_copy):
    """systemd-analyze security scores the sandbox (0 = locked down, 10 = exposed)."""
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=40",
                        str(unit_copy())], capture_output=True, text=True, timeout=60)
    overall = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
    assert overall, r.stdout + r.stderr
    assert float(overall.group(1)) <= 4.0, r.stdout[-3000:]
    assert r.returncode == 0


def test_required_service_settings(unit):
    s = unit["Service"]
    one = {k: v[-1] for k, v in s.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert one["ExecStart"] == "/usr/bin/tandem serve --config /etc/tandem/tandem.toml"
    assert "ExecReload" not in s, "tandem cannot reload its config yet"
    assert one["WatchdogSec"] == "30"
    assert int(one["TimeoutStartSec"]) >= 600
    assert one["KillSignal"] == "SIGTERM"
    assert one["Restart"] == "on-failure" and one["RestartSec"] == "5"
    assert one["User"] == "tandem" and one["Group"] == "tandem"
    assert one["StateDirectory"] == "tandem" and one["ReadWritePaths"] == "/var/lib/tandem"
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectKernelLogs", "RestrictSUIDSGID", "LockPersonality"):
        assert one[key] == "yes", key
    assert one["ProtectSystem"] == "strict"
    assert one["LimitMEMLOCK"] == "infinity" and one["LimitNOFILE"] == "65536"
    assert one["DevicePolicy"] == "closed"
    allowed = s["DeviceAllow"]
    assert allowed and all(re.fullmatch(r"(char-nvidia\S*|/dev/nvidia\S*) rw?m?", a) for a in allowed), \
        "only NVIDIA devices may be allowed"
    assert "PrivateDevices" not in s, "PrivateDevices would hide /dev/nvidia*"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    # Restart=on-failure with a start limit: a persistent failure does not loop forever.
    limit = unit["Unit"]
    assert int(limit["StartLimitBurst"][-1]) * (5 + 1) < int(limit["StartLimitIntervalSec"][-1])


def test_stop_timeout_exceeds_the_drain_timeout(unit):
    toml = (SOURCE_DIR / "etc/tandem.toml").read_text()
    drain = int(re.search(r"^drain_timeout_s\s*=\s*(\d+)", toml, re.M).group(1))
    stop = int(unit["Service"]["TimeoutStopSec"][-1])
    assert stop > drain + 10, (stop, drain)


def test_config_error_exit_status_does_not_restart_loop(unit):
    """Exit status 2 (bad config, per etc/tandem.toml's header) is not retried every 5 s."""
    header = (SOURCE_DIR / "etc/tandem.toml").read_text()
    assert "exit\n# status 2" in header or "exit status 2" in header.replace("\n# ", " ")
    assert unit["Service"]["RestartPreventExitStatus"] == ["2"]
