"""Writes each subgraph's SDL to gateway/subgraphs/<service>.graphql (committed, composed by
gateway/compose.mjs).

    .venv/bin/python infra/export_sdl.py           write the files
    .venv/bin/python infra/export_sdl.py --check   write nothing; exit 1 listing stale files
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("customers", "points", "referrals", "reviews", "notifications")
OUT_DIR = ROOT / "gateway" / "subgraphs"


def sdl(service: str) -> str:
    from strawberry.printer import print_schema

    module = importlib.import_module(f"services.{service}.schema")
    return print_schema(module.schema).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file is stale")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `services` must import

    stale = []
    for service in SERVICES:
        path = OUT_DIR / f"{service}.graphql"
        text = sdl(service)
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if args.check and stale:
        print("stale subgraph SDL (run `make compose`):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    if not stale:
        print("subgraph SDL is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
