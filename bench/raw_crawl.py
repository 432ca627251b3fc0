"""Baseline: the floor for a sequential client. A plain requests loop pages through every project's
items over the window (filter endpoint, created_at ascending, limit 100) and discards them.

    python bench/raw_crawl.py --url URL --start 2026-05-01 --end 2026-11-24
"""

from __future__ import annotations

import argparse
import json
import time

import jwt
import requests

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET


def token() -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 600}, DEFAULT_JWT_SECRET, algorithm="HS256",
                      headers={"kid": DEFAULT_JWT_ID})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    args = parser.parse_args()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token()}"
    body = {"order_by": {"order_by_type": "created_at", "direction": "asc"},
            "query": [{"filter_type": "created_at", "operator": "gte", "value": f"{args.start}T00:00:00Z"},
                      {"filter_type": "created_at", "operator": "lt", "value": f"{args.end}T00:00:00Z"}]}
    items = calls = 0
    projects = session.get(f"{args.url}/projects", timeout=60).json()["data"]["projects"]
    calls += 1
    for project in projects:
        after = None
        while True:
            params = {"limit": 100, **({"after": after} if after else {})}
            data = session.post(f"{args.url}/projects/{project['project_id']}/feedbacks/filter", params=params,
                                json=body, timeout=60).json()["data"]
            calls += 1
            items += len(data["feedbacks"])
            if not data["has_more"]:
                break
            after = data["feedbacks"][-1]["feedback_id"]
    print(json.dumps({"items": items, "requests": calls}))


if __name__ == "__main__":
    main()
