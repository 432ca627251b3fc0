"""Peer: dlt's rest_api source, configured as a dlt user would for Usersnap: a bearer JWT minted per
request, a cursor paginator on data.next.after that stops on data.has_more, merge on feedback_id,
nested lists (ordered_inputs, labels) into child tables, loaded into PostgreSQL.

    python bench/peer_dlt.py --url URL --start 2026-05-01 --end 2026-11-24 --postgres postgresql://...
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import dlt
import jwt
import requests
from dlt.common.configuration import configspec
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
from dlt.sources.rest_api import rest_api_source

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET


@configspec
class UsersnapJWT(AuthConfigBase):
    """dlt has no JWT-minting auth: a user writes this, signing a fresh token per request."""

    def __call__(self, request):
        now = int(time.time())
        request.headers["Authorization"] = "Bearer " + jwt.encode(
            {"iat": now, "exp": now + 600}, DEFAULT_JWT_SECRET, algorithm="HS256", headers={"kid": DEFAULT_JWT_ID})
        return request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--postgres", required=True)
    args = parser.parse_args()
    os.environ.setdefault("DLT_DATA_DIR", tempfile.mkdtemp(prefix="dlt-"))
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    projects = requests.get(f"{args.url}/projects", auth=UsersnapJWT(), timeout=60).json()["data"]["projects"]
    body = {"order_by": {"order_by_type": "created_at", "direction": "asc"},
            "query": [{"filter_type": "created_at", "operator": "gte", "value": f"{args.start}T00:00:00Z"},
                      {"filter_type": "created_at", "operator": "lt", "value": f"{args.end}T00:00:00Z"}]}
    source = rest_api_source({
        "client": {
            "base_url": args.url + "/",
            "auth": UsersnapJWT(),
            "paginator": JSONResponseCursorPaginator(cursor_path="data.next.after", cursor_param="after",
                                                     has_more_path="data.has_more"),
        },
        "resource_defaults": {"primary_key": "feedback_id", "write_disposition": "merge"},
        "resources": [{
            "name": f"feedback_{index}",
            "table_name": "feedback",
            "endpoint": {"path": f"projects/{project['project_id']}/feedbacks/filter", "method": "POST",
                         "json": body, "params": {"limit": 100}, "data_selector": "data.feedbacks"},
        } for index, project in enumerate(projects)],
    })
    pipeline = dlt.pipeline(pipeline_name="usersnap_peer", destination=dlt.destinations.postgres(args.postgres),
                            dataset_name="usersnap")
    info = pipeline.run(source)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    print(json.dumps({"items": counts.get("feedback", 0), "rows": dict(counts), "failed": info.has_failed_jobs}))


if __name__ == "__main__":
    main()
