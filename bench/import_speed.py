"""Import speed and memory: the pipeline against a raw crawl and dlt, in one run, on one emulator.

For each case (N items over P projects and D days) and added latency, an emulator process serves the
items; then, each as its own process, from empty tables:
  raw        bench/raw_crawl.py: plain requests loop over the filter endpoint, limit 100, discards items
  pipeline   the README's CLI backfill (`dg launch --partition-range`), one run,
             into PostgreSQL and into SQLite
  dlt        bench/peer_dlt.py: dlt's rest_api source into the same PostgreSQL
and two floors, the parts of the pipeline's run no import design removes:
  dagster_floor   the same CLI backfill over the same days of an emulator serving no items: Dagster's
                  start-up, the run's per-day events and the checks, with nothing to move
  database_floor  bench/database_floor.py: the rows the pipeline wrote, loaded by COPY alone into empty
                  tables of the same schema, as many connections as the fetch concurrency
Reports wall time, items/s, peak RSS, API requests (and the pages a sequential crawl needs), the
pipeline's import step alone (its run less Dagster's start-up and checks), the ratios, and where the CPU
went: the contender's process, the emulator, and the rest of the machine (PostgreSQL, for the contenders
that write to it); writes bench/results/import_speed.json.

    python bench/import_speed.py                      # every case of RUNS (about 12 minutes)
    python bench/import_speed.py --case dense --latency-ms 0
    python bench/import_speed.py --case sparse --contenders raw pipeline_postgres   # a quick look; no JSON
    python bench/import_speed.py --case custom --items 40000 --days 2 --projects 1 --contenders pipeline_postgres
                                                      # 10,000 items a day: memory with large partitions
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import sqlalchemy as sa

from usersnap_pipeline.warehouse import Warehouse
from usersnap_pipeline.warehouse.schema import PARTITIONED_TABLES, partition_state

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "import_speed.json"
PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
SELECTION = "raw_feedback,data_points"
TICKS = os.sysconf("SC_CLK_TCK")
CONTENDERS = ("raw", "pipeline_postgres", "pipeline_sqlite", "dlt", "dagster_floor", "database_floor")
# name -> (items, projects, days): dense as a busy account's half year, large as the previous rounds'
# reference, sparse as a quiet account's three years (3 items a day per project)
CASES = {"dense": (60_000, 2, 175), "large": (200_000, 4, 180), "sparse": (6_570, 2, 1_095)}
RUNS = (("dense", 0), ("dense", 100), ("large", 0), ("sparse", 0), ("sparse", 100))
STEP_DONE = re.compile(r'Finished execution of step "(\w+)" in ([\w.]+)\.\n')  # Dagster's format_duration
DURATION = re.compile(r"([\d.]+)(ms|h|m|s)")
UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emulator_requests(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/stats", timeout=10) as answer:
        return json.load(answer)["requests"]


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a running process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has been busy (not idle, not waiting for I/O)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS


def run(name: str, command: list[str], env: dict, port: int, workdir: Path, emulator_pid: int) -> dict:
    """Run one contender as a child process; wall time, peak RSS (the largest process of its tree), and
    the CPU seconds of the contender, of the emulator and of everything else (the database)."""
    out = workdir / f"{name}.out"
    before = emulator_requests(port)
    emulator_before, machine_before = process_cpu_s(emulator_pid), machine_busy_s()
    started = time.perf_counter()
    with open(out, "w") as sink:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    own = usage.ru_utime + usage.ru_stime
    emulator = process_cpu_s(emulator_pid) - emulator_before
    machine = machine_busy_s() - machine_before
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{name} failed ({process.returncode}); see {out}:\n{out.read_text()[-3000:]}")
    output = out.read_text()
    # a Dagster run's steps: the import, and each check
    steps = {name: round(sum(float(value) * UNIT_S[unit] for value, unit in DURATION.findall(duration)), 2)
             for name, duration in STEP_DONE.findall(output)}
    imported = next((seconds for name, seconds in steps.items() if name.endswith("import_feedback")), None)
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "requests": emulator_requests(port) - before, "output": output[-400:],
            **({"import_step_s": imported, "steps_s": steps} if steps else {}),
            "cpu_s": {"own": round(own, 1), "emulator": round(emulator, 1),
                      "rest": round(max(0.0, machine - own - emulator), 1)}}


def fresh_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name


def drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def count_rows(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
    engine.dispose()
    return n


def start_emulator(items: int, latency_ms: float, port: int, days: int, projects: int) -> subprocess.Popen:
    """An emulator process serving ``items`` over ``projects`` projects and ``days`` days, once it is ready."""
    emulator = subprocess.Popen([sys.executable, "-m", "usersnap_pipeline.cli", "emulator", "--port", str(port),
                                 "--items", str(items), "--projects", str(projects), "--days", str(days),
                                 "--latency-ms", str(latency_ms), "--seed", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in emulator.stdout:
        if line.startswith("export USERSNAP_PROJECT_IDS"):
            break
    return emulator


def history_window(days: int) -> tuple:
    """The partitions the pipeline imports: ``days`` + 1 days up to today (UTC), as the emulator generated them."""
    today = datetime.now(timezone.utc).date()
    return today - timedelta(days=days + 1), today


def pipeline_command(first, last) -> list[str]:
    """The README's CLI backfill: the whole window in one run."""
    return [str(Path(sys.executable).with_name("dg")), "launch", "--target-path", str(ROOT), "--assets", SELECTION,
            "--partition-range", f"{first.isoformat()}...{last.isoformat()}"]


