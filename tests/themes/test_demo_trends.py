"""The demo's own report flags the trend its data plants: the emulator grows dark mode tenfold over the
window (emulator/data.py, TOPIC_DRIFT), and `usersnap-pipeline demo` must say so in its report, whatever
day it runs (the clock is pinned to the Saturday the old week-over-week test called it steady)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from usersnap_pipeline.emulator import generate
from usersnap_pipeline.warehouse import Warehouse
from usersnap_pipeline.warehouse import schema

SATURDAY = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)
# The demo's defaults (cli.py) but a third of its items, which is enough to see the rise and saves a minute.
DEMO = {"seed": 1, "items": 1000, "projects": 2, "days": 30}


@pytest.mark.slow
def test_the_demo_report_flags_the_planted_dark_mode_rise(tmp_path, monkeypatch):
    from usersnap_pipeline.cli import main

    warehouse_url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    for name, value in {"USERSNAP_WAREHOUSE_URL": warehouse_url, "USERSNAP_REPORT_DIR": str(tmp_path / "reports"),
                        "DAGSTER_HOME": str(tmp_path / "dagster")}.items():
        monkeypatch.setenv(name, value)
    with time_machine.travel(SATURDAY, tick=True):
        assert main(["demo", "--items", str(DEMO["items"])]) == 0
    midnight = datetime.combine(SATURDAY.date(), time.min, tzinfo=timezone.utc)
    truth = generate(**DEMO, end=midnight).topics  # the data the demo served, with each text's topic

    warehouse = Warehouse(warehouse_url)
    dpt = schema.data_point_themes.c
    themed = Counter(row.theme_id for row in warehouse.fetch(sa.select(dpt.feedback_id, dpt.theme_id)
                                                               .where(dpt.rank == 1))
                     if truth.get(row.feedback_id) == "dark_mode")
    dark_mode = themed.most_common(1)[0][0]
    trends = [row for row in warehouse.rows(schema.theme_trends) if row["theme_id"] == dark_mode
              and row["granularity"] == "week" and row["project_id"] == ""]
    warehouse.dispose()
    # Rising now: in the week under way (Monday to Friday's data) or the last complete one.
    recent = sorted(trends, key=lambda row: row["period_start"])[-2:]
    verdict = next(row for row in reversed(recent) if row["direction"] == "rising")
    assert verdict["share_to"] >= 3 * verdict["share_from"] and verdict["p_value"] <= 0.05, verdict

    html = (tmp_path / "reports" / "themes.html").read_text()
    rising_now = html[html.index("Rising now"):html.index("<h2>Trends</h2>")]
    assert f'data-theme="{dark_mode}" data-project=""' in rising_now
    assert re.search(r"rising, <span class=\"why\">[\d.]+ % → [\d.]+ % of feedback over \d weeks", rising_now)
    assert "Feedback in" not in rising_now, "a language cluster does not rise with volume it does not have"
