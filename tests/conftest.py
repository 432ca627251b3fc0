"""Shared fixtures: a real emulator over HTTP on a free loopback port, and a client for it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.usersnap import UsersnapClient

# Fixed anchor: the same seed gives the same items on every machine and every day.
ANCHOR = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def emulator():
    with Emulator(generate(seed=7, items=2000, projects=2, days=60, end=ANCHOR), seed=7) as api:
        yield api


def make_client(api: Emulator, **kwargs) -> UsersnapClient:
    kwargs.setdefault("backoff_base", 0.01)
    kwargs.setdefault("backoff_max", 0.05)
    return UsersnapClient(api.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, **kwargs)


@pytest.fixture
def client(emulator):
    with make_client(emulator) as usersnap:
        yield usersnap


@pytest.fixture
def project_id(emulator) -> str:
    return emulator.store.list_projects()[0]["project_id"]
