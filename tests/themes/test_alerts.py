"""Rising-theme alerts end to end: live submissions in the emulator make a theme rise, the themes job
posts one alert to a real local HTTP receiver, never one for a steady theme; with the receiver down
the runs succeed and the alert arrives on a later run, once."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import time_machine

from tests.pipeline.conftest import Pipeline
from usersnap_pipeline.emulator import Emulator, generate
from usersnap_pipeline.emulator.data import published_input
from usersnap_pipeline.orchestration.themes import ASSIGNMENT_ASSETS, RISING_CHECK
from usersnap_pipeline.themes.alerts import rising_now
from usersnap_pipeline.transform.redact import MASKS
from usersnap_pipeline.steps.themes import read_trends
from usersnap_pipeline.warehouse import schema

SECRET = "T0001/B0002/plantedWebhookSecret42"  # a Slack hook's path is its key
LIVE_SUBMISSIONS = 40
# The clock the emulator, Dagster and the assets read, pinned: the week under way is two and a half days
# old whatever day the suite runs (it failed on Saturdays when it read the real clock).
NOW = datetime(2026, 12, 9, 15, 0, tzinfo=timezone.utc)  # a Wednesday


class Receiver:
    """A Slack-like incoming webhook on a fixed local port that can go down and come back."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/services/{SECRET}"
        self.messages: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        messages = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                assert self.path == f"/services/{SECRET}"
                messages.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _alerts(pipeline: Pipeline) -> dict[str, dict]:
    return {row["theme_id"]: row for row in pipeline.warehouse.rows(schema.theme_alerts)}


def _rising(pipeline: Pipeline) -> set[str]:
    return {row.theme_id for row in rising_now(read_trends(pipeline.warehouse))}


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == RISING_CHECK]
    return evaluation


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)  # the claims run on both; PG end to end elsewhere
def test_a_theme_made_to_rise_is_alerted_once_and_a_receiver_that_was_down_gets_it_later(
        warehouse_url, credentials, tmp_path, monkeypatch):
    with time_machine.travel(NOW, tick=True):
        _a_theme_made_to_rise_is_alerted_once(warehouse_url, tmp_path, monkeypatch)


def _a_theme_made_to_rise_is_alerted_once(warehouse_url, tmp_path, monkeypatch):
    now = datetime.now(timezone.utc)
    assert now - NOW < timedelta(minutes=10)
    first_day = (now - timedelta(days=21)).date()
    receiver = Receiver()
    receiver.start()
    monkeypatch.setenv("USERSNAP_ALERT_WEBHOOK_URL", receiver.url)
    with Emulator(generate(seed=5, items=900, projects=2, days=21, end=now), seed=5) as api, \
            dg.instance_for_test() as instance:
        pipeline = Pipeline(api.base_url, warehouse_url, first_day=first_day, report_dir=tmp_path / "reports")
        pipeline.seed(first_day, now.date())
        assert pipeline.themes(instance).success
        # Whatever rises in the generated history (a drifting topic) is alerted; nothing else is.
        before = _alerts(pipeline)
        assert set(before) == _rising(pipeline)
        assert len(receiver.messages) == len(before)

        # Customers start writing about logging in: 40 submissions now, each with personal details
        # (emails, phone, card and IBAN numbers, addresses: the planted set of the privacy tests).
        login = [json.loads(line)["text"] for line in resources.files("usersnap_pipeline.emulator").joinpath(
            "corpus/login.jsonl").read_text(encoding="utf-8").splitlines()]
        planted = [json.loads(line) for line in (Path(__file__).parents[1] / "fixtures" / "planted_pii.jsonl")
                   .read_text(encoding="utf-8").splitlines()]
        project = next(iter(api.store.projects))
        submitted = [api.store.submit(project, {"ordered_inputs": [published_input(
            1, "Comment", f"{login[n % len(login)]} {planted[n % len(planted)]['text']}")]})["feedback_id"]
            for n in range(LIVE_SUBMISSIONS)]
        details = {detail for n in range(LIVE_SUBMISSIONS) for detail in planted[n % len(planted)]["pii"]}
        pipeline.seed(first_day, now.date())

        receiver.stop()
        down = pipeline.themes(instance, ASSIGNMENT_ASSETS)
        assert down.success, "a webhook that is down never fails the themes"
        dpt = schema.data_point_themes.c
        assigned = [row.theme_id for row in pipeline.warehouse.fetch(
            sa.select(dpt.theme_id).where(dpt.rank == 1, dpt.feedback_id.in_(submitted)))]
        risen = max(set(assigned), key=assigned.count)  # the login texts' main theme (some go to 2FA, SSO …)
        assert assigned.count(risen) >= LIVE_SUBMISSIONS // 3
        assert risen in _rising(pipeline) and risen not in before
        raised = {theme_id: row for theme_id, row in _alerts(pipeline).items() if theme_id not in before}
        assert set(raised) == _rising(pipeline) - set(before), "an alert for each rising theme, none for steady ones"
        assert all(row["delivered_at"] is None for row in raised.values())
        assert sum(row["attempts"] for row in raised.values()) == 1, "the first failure stops this run's deliveries"
        failed = next(row for row in raised.values() if row["attempts"])
        assert "ConnectionError" in failed["last_error"] and SECRET not in failed["last_error"]
        check = _check(down)
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        label = raised[risen]["label"]
        assert label in check.description
        assert label in [record.data["theme"] for record in check.metadata["rising_themes"].value.records]

        receiver.start()
        up = pipeline.themes(instance, ASSIGNMENT_ASSETS)
        assert up.success
        again = pipeline.themes(instance, ASSIGNMENT_ASSETS)
        assert again.success
        receiver.stop()
        # The URL is a secret: in no log line, event or metadata of any run.
        logs = "".join(str(entry.dagster_event or "") + (entry.user_message or "")
                       for run in instance.get_runs() for entry in instance.all_logs(run.run_id))
        assert "rising_themes" in logs and SECRET not in logs

    alerts = _alerts(pipeline)
    assert set(alerts) == set(before) | set(raised)
    assert all(row["delivered_at"] is not None and row["last_error"] is None for row in alerts.values())
    assert len(receiver.messages) == len(alerts), "each alert delivered once, across re-runs"
    [text] = [m["text"] for m in receiver.messages[len(before):] if f"*{label}*" in m["text"]]
    pending = raised[risen]
    assert f"{pending['data_points']} data points" in text and f"{pending['previous_data_points']} the week before" in text
    quotes = [line for line in text.splitlines() if line.startswith("> ")]
    assert len(quotes) == 2 and all("<https://app.usersnap.com/l/feedback/" in q and "|open in Usersnap>" in q
                                    for q in quotes)
    assert any(mask in text for mask in MASKS.values()) and not [detail for detail in details if detail in text]
    assert not [detail for m in receiver.messages for detail in details if detail in m["text"]]
