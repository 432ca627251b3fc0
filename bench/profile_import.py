"""Profile one import run in-process with pyinstrument: N items over 4 projects and 180 days, from an
emulator in this process into a fresh PostgreSQL database (dropped afterwards), Dagster on a
temporary instance. Prints the wall time and writes the profile to bench/results/profile_import_<N>.txt.

    .venv/bin/python bench/profile_import.py --items 200000
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from pyinstrument import Profiler

from usersnap_pipeline.defs.code_location import IMPORT_JOB, build_definitions
from usersnap_pipeline.defs.partitions import range_tags
from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.settings import Settings

PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
DAYS, PROJECTS = 180, 4
END = datetime(2026, 6, 30, tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    dataset = generate(seed=1, items=args.items, projects=PROJECTS, days=DAYS, end=END)
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    database = f"bench_profile_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    try:
        with Emulator(dataset) as api:
            os.environ.update(USERSNAP_JWT_ID=DEFAULT_JWT_ID, USERSNAP_JWT_SECRET=DEFAULT_JWT_SECRET)
            first = (END - timedelta(days=DAYS)).date()
            defs = build_definitions(Settings(
                api_url=api.base_url, project_ids=(), import_history_start=first,
                warehouse_url=f"postgresql://postgres@127.0.0.1:5432/{database}", fetch_concurrency=args.concurrency))
            profiler = Profiler(interval=0.005)
            with dg.instance_for_test() as instance:
                profiler.start()
                started = time.perf_counter()
                result = defs.resolve_job_def(IMPORT_JOB).execute_in_process(
                    instance=instance, tags=range_tags(first.isoformat(), END.date().isoformat()),
                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
                wall = time.perf_counter() - started
                profiler.stop()
        out = Path(__file__).parent / "results" / f"profile_import_{args.items}.txt"
        out.write_text(profiler.output_text(unicode=False, color=False))
        print(f"{args.items} items: {wall:.1f} s under the profiler, success={result.success}; profile: {out}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
