"""``usersnap-pipeline``: the emulator, the demo and (later) the report, from one command."""

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
