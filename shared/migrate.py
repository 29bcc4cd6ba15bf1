"""`python -m shared.migrate SERVICE [SERVICE...]`: apply the pending migrations of each service to
its database and exit (non-zero on failure).

The Kubernetes migration Jobs (infra/k8s) run it before a new version's pods roll out, so a slow
migration never holds a pod's start-up past its probes. The services still migrate at start as
well: once the Job is done that is a no-op, and shared/db.py's advisory lock keeps concurrent runs
(several pods, or a pod and the Job) from applying a file twice.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from shared.db import SHARED_MIGRATIONS, migrate
from shared.settings import SERVICES, Settings

SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"


async def migrate_service(name: str) -> list[str]:
    return await migrate(Settings.from_env(name).dsn(), [("shared", SHARED_MIGRATIONS),
                                                         (name, SERVICES_DIR / name / "migrations")])


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s migrate %(levelname)s: %(message)s")
    unknown = [name for name in argv if name not in SERVICES]
    if not argv or unknown:
        print(f"usage: python -m shared.migrate SERVICE...  (one of {', '.join(SERVICES)})", file=sys.stderr)
        return 2
    for name in argv:
        applied = asyncio.run(migrate_service(name))
        print(f"{name}: {len(applied)} migration(s) applied" + (f": {', '.join(applied)}" if applied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
