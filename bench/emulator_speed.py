"""Is the emulator fast enough not to be the bottleneck? At 100k stored items, compare the server's
own cost of one page of 100 (index lookup + JSON encoding) with the client's wall time per page
over HTTP, the emulator running in its own process as in the pipeline benchmark.

    python bench/emulator_speed.py [--items 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, generate
from usersnap_pipeline.emulator.store import FeedbackStore, Query
from usersnap_pipeline.usersnap import UsersnapClient, created_at_window

RESULTS = Path(__file__).parent / "results" / "emulator_speed.json"
END = datetime(2026, 6, 30, tzinfo=timezone.utc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_cost_per_page(items: int, projects: int) -> tuple[float, int]:
    store = FeedbackStore(generate(seed=1, items=items, projects=projects, days=180, end=END))
    project_id = next(iter(store.projects))
    body = created_at_window(END - timedelta(days=200), END)
    query = Query.from_body(body)
    pages, after, started = 0, None, time.perf_counter()
    while True:
        page = store.page(project_id, query, limit=100, after=after)
        json.dumps({"status": True, "data": {"feedbacks": page.items}}, separators=(",", ":")).encode()
        pages += 1
        if not page.has_more:
            break
        after = page.items[-1]["feedback_id"]
    return (time.perf_counter() - started) / pages, pages


def client_cost_per_page(items: int, projects: int) -> tuple[float, int, int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "usersnap_pipeline.cli", "emulator", "--port", str(port),
                               "--items", str(items), "--projects", str(projects), "--seed", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in server.stdout:
            if line.startswith("Usersnap emulator at"):
                break
        with UsersnapClient(f"http://127.0.0.1:{port}/v0.1", DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as client:
            project_id = client.list_projects()[0]["project_id"]
            body = created_at_window(datetime.now(timezone.utc) - timedelta(days=200), datetime.now(timezone.utc))
            started, pages = time.perf_counter(), 0
            for _ in client.iter_filtered_pages(project_id, body):
                pages += 1
            elapsed = time.perf_counter() - started
        rss = int(Path(f"/proc/{server.pid}/status").read_text().split("VmHWM:")[1].split()[0]) // 1024
        return elapsed / pages, pages, rss
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--projects", type=int, default=2)
    args = parser.parse_args()
    server, server_pages = server_cost_per_page(args.items, args.projects)
    client, client_pages, emulator_rss = client_cost_per_page(args.items, args.projects)
    result = {
        "items": args.items, "projects": args.projects, "machine": f"{os.cpu_count()} cores",
        "server_ms_per_page": round(server * 1000, 3), "client_ms_per_page": round(client * 1000, 3),
        "server_share_of_client_cost": round(server / client, 3), "pages": client_pages,
        "emulator_peak_rss_mb": emulator_rss,
        "bench_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
