"""Wait until the database accepts connections, for at most DB_WAIT_TIMEOUT seconds (60).

compose's `depends_on: condition: service_healthy` covers a fresh start; this also covers a
database restarted or still recovering while the app starts, and runs the same natively.
Exits 1 with the last error after the timeout.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digest.settings")


def wait_for_database(*, timeout: float, every: float = 1.0) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.db.utils import OperationalError

    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            connection.ensure_connection()
        except OperationalError as exc:
            if time.monotonic() >= deadline:
                sys.exit(f"database unreachable after {timeout:.0f}s: {exc}")
            if attempt == 1 or attempt % 10 == 0:
                print(f"waiting for the database: {exc}".strip(), file=sys.stderr, flush=True)
            time.sleep(every)
        else:
            connection.close()
            print(f"database is up ({connection.vendor})", file=sys.stderr, flush=True)
            return


if __name__ == "__main__":
    wait_for_database(timeout=float(os.environ.get("DB_WAIT_TIMEOUT", "60")))
