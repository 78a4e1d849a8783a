"""Command line: ``python -m travelsim.sft_simulator serve|control ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .config import SimulatorConfig

    overrides: dict[str, Any] = {}
    if args.db is not None:
        overrides["db_path"] = Path(args.db)
    if args.seed is not None:
        overrides["seed_esims"] = args.seed
    if args.rate_limit_tps is not None:
        overrides["rate_limit_tps"] = args.rate_limit_tps
    if args.rating_delay is not None:
        overrides["rating_delay_seconds"] = args.rating_delay
    config = SimulatorConfig(**overrides)
    app = create_app(config)
    print(
        f"SFT simulator on http://{args.host}:{args.port} (db {config.db_path}, "
        f"{config.rate_limit_tps:g} TPS)",
        file=sys.stderr,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _control(args: argparse.Namespace) -> int:
    method, path, body = "GET", "", None
    cmd = args.cmd
    if cmd == "consume":
        method, path = "POST", "consume"
        body = {"bytes": args.bytes}
        if args.endpoint:
            body["endPointId"] = args.endpoint
        if args.iccid:
            body["iccid"] = args.iccid
        if args.date:
            body["date"] = args.date
    elif cmd == "profile-status":
        method, path = "POST", "profile-status"
        body = {"status": args.status}
        if args.iccid:
            body["iccid"] = args.iccid
        if args.endpoint:
            body["endPointId"] = args.endpoint
    elif cmd == "advance-clock":
        method, path, body = "POST", "clock/advance", {"seconds": args.seconds}
    elif cmd == "clock":
        path = "clock"
    elif cmd == "reset":
        method, path = "POST", "reset"
        body = {} if args.esims is None else {"esims": args.esims}
    elif cmd == "fault":
        method, path = "POST", "faults"
        body = {"operation": args.operation, "kind": args.kind}
        if args.probability is not None:
            body["probability"] = args.probability
        if args.count is not None:
            body["count"] = args.count
        if args.latency is not None:
            body["latency_seconds"] = args.latency
    elif cmd == "clear-faults":
        method, path = "DELETE", "faults"
    elif cmd == "faults":
        path = "faults"
    elif cmd == "settings":
        body = {}
        if args.expiry_shape:
            body["expiry_shape"] = args.expiry_shape
        if args.rate_limit_tps is not None:
            body["rate_limit_tps"] = args.rate_limit_tps
        if args.rating_delay is not None:
            body["rating_delay_seconds"] = args.rating_delay
        method, path = ("POST" if body else "GET"), "settings"
    elif cmd == "expire-tokens":
        method, path = "POST", "tokens/expire"
    elif cmd == "state":
        path = "state"
    elif cmd == "calls":
        path = f"calls?limit={args.limit}"
    url = args.url.rstrip("/") + "/_sim/" + path
    try:
        resp = httpx.request(method, url, json=body, timeout=30)
    except httpx.HTTPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(resp.json(), indent=2))
    except ValueError:
        print(resp.text)
    return 0 if resp.is_success else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m travelsim.sft_simulator")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the simulator with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8040)
    serve.add_argument("--db", help="SQLite file (default SFT_SIM_DB_PATH or .data/...)")
    serve.add_argument("--seed", type=int, help="eSIMs to seed into an empty DB")
    serve.add_argument("--rate-limit-tps", type=float)
    serve.add_argument("--rating-delay", type=float, help="rating delay in seconds")
    serve.add_argument("--log-level", default="warning")
    serve.set_defaults(func=_serve)

    control = sub.add_parser("control", help="drive a running simulator's /_sim/ controls")
    control.add_argument("--url", default="http://127.0.0.1:8040")
    csub = control.add_subparsers(dest="cmd", required=True)
    c = csub.add_parser("consume")
    c.add_argument("--endpoint", help="endPointId (or give --iccid)")
    c.add_argument("--iccid", help="ICCID of a linked SIM (instead of --endpoint)")
    c.add_argument("--bytes", type=int, required=True)
    c.add_argument("--date", help="YYYYMMDD statistics day")
    c = csub.add_parser("profile-status")
    c.add_argument("--iccid")
    c.add_argument("--endpoint")
    c.add_argument("--status", required=True)
    c = csub.add_parser("advance-clock")
    c.add_argument("--seconds", type=float, required=True)
    csub.add_parser("clock")
    c = csub.add_parser("reset")
    c.add_argument("--esims", type=int)
    c = csub.add_parser("fault")
    c.add_argument("--operation", default="*")
    c.add_argument("--kind", required=True)
    c.add_argument("--probability", type=float)
    c.add_argument("--count", type=int)
    c.add_argument("--latency", type=float, help="latency_seconds")
    csub.add_parser("clear-faults")
    csub.add_parser("faults")
    c = csub.add_parser("settings")
    c.add_argument("--expiry-shape", choices=["http401", "http200"])
    c.add_argument("--rate-limit-tps", type=float)
    c.add_argument("--rating-delay", type=float)
    csub.add_parser("expire-tokens")
    csub.add_parser("state")
    c = csub.add_parser("calls")
    c.add_argument("--limit", type=int, default=50)
    control.set_defaults(func=_control)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
