"""Set up Django for a benchmark on a throwaway database (or DATABASE_URL if given), with
production settings: DEBUG off, as on a server (DEBUG logs every query, which costs a sending
worker a sixth of its time)."""

from __future__ import annotations

import os
import resource
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="digest-bench-"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-throwaway-key")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the database cache (locks), without Redis


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A free TCP port on the loopback interface, for a local server of the benchmark's own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample_digest_message(day: Any) -> Any:
    """A real digest's message for the first subscriber on `day` (after setup()): what a send
    benchmark measures its sink or stand-in with."""
    from digest.composing.build import DayBuilder, digest_message
    from subscriptions.models import Subscriber

    sample = Subscriber.objects.first()
    assert sample is not None
    builder = DayBuilder(day)
    email = builder.render(builder.select(sample), delivery_id=1)
    return digest_message(subscriber=sample, email=email, delivery_id=1, day=day)
