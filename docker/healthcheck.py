"""The container's health check: GET /healthz on this container's gunicorn, as the TLS proxy
in front would send it (the site's Host, X-Forwarded-Proto: https), so ALLOWED_HOSTS and
SECURE_SSL_REDIRECT answer as for a real visitor. Exit 0 on 200, 1 otherwise (with /healthz's
answer naming the part that failed: database or broker).

HEALTHCHECK_URL (default http://127.0.0.1:8000/healthz) is where gunicorn listens.
"""

from __future__ import annotations

import http.client
import os
import sys
from urllib.parse import urlsplit


def main() -> int:
    target = urlsplit(os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz"))
    site = urlsplit(os.environ.get("SITE_URL", "http://127.0.0.1:8000"))
    connection = http.client.HTTPConnection(
        target.hostname or "127.0.0.1", target.port or 80, timeout=8
    )
    try:
        connection.request(
            "GET",
            target.path or "/healthz",
            headers={
                "Host": site.netloc or "127.0.0.1",
                "X-Forwarded-Proto": site.scheme or "http",
            },
        )
        response = connection.getresponse()
        body = response.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        print(f"healthz unreachable: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    print(f"healthz {response.status}: {body}")
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
