"""End-to-end freshness under a real `dg dev` (webserver + daemon): how long from a new
submission, or an edit to an old item, in the emulator until the warehouse shows it, with the
change sensor running at its configured interval (by default the pipeline's default), and what an
idle tick costs. Reports each latency, their 95th percentile, and the requests per project and tick.

    python bench/freshness_latency.py [--interval 60] [--samples 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.components import UsersnapFeedbackComponent
from usersnap_pipeline.usersnap import UsersnapClient
from usersnap_pipeline.warehouse import Warehouse, schema

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "freshness_latency.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic()
        time.sleep(0.25)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s")


def p95(values: list[float]) -> float:
    """The 95th percentile by nearest rank: with fewer than 20 samples, the largest."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=int, help="sensor interval in seconds (default: the pipeline's own)")
    parser.add_argument("--samples", type=int, default=10, help="submissions and edits to time (default 10 each)")
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()

    now = datetime.now(timezone.utc)
    dataset = generate(seed=2, items=args.items, projects=2, days=30, end=now)
    work = Path(tempfile.mkdtemp(prefix="freshness-"))
    (work / "home").mkdir()
    (work / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    warehouse_url = f"sqlite:///{work / 'warehouse.sqlite'}"
    with Emulator(dataset, seed=2) as emulator:
        env = {**os.environ, "DAGSTER_HOME": str(work / "home"), "USERSNAP_API_URL": emulator.base_url,
               "USERSNAP_JWT_ID": DEFAULT_JWT_ID, "USERSNAP_JWT_SECRET": DEFAULT_JWT_SECRET,
               "USERSNAP_IMPORT_HISTORY_START": (now - timedelta(days=30)).date().isoformat(),
               "USERSNAP_WAREHOUSE_URL": warehouse_url,
               **({"USERSNAP_SENSOR_INTERVAL_SECONDS": str(args.interval)} if args.interval else {})}
        interval = args.interval or UsersnapFeedbackComponent.model_fields["sensor_interval_seconds"].default
        log = open(work / "dagster-dev.log", "w")
        dagster = subprocess.Popen([str(Path(sys.executable).with_name("dg")), "dev", "--target-path", str(ROOT),
                                    "--port", str(free_port())], cwd=work, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        warehouse = Warehouse(warehouse_url)
        client = UsersnapClient(emulator.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET)

        def count() -> int:
            try:
                return warehouse.fetch(sa.select(sa.func.count()).select_from(schema.data_points))[0][0]
            except sa.exc.OperationalError:
                return 0

        def row(feedback_id: str):
            try:
                rows = warehouse.fetch(sa.select(schema.data_points.c.status)
                                       .where(schema.data_points.c.feedback_id == feedback_id))
            except sa.exc.OperationalError:
                return None
            return rows[0] if rows else None

        try:
            started = time.monotonic()
            # The sensor's first tick sees two projects never imported and requests their history.
            history_done = wait_for(lambda: count() == args.items, 600, "the history import")
            results = {"history_import_s": round(history_done - started, 1), "new_submission_s": [],
                       "edit_to_old_item_s": []}
            project = dataset.projects[0]
            for n in range(args.samples):
                t0 = time.monotonic()
                created = client.submit_feedback(project["api_key"], {"email": f"latency{n}@example.com"})
                t1 = wait_for(lambda: row(created["feedback_id"]) is not None, 600, "a new submission")
                results["new_submission_s"].append(round(t1 - t0, 1))
                old = emulator.store.items(project["project_id"])[n]
                t0 = time.monotonic()
                emulator.store.edit(old["feedback_id"], {"status_type": f"latency_{n}"})
                t1 = wait_for(lambda: (row(old["feedback_id"]) or [None])[0] == f"latency_{n}", 600, "an edit")
                results["edit_to_old_item_s"].append(round(t1 - t0, 1))
            # Idle: what the sensor costs when nothing changes, over several of its intervals.
            time.sleep(interval)  # the last sample's run and tick are over
            before, idle_started = emulator.requests_made(), time.monotonic()
            time.sleep(4 * interval)
            ticks = (time.monotonic() - idle_started) / interval
            results["idle_requests_per_project_and_tick"] = round((emulator.requests_made() - before) / ticks / 2, 2)
        finally:
            os.killpg(dagster.pid, signal.SIGTERM)
            try:
                dagster.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(dagster.pid, signal.SIGKILL)
            warehouse.dispose()
    for kind in ("new_submission_s", "edit_to_old_item_s"):
        results[kind.removesuffix("_s") + "_p95_s"] = p95(results[kind])
    results.update({"sensor_interval_s": interval, "items": args.items, "projects": 2,
                    "machine": f"{os.cpu_count()} cores", "instance": "dg dev, SQLite storage",
                    "when": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
