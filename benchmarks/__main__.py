"""``python -m benchmarks`` (``make bench``): every benchmark, each in its own process.

Options: ``--quick`` (fewer purchases, a 20 s sync window, 10 dashboard loads instead of 30,
50 live sessions and one round instead of 200 and three), ``--postgres URL`` (also run the
purchase benchmark on a fresh database of that PostgreSQL server; default: the local server
at 127.0.0.1:5432 when it answers).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from benchmarks.common import machine

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_reachable(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=2):
            return True
    except Exception:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", default=DEFAULT_PG)
    args = parser.parse_args()
    purchases = ["--purchases", "50" if args.quick else "200"]
    runs: list[list[str]] = [["benchmarks.purchase", *purchases]]
    if _pg_reachable(args.postgres):
        runs.append(["benchmarks.purchase", *purchases, "--postgres", args.postgres])
    else:
        print(f"(PostgreSQL at {args.postgres} not reachable: SQLite only)")
    runs.append(["benchmarks.rate_limits", "--hits", "30" if args.quick else "100"])
    runs.append(["benchmarks.sync", "--window", "20" if args.quick else "60"])
    runs.append(["benchmarks.dashboard", "--runs", "10" if args.quick else "30"])
    live = ["--sessions", "50", "--rounds", "1", "--idle", "5"] if args.quick else []
    runs.append(["benchmarks.live_sessions", *live])
    print(f"TravelSIM benchmarks on {machine()}\n")
    failed = 0
    for run in runs:
        done = subprocess.run([sys.executable, "-m", *run], check=False)
        failed += done.returncode != 0
        print()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