def pipeline_env(base_env: dict, home: Path, url: str, first, warehouse: str, concurrency: int,
                 dagster_db: str | None) -> dict:
    """The pipeline's environment; with ``dagster_db``, Dagster's storage on dagster-postgres as deployed."""
    if dagster_db is not None:
        shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        instance_env = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USERNAME": "postgres",
                        "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": dagster_db}
    else:  # the embedded default: Dagster's SQLite storage
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        instance_env = {}
    return {**base_env, **instance_env, "DAGSTER_HOME": str(home), "DAGSTER_EVENT_BATCH_SIZE": "1000",
            "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",  # as ./dev sets them
            "USERSNAP_API_URL": url,
            "USERSNAP_JWT_ID": "demo-jwt-id", "USERSNAP_JWT_SECRET": "demo-jwt-secret-for-the-emulator-only",
            "USERSNAP_IMPORT_HISTORY_START": first.isoformat(), "USERSNAP_WAREHOUSE_URL": warehouse,
            "USERSNAP_FETCH_CONCURRENCY": str(concurrency)}


def dump_tables(url: str, folder: Path, parts: int) -> Path:
    """The pipeline's partitioned tables in binary COPY form, the form the pipeline loads them in, each cut
    into ``parts`` files of whole rows (in storage order, each row in one)."""
    folder.mkdir()
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for table in [*PARTITIONED_TABLES, partition_state]:
            columns = ", ".join(f'"{name}"' for name in table.columns.keys())
            for part in range(parts):
                # Streamed, not held: this process's size is what the contenders started after it inherit as
                # their first peak RSS.
                with (folder / f"{table.name}.{part}.copy").open("wb") as sink, cursor.copy(
                        f"COPY (SELECT {columns} FROM (SELECT *, ntile({parts}) OVER (ORDER BY ctid) AS part "
                        f"FROM {table.name}) numbered WHERE part = {part + 1}) "
                        "TO STDOUT (FORMAT BINARY)") as copy:
                    for block in copy:
                        sink.write(block)
    return folder


def empty_run(days: int, projects: int, first, today, concurrency: int, work: Path, base_env: dict,
              databases: list[str]) -> dict:
    """The pipeline's CLI backfill of the same days, Dagster on PostgreSQL, from an emulator serving nothing."""
    port = free_port()
    emulator = start_emulator(0, 0, port, days, projects)
    try:
        home = Path(tempfile.mkdtemp(prefix="home_floor_", dir=work))
        databases += [fresh_database("bench_dagster"), fresh_database("bench_empty")]
        env = pipeline_env(base_env, home, f"http://127.0.0.1:{port}/v0.1", first,
                           f"postgresql://postgres@127.0.0.1:5432/{databases[-1]}", concurrency, databases[-2])
        return run("dagster_floor", pipeline_command(first, today), env, port, work, emulator.pid)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


