"""The dependency check: one dpkg-query, install as root, the exact apt line otherwise."""

from __future__ import annotations

import subprocess

import pytest

from racelab_cli import deps


class FakeSystem:
    """Records commands; dpkg-query answers from `installed`, apt-get installs."""

    def __init__(self, installed: set[str], apt_fails: bool = False) -> None:
        self.installed = set(installed)
        self.apt_fails = apt_fails
        self.calls: list[list[str]] = []
        self.envs: list[dict | None] = []

    def run(self, cmd, **kwargs) -> subprocess.CompletedProcess:
        self.calls.append(list(cmd))
        self.envs.append(kwargs.get("env"))
        if cmd[0] == "dpkg-query":
            lines = []
            for package in cmd[3:]:
                status = ("install ok installed" if package in self.installed
                          else "deinstall ok config-files")
                lines.append(f"{package}\t{status}\n")
            return subprocess.CompletedProcess(cmd, 0 if len(lines) else 1, "".join(lines), "")
        if cmd[:2] == ["apt-get", "install"]:
            if self.apt_fails:
                return subprocess.CompletedProcess(cmd, 100, "", "")
            self.installed.update(p for p in cmd if not p.startswith("-"))
        return subprocess.CompletedProcess(cmd, 0, "", "")


def ensure(system: FakeSystem, euid: int, said: list[str], dpkg: bool = True) -> None:
    deps.ensure(run=system.run, euid=lambda: euid,
                which=lambda name: f"/usr/bin/{name}" if dpkg else None, say=said.append)


def test_deps_all_installed_needs_one_dpkg_query_and_nothing_else() -> None:
    system, said = FakeSystem(set(deps.PACKAGES)), []
    ensure(system, euid=1000, said=said)
    assert len(system.calls) == 1
    assert system.calls[0][:3] == ["dpkg-query", "-W", "-f=${Package}\\t${Status}\\n"]
    assert system.calls[0][3:] == list(deps.PACKAGES)
    assert said == []


def test_deps_missing_and_not_root_raises_with_the_exact_apt_line() -> None:
    system, said = FakeSystem(set(deps.PACKAGES) - {"libcli11-dev", "python3-hypothesis"}), []
    with pytest.raises(deps.DepsError) as raised:
        ensure(system, euid=1000, said=said)
    assert str(raised.value).splitlines()[-1] == (
        "sudo apt-get update && sudo apt-get install -y libcli11-dev python3-hypothesis")
    assert [c[0] for c in system.calls] == ["dpkg-query"]


def test_deps_missing_as_root_installs_them_non_interactively() -> None:
    system, said = FakeSystem(set(deps.PACKAGES) - {"cmake"}), []
    ensure(system, euid=0, said=said)
    assert said == ["racelab: installing missing packages: cmake"]
    assert system.calls[1] == ["apt-get", "update"]
    assert system.calls[2] == ["apt-get", "install", "-y", "--no-install-recommends", "cmake"]
    assert system.envs[2]["DEBIAN_FRONTEND"] == "noninteractive"
    assert system.calls[3][0] == "dpkg-query"  # checked again after installing


def test_deps_failed_install_raises() -> None:
    system = FakeSystem(set(deps.PACKAGES) - {"cmake"}, apt_fails=True)
    with pytest.raises(deps.DepsError, match="failed with status 100"):
        ensure(system, euid=0, said=[])


def test_deps_without_dpkg_warns_and_continues() -> None:
    system, said = FakeSystem(set()), []
    ensure(system, euid=1000, said=said, dpkg=False)
    assert system.calls == []
    assert len(said) == 1 and said[0].startswith("racelab: warning: dpkg-query not found")


def test_deps_config_files_only_counts_as_missing() -> None:
    system = FakeSystem({"cmake"})
    assert deps.missing_packages(("cmake", "ninja-build"), run=system.run) == ["ninja-build"]


def test_deps_real_dpkg_answers_for_an_installed_package() -> None:
    missing = deps.missing_packages(("python3-pytest", "racelab-no-such-package"))
    assert missing is None or missing == ["racelab-no-such-package"]


def test_test_packages_add_npm_only_when_the_command_is_missing() -> None:
    base = deps.PACKAGES + deps.TEST_PACKAGES
    assert deps.test_packages(which=lambda cmd: "/usr/bin/" + cmd) == base
    assert deps.test_packages(which=lambda cmd: None) == base + ("npm",)
