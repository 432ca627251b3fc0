"""What importing in several processes could gain over the pipeline's threads, at best.

The import runs its windows in threads of one process: the Python work (parsing, normalizing, building
COPY text) holds one interpreter at a time. This runs the same ``import_window`` into PostgreSQL twice on
one emulator: once as the pipeline does (one process, ``--concurrency`` threads), once split by project
over ``--processes`` processes sharing the concurrency, with nothing sent between them (no pickling,
no merging): an upper bound for any process-pool design. Dagster is left out; both load the same rows.

    .venv/bin/python bench/process_parallel_bound.py --case dense --repeat 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from datetime import timedelta

from import_speed import CASES, drop_database, free_port, fresh_database, history_window, machine_busy_s, start_emulator

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET
from usersnap_pipeline.steps.import_window import import_window
from usersnap_pipeline.steps.projects import resolve_projects
from usersnap_pipeline.usersnap import UsersnapClient
from usersnap_pipeline.warehouse import Warehouse


def import_projects(warehouse_url: str, api_url: str, project_ids: list[str], start, end, concurrency: int) -> int:
    warehouse = Warehouse(warehouse_url, connections=concurrency)
    try:
        with UsersnapClient(api_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, pool_size=concurrency) as client:
            return import_window(client, warehouse, project_ids, start, end, concurrency=concurrency).items
    finally:
        warehouse.dispose()


def measure(api_url: str, project_ids: list[str], start, end, concurrency: int, processes: int) -> dict:
    """Wall time and the machine's busy core-seconds of one import into a fresh database."""
    database = fresh_database("bench_parallel")
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
    try:
        Warehouse(url).ensure_schema()
        started, busy = time.perf_counter(), machine_busy_s()
        if processes == 1:
            items = import_projects(url, api_url, project_ids, start, end, concurrency)
        else:
            groups = [project_ids[i::processes] for i in range(processes)]
            with multiprocessing.get_context("spawn").Pool(processes) as pool:
                items = sum(pool.starmap(import_projects, [(url, api_url, group, start, end,
                                                            max(1, concurrency // processes)) for group in groups]))
        return {"wall_s": round(time.perf_counter() - started, 2),
                "busy_core_s": round(machine_busy_s() - busy, 1), "items": items}
    finally:
        drop_database(database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=list(CASES), default="dense")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    items, projects, days = CASES[args.case]
    port = free_port()
    emulator = start_emulator(items, 0, port, days, projects)
    try:
        api_url = f"http://127.0.0.1:{port}/v0.1"
        first, today = history_window(days)
        with UsersnapClient(api_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as client:
            project_ids = resolve_projects(client, [])
        for _ in range(args.repeat):  # alternated, so a change in the machine's speed hits both
            for processes in (1, projects):
                result = measure(api_url, project_ids, first, today + timedelta(days=1), args.concurrency, processes)
                print(f"{args.case}: {processes} process(es): {result['wall_s']} s wall, "
                      f"machine busy {result['busy_core_s']} core-s, {result['items']} items", flush=True)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
