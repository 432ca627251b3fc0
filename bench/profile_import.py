"""Where the import's time goes. py-spy samples the README's CLI backfill, run exactly as
bench/import_speed.py runs it (emulator process, Dagster on dagster-postgres, PostgreSQL warehouse),
with --gil: each sample is a thread holding the interpreter, so the counts are the process's Python
CPU time by function, over all threads (waits on sockets and the database are not in them).

    .venv/bin/python bench/profile_import.py --case dense

Writes bench/results/profile_import_<case>.txt: wall time, then the top functions, inclusive and self.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from import_speed import (
    CASES,
    drop_database,
    free_port,
    fresh_database,
    history_window,
    pipeline_command,
    pipeline_env,
    start_emulator,
)

RATE = 100  # samples per second
RESULTS = Path(__file__).parent / "results"
FRAME = re.compile(r"(?P<function>.*?) \((?P<file>.*?)(?::\d+)?\)$")
# Frames every sample passes through (thread start-up, the CLI's wrappers): they say nothing.
PLUMBING = ("threading.py", "concurrent/futures/", "click/", "<frozen runpy>", "dagster/_cli/",
            "dagster/_core/decorator_utils.py", "dagster/_core/telemetry.py")


def summarize(raw_path: Path, top: int) -> str:
    """py-spy's raw (collapsed) stacks as seconds per function: inclusive and self."""
    inclusive, own, total = Counter(), Counter(), 0
    for line in raw_path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        names = []
        for frame in stack.split(";")[1:]:  # the first frame is the thread
            match = FRAME.match(frame)
            source = match["file"].split("site-packages/")[-1].split(str(Path.cwd()) + "/")[-1] if match else ""
            names.append(f"{match['function']} ({source})" if match else frame)
        for name in set(names):
            if not any(part in name for part in PLUMBING):
                inclusive[name] += samples
        if names:
            own[names[-1]] += samples
    lines = [f"{total / RATE:.1f} s of Python CPU sampled (all threads)", "", "inclusive:"]
    lines += [f"{n / RATE:7.1f} s  {n / total:5.1%}  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{n / RATE:7.1f} s  {n / total:5.1%}  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, default="dense")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    work = Path(tempfile.mkdtemp(prefix="profile-import-"))
    port = free_port()
    items, projects, days = CASES[args.case]
    emulator = start_emulator(items, 0, port, days, projects)
    databases = [fresh_database("profile_dagster"), fresh_database("profile_pipeline")]
    try:
        first, last = history_window(days)
        env = pipeline_env({**os.environ, "PYTHONUNBUFFERED": "1"}, work, f"http://127.0.0.1:{port}/v0.1", first,
                           f"postgresql://postgres@127.0.0.1:5432/{databases[1]}", args.concurrency, databases[0])
        raw = work / "stacks.txt"
        started = time.perf_counter()
        with open(work / "run.log", "w") as log:
            subprocess.run([spy, "record", "--gil", "-r", str(RATE), "-f", "raw", "-o", str(raw), "--",
                            *pipeline_command(first, last)], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        wall = time.perf_counter() - started
        report = f"{args.case}: {items} items, {projects} projects, {days} days, concurrency {args.concurrency}: {wall:.1f} s under py-spy\n\n" + \
            summarize(raw, args.top) + "\n"
        out = RESULTS / f"profile_import_{args.case}.txt"
        out.write_text(report)
        print(report)
        print(f"written to {out}")
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        for name in databases:
            drop_database(name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