def measure(case: str, items: int, projects: int, days: int, latency_ms: float, concurrency: int, work: Path,
            contenders=CONTENDERS) -> dict:
    port = free_port()
    emulator = start_emulator(items, latency_ms, port, days, projects)
    results: dict = {"case": case, "items": items, "projects": projects, "days": days, "latency_ms": latency_ms,
                     "concurrency": concurrency}
    databases: list[str] = []
    try:
        url = f"http://127.0.0.1:{port}/v0.1"
        first, today = history_window(days)
        window = ["--url", url, "--start", first.isoformat(), "--end", (today + timedelta(days=1)).isoformat()]
        base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}

        if "raw" in contenders:
            results["raw"] = run("raw", [sys.executable, str(ROOT / "bench" / "raw_crawl.py"), *window], base_env,
                                 port, work, emulator.pid)

        for target in [name.removeprefix("pipeline_") for name in contenders if name.startswith("pipeline_")]:
            home = work / f"home_{target}_{items}_{latency_ms:g}"
            home.mkdir()
            dagster_db = None
            if target == "postgres":
                # As deployed: Dagster's own storage on dagster-postgres (deploy/dagster.yaml), the
                # warehouse in a separate database.
                dagster_db = fresh_database("bench_dagster")
                databases.append(dagster_db)
                databases.append(fresh_database("bench_pipeline"))
                warehouse = f"postgresql://postgres@127.0.0.1:5432/{databases[-1]}"
            else:  # the embedded default: Dagster's SQLite storage, SQLite warehouse
                warehouse = f"sqlite:///{work / f'warehouse_{items}_{latency_ms:g}.sqlite'}"
            env = pipeline_env(base_env, home, url, first, warehouse, concurrency, dagster_db)
            result = run(f"pipeline_{target}", pipeline_command(first, today), env, port, work, emulator.pid)
            result["data_points"] = count_rows(warehouse.replace("postgresql://", "postgresql+psycopg2://"),
                                               "data_points")
            results[f"pipeline_{target}"] = result
            if target == "postgres" and "database_floor" in contenders:
                dump = dump_tables(warehouse, work / f"dump_{items}_{latency_ms:g}", concurrency)
                databases.append(fresh_database("bench_floor"))
                floor_url = f"postgresql://postgres@127.0.0.1:5432/{databases[-1]}"
                Warehouse(floor_url).ensure_schema()
                results["database_floor"] = run(
                    "database_floor", [sys.executable, str(ROOT / "bench" / "database_floor.py"), "--dump", str(dump),
                                       "--postgres", floor_url, "--connections", str(concurrency)],
                    base_env, port, work, emulator.pid)
                shutil.rmtree(dump)

        if "dagster_floor" in contenders:
            results["dagster_floor"] = empty_run(days, projects, first, today, concurrency, work, base_env, databases)

        if "dlt" not in contenders:
            return results
        databases.append(fresh_database("bench_dlt"))
        dlt_url = f"postgresql://postgres:unused@127.0.0.1:5432/{databases[-1]}"
        result = run("dlt", [sys.executable, str(ROOT / "bench" / "peer_dlt.py"), *window, "--postgres", dlt_url],
                     base_env, port, work, emulator.pid)
        result["data_points"] = count_rows(dlt_url.replace("postgresql://", "postgresql+psycopg2://"),
                                           "usersnap.feedback")
        results["dlt"] = result
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        for name in databases:
            drop_database(name)
        for name in contenders:
            if name in results:
                results[name]["items_per_s"] = round(items / results[name]["wall_s"])
                results[name].pop("output", None)
    if "raw" in results:
        results["pages"] = results["raw"]["requests"] - 1  # the crawl's own: one project list, then pages
        # the bound on requests: 1.1 x the pages a sequential crawl needs + 2 x concurrency per project
        results["request_bound"] = int(1.1 * results["pages"] + 2 * concurrency * projects)
    if set(CONTENDERS) <= set(results):
        raw, pg, dlt = results["raw"]["wall_s"], results["pipeline_postgres"]["wall_s"], results["dlt"]["wall_s"]
        results["ratios"] = {"pipeline_pg_vs_raw_wall": round(pg / raw, 2),
                             "dlt_vs_pipeline_pg_wall": round(dlt / pg, 2),
                             "pipeline_pg_vs_raw_items_per_s": round(raw / pg, 2),
                             "pipeline_pg_import_step_vs_raw_wall":
                                 round(results["pipeline_postgres"].get("import_step_s", pg) / raw, 2),
                             # what no import design removes: Dagster's run of nothing, then the database's
                             # load of the same rows (fetching and normalizing taken as free)
                             "floors_vs_raw_wall": round((results["dagster_floor"]["wall_s"]
                                                          + results["database_floor"]["wall_s"]) / raw, 2),
                             # the run beyond Dagster's own run of the same days with nothing to import
                             "pipeline_pg_minus_dagster_floor_wall_s":
                                 round(pg - results["dagster_floor"]["wall_s"], 2),
                             # the pipeline process's CPU beyond Dagster's own (the floor's process): the import's
                             "import_cpu_us_per_item": round((results["pipeline_postgres"]["cpu_s"]["own"]
                                                              - results["dagster_floor"]["cpu_s"]["own"])
                                                             / items * 1e6)}
    return results


