#!/bin/sh
# Entrypoint of every role (compose.yaml: web, worker, beat). Runs Django's system checks (a
# copied .env.example's placeholders, mail to the staging catcher, a missing key: the role
# refuses to start and says why), waits for the database, then, for the web role only
# (MIGRATE_ON_START=1), applies migrations (the cache table included), then
# execs the command so that it is PID 1 and gets `docker stop`'s SIGTERM (a clean shutdown:
# gunicorn finishes its requests, a Celery worker its running batch).
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
app="$(dirname "$here")"

python "$app/manage.py" check --fail-level ERROR
python "$here/wait_for_db.py"
if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
    # One web container migrates; scale web only after it is up (docs/operations.md).
    python "$app/manage.py" migrate --noinput
fi
exec "$@"
