"""The process commands of docker/compose.yaml, shared with the native end-to-end test.

`test_compose.py` checks that compose runs exactly these; `test_end_to_end.py` runs them here,
changing only what differs outside a container (the listen address, the beat state file).
`${NAME:-default}` is compose's interpolation, resolved from the `.env` file given to
`docker compose --env-file` (docs/operations.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# gunicorn also reads WEB_CONCURRENCY itself; naming it keeps the command self-explanatory.
WEB = (
    "gunicorn",
    "digest.wsgi",
    "--bind",
    "0.0.0.0:8000",
    "--workers",
    "${WEB_CONCURRENCY:-2}",
    "--access-logfile",
    "-",
)
# With no -Q the worker consumes every queue the settings declare (CELERY_TASK_QUEUES).
WORKER = (
    "celery",
    "-A",
    "digest",
    "worker",
    "--concurrency",
    "${WORKER_CONCURRENCY:-2}",
    "--loglevel",
    "INFO",
)
# Exactly one beat; its state file is on a volume so a restart catches up a missed run.
BEAT = (
    "celery",
    "-A",
    "digest",
    "beat",
    "--schedule",
    "/app/var/beat/celerybeat-schedule",
    "--loglevel",
    "INFO",
)
COMMANDS = {"web": WEB, "worker": WORKER, "beat": BEAT}

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}")


def interpolate(argument: str, env: Mapping[str, str]) -> str:
    """`${NAME:-default}` as compose resolves it: the value when set and non-empty, else the
    default."""
    return _VARIABLE.sub(lambda m: env.get(m["name"]) or (m["default"] or ""), argument)


def native(
    command: Sequence[str], *, env: Mapping[str, str], options: Mapping[str, str] | None = None
) -> list[str]:
    """`command` with compose's variables resolved and the values of `options` replaced
    (e.g. {"--bind": "127.0.0.1:8123"}); an option the command lacks is an error."""
    resolved = [interpolate(argument, env) for argument in command]
    for option, value in (options or {}).items():
        resolved[resolved.index(option) + 1] = value
    return resolved
