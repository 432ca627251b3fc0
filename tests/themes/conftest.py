"""Fixtures of the theme tests. ``THEMES_TESTS_TRAVEL_TO=2026-12-05T15:00:00+00:00 ./dev test tests/themes``
runs the whole session with the clock travelled there (ticking): the way to check that no theme test
depends on the day it runs (bench/README.md: the weekday sweep)."""

import os
from datetime import datetime, timezone

import pytest
import time_machine

from tests.pipeline.conftest import credentials, pipeline, pipeline_emulator  # noqa: F401 - shared fixtures

TRAVEL_TO = "THEMES_TESTS_TRAVEL_TO"


@pytest.fixture(scope="session", autouse=True)
def travelled_clock():
    destination = os.environ.get(TRAVEL_TO)
    if not destination:
        yield None
        return
    moment = datetime.fromisoformat(destination)
    if moment.tzinfo is None:
        raise ValueError(f"{TRAVEL_TO}={destination!r}: give a time zone, e.g. 2026-12-05T15:00:00+00:00")
    with time_machine.travel(moment.astimezone(timezone.utc), tick=True):
        yield moment
