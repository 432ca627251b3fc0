"""``usersnap-pipeline``: the emulator, the demo and the themes report, from one command."""

from __future__ import annotations

import argparse
import os
import sys

from .emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, DEFAULT_PORT


def _add_emulator_data_args(parser: argparse.ArgumentParser, *, items: int, projects: int, days: int) -> None:
    parser.add_argument("--items", type=int, default=items, help=f"feedback items to generate (default {items})")
    parser.add_argument("--projects", type=int, default=projects, help=f"projects (default {projects})")
    parser.add_argument("--days", type=int, default=days,
                        help=f"spread the items over this many days before now (default {days})")
    parser.add_argument("--seed", type=int, default=1, help="random seed: same seed, same data (default 1)")


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    return (args.jwt_id or os.environ.get("USERSNAP_JWT_ID") or DEFAULT_JWT_ID,
            args.jwt_secret or os.environ.get("USERSNAP_JWT_SECRET") or DEFAULT_JWT_SECRET)


def run_emulator(args: argparse.Namespace) -> int:
    from .emulator import Emulator, Faults, generate

    jwt_id, jwt_secret = _credentials(args)
    faults = Faults(status_429_every=args.every_429, error_rate=args.error_rate,
                    truncate_rate=args.truncate_rate, latency=args.latency_ms / 1000,
                    live_edit_rate=args.live_edit_rate, live_submit_rate=args.live_submit_rate)
    print(f"generating {args.items} items over {args.projects} project(s) and {args.days} days...", flush=True)
    dataset = generate(seed=args.seed, items=args.items, projects=args.projects, days=args.days)
    emulator = Emulator(dataset, jwt_id=jwt_id, jwt_secret=jwt_secret, host=args.host, port=args.port,
                        faults=faults, seed=args.seed)
    print(emulator.describe())
    print(f"\nexport USERSNAP_API_URL={emulator.base_url}")
    print("export USERSNAP_PROJECT_IDS=" + ",".join(p["project_id"] for p in dataset.projects), flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """Start the emulator with realistic data and import its whole history window through Dagster."""
    from datetime import datetime, time, timedelta, timezone
    from pathlib import Path

    import dagster as dg

    from .definitions import defs as project_definitions
    from .definitions import project_component
    from .orchestration.import_feedback import IMPORT_JOB
    from .orchestration.partitions import range_tags
    from .orchestration.themes import THEMES_JOB
    from .emulator import Emulator, generate
    from .steps.themes import CSV_FILE, REPORT_FILE
    from .warehouse import Warehouse
    from .warehouse.queries import format_summary, summarize

    jwt_id, jwt_secret = _credentials(args)
    today = datetime.now(timezone.utc).date()
    first_day = today - timedelta(days=args.days)
    print(f"Starting the Usersnap emulator: {args.items} items, {args.projects} project(s), "
          f"{args.days} days of history...", flush=True)
    # Anchored at midnight: running the demo again the same day gives the same items.
    midnight = datetime.combine(today, time.min, tzinfo=timezone.utc)
    dataset = generate(seed=args.seed, items=args.items, projects=args.projects, days=args.days, end=midnight)
    with Emulator(dataset, jwt_id=jwt_id, jwt_secret=jwt_secret, seed=args.seed) as emulator:
        # The pipeline reads its configuration from the environment, as under `dg dev`.
        os.environ.update({
            "USERSNAP_API_URL": emulator.base_url,
            "USERSNAP_JWT_ID": jwt_id,
            "USERSNAP_JWT_SECRET": jwt_secret,
            "USERSNAP_PROJECT_IDS": ",".join(p["project_id"] for p in dataset.projects),
            "USERSNAP_IMPORT_HISTORY_START": first_day.isoformat(),
        })
        dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
        dagster_home.mkdir(parents=True, exist_ok=True)
        instance_config = dagster_home / "dagster.yaml"
        if not instance_config.exists():  # still Dagster's embedded SQLite storage, just quiet
            instance_config.write_text("telemetry:\n  enabled: false\n")
        component = project_component()  # its attributes, from defs/usersnap/defs.yaml and the environment
        defs = project_definitions()  # the code location exactly as `dg` loads it
        print(f"Importing {first_day} .. {today} in one Dagster run (instance: {dagster_home})...", flush=True)
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        with dg.DagsterInstance.get() as instance:
            result = defs.resolve_job_def(IMPORT_JOB).execute_in_process(
                instance=instance, tags=range_tags(first_day.isoformat(), today.isoformat()),
                run_config=quiet, raise_on_error=False)
            if not result.success:
                print(f"The import run {result.run_id} failed; see `./dev dg dev` → Runs for its logs.",
                      file=sys.stderr)
                return 1
            # The import run read the projects' names and assignees too: the report's project sections show them.
            print("Finding themes, sentiment and trends...", flush=True)
            run = defs.resolve_job_def(THEMES_JOB).execute_in_process(instance=instance, run_config=quiet,
                                                                      raise_on_error=False)
            if not run.success:
                print(f"The {THEMES_JOB} run {run.run_id} failed; see `./dev dg dev` → Runs for its logs.",
                      file=sys.stderr)
                return 1
        warehouse_url = component.warehouse().resolved_url()
        warehouse = Warehouse(warehouse_url)
        try:
            names = {p["project_id"]: p["name"] for p in dataset.projects}
            print(f"\nRun {result.run_id} succeeded. Warehouse: {_where(warehouse_url)}\n")
            print(format_summary(summarize(warehouse), names))
            print(f"\nThemes report: {(component.report_folder / REPORT_FILE).resolve()}")
            print(f"Data points with theme and sentiment (CSV): {(component.report_folder / CSV_FILE).resolve()}")
        finally:
            warehouse.dispose()
    print(f"\nThe run is recorded in the Dagster instance at {dagster_home}; README → 'Dagster UI' shows how to "
          "browse it and keep the import running on a schedule.")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Render the themes report (HTML + trends chart + CSV of data points) from the warehouse."""
    from datetime import datetime, timezone
    from pathlib import Path

    from .components import UsersnapFeedbackComponent
    from .steps.themes import write_report
    from .warehouse import Warehouse

    defaults = UsersnapFeedbackComponent.model_fields
    url = args.warehouse_url or os.environ.get("USERSNAP_WAREHOUSE_URL") or defaults["warehouse_url"].default
    out = Path(args.out or os.environ.get("USERSNAP_REPORT_DIR") or defaults["report_dir"].default)
    warehouse = Warehouse(url)
    try:
        warehouse.ensure_schema()
        report = write_report(warehouse, out, now=datetime.now(timezone.utc),
                              note="Materialize the `themes` asset (it needs at least 200 data points with text).")
    finally:
        warehouse.dispose()
    print(f"{len(report.themes)} themes, {len(report.trends)} trend rows from {_where(url)}")
    print(f"Report: {report.html_path.resolve()}\nChart:  {report.chart_path.resolve()}\n"
          f"CSV:    {report.csv_path.resolve()}")
    return 0


def _where(warehouse_url: str) -> str:
    from pathlib import Path

    import sqlalchemy as sa

    url = sa.make_url(warehouse_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return f"SQLite file {Path(url.database).resolve()}"
    return url.render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usersnap-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    emulator = commands.add_parser("emulator", help="serve a local Usersnap REST API v0.1 with generated data")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    _add_emulator_data_args(emulator, items=5000, projects=2, days=180)
    emulator.add_argument("--jwt-id", help="JWT ID to accept (default: $USERSNAP_JWT_ID, else the demo ID)")
    emulator.add_argument("--jwt-secret", help="JWT secret to accept (default: $USERSNAP_JWT_SECRET, else the demo secret)")
    emulator.add_argument("--every-429", type=int, default=0, help="answer every Nth request with 429")
    emulator.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 5xx")
    emulator.add_argument("--truncate-rate", type=float, default=0.0, help="share of bodies cut mid-JSON")
    emulator.add_argument("--latency-ms", type=float, default=0.0, help="milliseconds added per request")
    emulator.add_argument("--live-edit-rate", type=float, default=0.0, help="chance per request of a live edit")
    emulator.add_argument("--live-submit-rate", type=float, default=0.0,
                          help="chance per request of a new submission")
    emulator.set_defaults(func=run_emulator)

    demo = commands.add_parser("demo", help="start the emulator and import its whole history through Dagster")
    _add_emulator_data_args(demo, items=3000, projects=2, days=30)
    demo.add_argument("--jwt-id", help=argparse.SUPPRESS)
    demo.add_argument("--jwt-secret", help=argparse.SUPPRESS)
    demo.set_defaults(func=run_demo)

    report = commands.add_parser("report", help="render the themes report (HTML + trends chart + CSV) from the warehouse")
    report.add_argument("--warehouse-url", help="default: $USERSNAP_WAREHOUSE_URL, else the embedded SQLite file")
    report.add_argument("--out", help="folder for themes.html, theme_trends.png and data_points.csv (default: $USERSNAP_REPORT_DIR, "
                                      "else data/reports)")
    report.set_defaults(func=run_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
