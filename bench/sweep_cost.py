"""What the reconciliation sweeps cost over a 3-year window, in API requests and time: the daily one (counts)
and the weekly one (ids).

A sparse account (2 projects, about 3 items a day each, 3 years) is imported into a SQLite warehouse
through the pipeline's import step. Then, in the same run:

- baseline: a count per (project, day), the obvious way to compare a window day by day;
- sweep: the pipeline's reconciliation (one count per project, bisection into the days that differ),
  on a clean warehouse, with 1 day that differs and with 10 days that differ (items deleted in Usersnap);
- id sweep: the weekly reconciliation (the window's ids and versions, listed page by page), on a clean
  warehouse and with an item deleted and another created on the same day, which counts cannot see;
  against the pages a crawl of the window reads.

    python bench/sweep_cost.py            # writes bench/results/sweep_cost.json
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.steps.days import day_bounds, days_between
from usersnap_pipeline.steps.import_window import import_window
from usersnap_pipeline.emulator.data import fmt_time, parse_time
from usersnap_pipeline.steps.reconcile import differing_days_by_id, reconcile
from usersnap_pipeline.usersnap import UsersnapClient, created_at_window
from usersnap_pipeline.warehouse import Warehouse
from usersnap_pipeline.warehouse.audits import accounted_items

DAYS, PROJECTS, PER_DAY = 3 * 365, 2, 3
RESULTS = Path(__file__).resolve().parent / "results" / "sweep_cost.json"


def main() -> None:
    end = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    dataset = generate(seed=4, items=DAYS * PROJECTS * PER_DAY, projects=PROJECTS, days=DAYS, end=end)
    start_day, end_day = (end - timedelta(days=DAYS)).date(), end.date()
    results: dict = {"window_days": DAYS, "projects": PROJECTS, "items": len(dataset.items)}
    with tempfile.TemporaryDirectory() as work, Emulator(dataset, seed=4) as api, \
            UsersnapClient(api.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as client:
        warehouse = Warehouse(f"sqlite:///{Path(work) / 'warehouse.sqlite'}")
        warehouse.ensure_schema()
        projects = [p["project_id"] for p in api.store.list_projects()]
        import_window(client, warehouse, projects, start_day, end_day, concurrency=4)

        def measure(name: str, action) -> None:
            api.reset_request_counts()
            started = time.perf_counter()
            outcome = action()
            results[name] = {"requests": api.requests_made(), "seconds": round(time.perf_counter() - started, 3),
                             **outcome}
            print(name, results[name], flush=True)

        def per_day_counts() -> dict:
            ours = accounted_items(warehouse, projects, start_day, end_day)
            differing = sum(1 for project_id in projects for day in days_between(start_day, end_day)
                            if client.count_filtered(project_id, created_at_window(*day_bounds(day)))
                            != ours.get((project_id, day), 0))
            return {"differing_days_found": differing}

        def sweep() -> dict:
            result = reconcile(client, warehouse, projects, start_day, end_day)
            return {"differing_days_found": len(result.mismatches)}

        def id_sweep() -> dict:
            result = differing_days_by_id(client, warehouse, projects, start_day, end_day)
            return {"differing_days_found": sum(len(days) for days in result.differing.values())}

        measure("baseline_count_per_day", per_day_counts)
        measure("sweep_clean", sweep)
        measure("id_sweep_clean", id_sweep)
        results["window_pages"] = sum(-(-len(api.store.items(project_id)) // 100) for project_id in projects)
        replaced = api.store.items()[len(dataset.items) // 2]
        api.store.delete(replaced["feedback_id"])
        created = parse_time(replaced["created_at"]) + timedelta(seconds=1)
        api.store.inject(replaced["project_id"], {**replaced, "feedback_id": "created-the-same-day",
                                                  "created_at": fmt_time(created)}, created_at=created)
        measure("sweep_same_day_replacement", sweep)
        measure("id_sweep_same_day_replacement", id_sweep)
        items = api.store.items()
        api.store.delete(items[len(items) // 3]["feedback_id"])
        measure("sweep_1_day_differs", sweep)
        for index in range(1, 10):
            api.store.delete(items[index * len(items) // 10 + 7]["feedback_id"])
        measure("sweep_10_days_differ", sweep)
        warehouse.dispose()
    base = results["baseline_count_per_day"]["requests"]
    for name in ("sweep_clean", "sweep_1_day_differs", "sweep_10_days_differ", "id_sweep_clean"):
        results[name]["requests_vs_baseline"] = round(results[name]["requests"] / base, 4)
    for name in ("id_sweep_clean", "id_sweep_same_day_replacement"):
        results[name]["requests_vs_window_pages"] = round(results[name]["requests"] / results["window_pages"], 3)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
