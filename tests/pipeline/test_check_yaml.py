"""`dg check yaml`, the real command in a project of its own, rejects every bad literal attribute with its
file and line, before anything loads, and accepts templates (they are checked once rendered, at load)."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"

# attribute -> a bad literal value, one per line of defs.yaml
BAD = {
    "import_history_start": '"May 1st"',
    "projects": '"not a project id!"',
    "api_url": "http://usersnap.example.com/v0.1",
    "fetch_concurrency": "0",
    "sensor_interval_seconds": "-5",
    "sensor": "paused",
    "reconciliation_cron": "daily",
    "themes": "maybe",
    "translation": "{key_prefix: EU accounts}",
}


def _project(root: Path, attributes: dict[str, str]) -> Path:
    (root / "support" / "defs" / "usersnap").mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "support"
        version = "0.1.0"
        [tool.dg]
        directory_type = "project"
        [tool.dg.project]
        root_module = "support"
    """))
    (root / "support" / "__init__.py").write_text("")
    (root / "support" / "defs" / "__init__.py").write_text("")
    lines = "".join(f"  {name}: {value}\n" for name, value in attributes.items())
    defs_yaml = root / "support" / "defs" / "usersnap" / "defs.yaml"
    defs_yaml.write_text(f"type: usersnap_pipeline.components.UsersnapFeedbackComponent\nattributes:\n{lines}")
    return defs_yaml


def _check_yaml(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "VIRTUAL_ENV": str(VENV_BIN.parent),
           "PYTHONPATH": str(root), "NO_COLOR": "1"}
    return subprocess.run([str(VENV_BIN / "dg"), "check", "yaml"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


def test_dg_check_yaml_reports_every_bad_value_with_its_line(tmp_path):
    _project(tmp_path, BAD)
    done = _check_yaml(tmp_path)
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    assert done.returncode == 1, output
    for line, attribute in enumerate(BAD, start=3):
        assert re.search(rf"defs\.yaml:{line} - .*attributes\.{attribute}\b", output), (attribute, output)


@pytest.mark.parametrize("attributes", [
    {"import_history_start": '"2026-05-01"', "projects": "[3f6c0c1e-5d0c, abc_2]", "api_url": "http://127.0.0.1:8765/v0.1",
     "fetch_concurrency": "4", "sensor": "stopped", "reconciliation_cron": '"40 2 * * *"', "themes": '"false"',
     "warehouse_url_env": "USERSNAP_WAREHOUSE_URL", "translation": "{key_prefix: eu, group: usersnap_eu}"},
    {"import_history_start": '"{{ env.START }}"', "projects": '"{{ env.PROJECTS }}"', "themes": '"{{ env.THEMES }}"',
     "fetch_concurrency": '"{{ env.CONCURRENCY }}"', "reconciliation_cron": '"{{ env.CRON }}"',
     "sensor": '"{{ env.SENSOR }}"'},
], ids=["literals", "templates"])
def test_dg_check_yaml_accepts_good_values_and_templates(tmp_path, attributes):
    _project(tmp_path, attributes)
    done = _check_yaml(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
