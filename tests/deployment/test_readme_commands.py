"""Every command in the README's shell blocks runs as written and prints no deprecation or
"superseded" warning: a user following the README meets current Dagster only.

The commands are read from README.md itself, so a command added there without a way to run it
here fails the first test."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.deployment.conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
OUTDATED = re.compile(r"deprecat|supersede", re.IGNORECASE)
# Commands not run by this module, and where they are exercised instead.
RUN_ELSEWHERE = {
    "./dev test": "this very test run",
    "export ": "sets the environment the commands below read",
    "pip install": "the install every CI run starts with",
    "cp deploy/dagster.yaml": "tests/deployment/conftest.py copies it the same way",
    "dagster-webserver": "tests/deployment/conftest.py starts it as documented; test_end_to_end.py reads its log",
    "dagster-daemon": "tests/deployment/conftest.py starts it as documented; test_end_to_end.py reads its log",
}
LONG_RUNNING = ("./dev emulator", "./dev dg dev")  # servers: started, seen working, stopped
IN_ANOTHER_PROJECT = ("dg list components", "dg scaffold defs")


def readme_commands() -> list[str]:
    """The commands of the README's bash blocks: continuation lines joined, comments and `&` cut."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.split(r"\s#\s", " " + line, maxsplit=1)[0].strip().removesuffix("&").strip()
            if command and not command.startswith("#"):
                commands.append(" ".join(command.split()))
    return commands


def _kind(command: str) -> str:
    for prefixes, kind in ((tuple(RUN_ELSEWHERE), "elsewhere"), (LONG_RUNNING, "server"),
                           (IN_ANOTHER_PROJECT, "other_project"), (("./dev ",), "run")):
        if command.startswith(prefixes):
            return kind
    return "unknown"


def test_every_readme_command_is_covered():
    commands = readme_commands()
    assert any(c.startswith("./dev dg launch") for c in commands) and any(c == "./dev dg dev" for c in commands)
    assert not [c for c in commands if _kind(c) == "unknown"], "a README command nobody runs"
    assert not [c for c in commands if re.search(r"\bdagster (dev|asset materialize|definitions validate)\b", c)]


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """The README's environment: an emulator started as the README starts it, a fresh embedded
    instance, the warehouse and reports in a temporary folder."""
    work = tmp_path_factory.mktemp("readme")
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "USERSNAP_API_URL": f"http://127.0.0.1:{port}/v0.1",
           "USERSNAP_JWT_ID": "demo-jwt-id", "USERSNAP_JWT_SECRET": "demo-jwt-secret-for-the-emulator-only",
           "USERSNAP_IMPORT_HISTORY_START": "2026-05-01",
           "USERSNAP_WAREHOUSE_URL": f"sqlite:///{work / 'warehouse.sqlite'}", "USERSNAP_REPORT_DIR": str(work / "reports")}
    env.pop("VIRTUAL_ENV", None)
    emulator = subprocess.Popen(["./dev", "emulator", "--port", str(port)], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/v0.1/", emulator, accept_status=True)
        yield {"env": env, "work": work, "emulator_port": port}
    finally:
        os.killpg(emulator.pid, signal.SIGTERM)
        output = emulator.communicate(timeout=30)[0]
    assert not OUTDATED.search(output), output


def _wait_for(url: str, process: subprocess.Popen, *, timeout: float = 180, accept_status: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            if accept_status:  # the server answers, if only with an error for this path
                return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} never answered")


def _run(command: str, env: dict, cwd: Path = ROOT, timeout: float = 900) -> str:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{command}\n{output[-4000:]}"
    return output


@pytest.mark.parametrize("command", [c for c in readme_commands() if _kind(c) == "run"])
def test_the_command_runs_without_an_outdated_warning(command, environment):
    output = _run(command, environment["env"])
    assert not OUTDATED.search(output), output[-4000:]


@pytest.mark.parametrize("command", [c for c in readme_commands() if _kind(c) == "server"])
def test_the_server_starts_without_an_outdated_warning(command, environment):
    port = free_port()
    env = dict(environment["env"])
    if command.startswith("./dev emulator"):
        command = re.sub(r"--port \d+", f"--port {port}", command)
        url = f"http://127.0.0.1:{port}/v0.1/"
    else:  # dg dev: the webserver, and the daemon that runs the sensor and schedules
        command, url = f"{command} --port {port}", f"http://127.0.0.1:{port}/server_info"
        env.pop("USERSNAP_TEST_CLOCK_OFFSET", None)  # Dagster's servers keep the real clock (tests/clock)
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(url, server, accept_status=True)
        time.sleep(10 if "dg dev" in command else 0)  # the daemon's first sensor and schedule ticks
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            output = server.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            output = server.communicate()[0]
    assert not OUTDATED.search(output), output[-4000:]


def test_the_component_is_added_to_another_dagster_project(environment, tmp_path):
    """`dg list components` and `dg scaffold defs` as the README shows them, in a project that is not
    this one; the scaffolded instance loads (`dg check yaml`, `dg check defs`)."""
    project = tmp_path / "support_analytics"
    (project / "support_analytics" / "defs").mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "support-analytics"
        version = "0.1.0"
        [tool.dg]
        directory_type = "project"
        [tool.dg.project]
        root_module = "support_analytics"
    """))
    (project / "support_analytics" / "__init__.py").write_text("")
    (project / "support_analytics" / "defs" / "__init__.py").write_text("")
    (project / "support_analytics" / "definitions.py").write_text(textwrap.dedent("""
        from pathlib import Path

        import dagster as dg


        @dg.definitions
        def defs():
            return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    """))
    env = {**environment["env"], "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "VIRTUAL_ENV": str(VENV_BIN.parent),
           "PYTHONPATH": str(project)}
    for command in [c for c in readme_commands() if _kind(c) == "other_project"]:
        output = _run(command, env, cwd=project)
        assert not OUTDATED.search(output), output[-4000:]
        if command.startswith("dg list components"):
            assert "usersnap_pipeline.components.UsersnapFeedbackComponent" in output
    scaffolded = next((project / "support_analytics" / "defs").glob("*/defs.yaml")).read_text()
    assert "type: usersnap_pipeline.components.UsersnapFeedbackComponent" in scaffolded
    assert "jwt_secret_env: USERSNAP_JWT_SECRET" in scaffolded and "requirements:" in scaffolded
    for command in ("dg check yaml", "dg check defs"):
        output = _run(command, env, cwd=project)
        assert not OUTDATED.search(output), output[-4000:]
