"""A floor for any importer writing the pipeline's tables: PostgreSQL's own work for the rows alone.

Loads the rows the pipeline wrote (dumped by bench/import_speed.py in binary COPY form, the pipeline's own,
a file per table and part) into empty tables of the same schema, one COPY per file, ``--connections``
connections at once (the pipeline's fetch concurrency), each its own transaction. No fetching, no parsing,
no Python per row: what is left is the database's reading of the values, index maintenance and WAL for the
same rows.

    python bench/database_floor.py --dump DIR --postgres postgresql://postgres@127.0.0.1:5432/db --connections 4
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg


def load(url: str, files: list[Path]) -> int:
    """COPY each file into the table its name says (``<table>.<part>.copy``), in one transaction."""
    rows = 0
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for path in files:
            table = path.name.split(".")[0]
            with path.open("rb") as data, cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
                while block := data.read(1 << 20):
                    copy.write(block)
            rows += cursor.rowcount
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dump", type=Path, required=True)
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    files = sorted(args.dump.glob("*.copy"))
    parts = [files[i::args.connections] for i in range(args.connections)]
    with ThreadPoolExecutor(args.connections) as pool:
        rows = sum(pool.map(lambda part: load(args.postgres, part), parts))
    print(f"{rows} rows loaded from {len(files)} files over {args.connections} connections")


if __name__ == "__main__":
    main()