def table(rows: list[dict]) -> str:
    lines = ["| case | N | latency | contender | wall s | import step s | items/s | peak RSS MB | API requests "
             "| rows | CPU s: own | emulator | rest (database) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for name in [name for name in CONTENDERS if name in r]:
            e = r[name]
            lines.append(f"| {r['case']} | {r['items']:,} | {r['latency_ms']:g} ms | {name} | {e['wall_s']} | "
                         f"{e.get('import_step_s', '')} | {e['items_per_s']:,} | {e['peak_rss_mb']} | {e['requests']:,} | "
                         f"{e.get('data_points', '')} | {e['cpu_s']['own']} | {e['cpu_s']['emulator']} | "
                         f"{e['cpu_s']['rest']} |")
    lines += ["", "| case | latency | pipeline(PG) / raw wall | import step / raw wall | dlt / pipeline(PG) wall "
              "| pipeline items/s ÷ raw | pipeline requests / bound (pages) | floors / raw wall "
              "| pipeline − Dagster floor, s | import CPU µs/item |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in [r for r in rows if "ratios" in r]:
        q = r["ratios"]
        lines.append(f"| {r['case']} | {r['latency_ms']:g} ms | {q['pipeline_pg_vs_raw_wall']} | "
                     f"{q['pipeline_pg_import_step_vs_raw_wall']} | {q['dlt_vs_pipeline_pg_wall']} | "
                     f"{q['pipeline_pg_vs_raw_items_per_s']} | {r['pipeline_postgres']['requests']:,} / "
                     f"{r['request_bound']:,} ({r['pages']:,}) | {q['floors_vs_raw_wall']} | "
                     f"{q['pipeline_pg_minus_dagster_floor_wall_s']} | {q['import_cpu_us_per_item']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=[*CASES, "custom"], help="one case instead of every run of RUNS")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 100], help="with --case")
    parser.add_argument("--items", type=int, help="with --case custom")
    parser.add_argument("--days", type=int, help="with --case custom")
    parser.add_argument("--projects", type=int, help="with --case custom")
    parser.add_argument("--concurrency", type=int, default=4, help="pipeline fetch concurrency without latency")
    parser.add_argument("--latency-concurrency", type=int, default=32, help="pipeline fetch concurrency with latency")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS),
                        help="a subset for a quick look (the JSON is written only for every run of every contender); "
                             "database_floor loads what pipeline_postgres wrote, so it needs it too")
    args = parser.parse_args()
    if args.case == "custom":
        CASES["custom"] = (args.items, args.projects, args.days)
    runs = [(args.case, latency) for latency in args.latency_ms] if args.case else RUNS
    work = Path(tempfile.mkdtemp(prefix="import-speed-"))
    rows = []
    try:
        for case, latency in runs:
            concurrency = args.latency_concurrency if latency else args.concurrency
            rows.append(measure(case, *CASES[case], latency, concurrency, work, args.contenders))
            print(table(rows[-1:]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"machine": f"{os.cpu_count()} cores", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "runs": rows}
    if set(args.contenders) == set(CONTENDERS) and not args.case:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print("\n" + table(rows))


if __name__ == "__main__":
    main()
