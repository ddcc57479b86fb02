"""django-newsletter's sending rate on the same SMTP sink, for comparison with bench/send.py.

The send target is "at least 3 times django-newsletter's rate on the same sink and message size".
django-newsletter is no dependency of ours (it brings its own app, models and a thumbnailer), so
this file runs in two roles:

- as a script, under a throwaway venv's Python: a minimal in-process Django project on SQLite in
  a temp dir; N confirmed subscriptions, one Message whose single HTML article is padded so a sent
  message is about --size bytes, one prepared Submission; then the library's own send path, the
  `submit_newsletter` management command (Submission.submit_queue -> submit -> send_message:
  each recipient rendered from scratch, each message sent with EmailMessage.send(), i.e. a new
  SMTP connection per message). Only that command is timed; setup is not, as in send.py.
  Prints one JSON line: {"sent", "seconds", "rate", "message_bytes", ...}.
- as a module, from our venv: newsletter_rate(python, port, count, size) runs the script.

Throwaway venv (django-newsletter 1.2.1 supports Django 4.2 and 5.2, this installs 5.2; its models
import a thumbnailer, sorl-thumbnail by default, which it does not install itself):
    python3 -m venv /tmp/newsletter-venv
    /tmp/newsletter-venv/bin/pip install django-newsletter sorl-thumbnail
Usage (with an SMTP sink already on PORT):
    /tmp/newsletter-venv/bin/python bench/support/newsletter.py --port PORT --count N --size BYTES
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import types
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

UNIT = (  # one digest-like paper entry; short lines keep the body 8bit, as our digests are
    '<p><a href="https://example.org/abs/2611.{n:05d}">Scaling self-supervised video '
    "transformers for dense retrieval</a><br>\nA. Author, B. Author, C. Author<br>\n"
    "We study how retrieval quality changes as video transformers are pre-trained on more "
    "data,\nand find a simple recipe that matches larger models at a fraction of the cost.</p>\n"
)


def _configure(port: int, tmp: str) -> None:
    import django
    from django.conf import settings
    from django.urls import include, path

    urls = types.ModuleType("newsletter_bench_urls")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        USE_TZ=True,
        SITE_ID=1,
        ROOT_URLCONF=urls.__name__,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{tmp}/db"}},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sites",
            "sorl.thumbnail",
            "newsletter",
        ],
        TEMPLATES=[
            {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
        ],
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        MEDIA_ROOT=tmp,
        NEWSLETTER_THUMBNAIL="sorl-thumbnail",  # the default; needed by its models and migrations
        NEWSLETTER_USE_HTTPS=True,  # the default, set to silence its warning
    )
    django.setup()
    urls.urlpatterns = [path("newsletter/", include("newsletter.urls"))]  # type: ignore[attr-defined]
    sys.modules[urls.__name__] = urls


def run(port: int, count: int, size: int) -> dict[str, Any]:
    """Set up and send; runs under the throwaway venv only."""
    tmp = tempfile.mkdtemp(prefix="newsletter-bench-")
    _configure(port, tmp)
    import django
    from django.contrib.sites.models import Site
    from django.core.management import call_command
    from django.utils import timezone
    from newsletter.models import Article, Message, Newsletter, Submission, Subscription

    call_command("migrate", verbosity=0)
    now = timezone.now()
    newsletter = Newsletter.objects.create(
        title="Paper digest", slug="digest", email="digest@localhost", sender="Paper digest"
    )
    newsletter.site.set([Site.objects.get_current()])
    Subscription.objects.bulk_create(
        (
            Subscription(
                newsletter=newsletter,
                email_field=f"reader{n:06d}@example.org",
                name_field=f"Reader {n}",
                subscribed=True,
                subscribe_date=now,
            )
            for n in range(count)
        ),
        batch_size=2000,
    )
    message = Message.objects.create(title="Papers of the day", slug="day", newsletter=newsletter)
    article = Article.objects.create(post=message, title="Today's papers", text="")
    submission, sample = Submission.from_message(message), Subscription.objects.first()

    def sent_bytes(units: int) -> int:
        article.text = "".join(UNIT.format(n=n) for n in range(units))
        article.save()
        raw = submission.get_message(sample).message().as_bytes(linesep="\r\n")
        return len(raw)

    # Size the article: bytes per unit (it lands in the HTML part and, tags stripped, the text).
    base = sent_bytes(0)
    per_unit = sent_bytes(10) / 10 - base / 10
    message_bytes = sent_bytes(max(0, round((size - base) / per_unit)))

    submission.prepared = True
    submission.publish_date = now - timedelta(minutes=1)
    submission.save()

    failures: list[logging.LogRecord] = []  # send_message logs a failed send and goes on

    class Failures(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failures.append(record)

    logging.getLogger("newsletter").addHandler(Failures(logging.ERROR))

    started = time.perf_counter()
    call_command("submit_newsletter", verbosity=0)  # the library's own send path, cron-style
    seconds = time.perf_counter() - started

    submission.refresh_from_db()
    sent = count - len(failures) if submission.sent else 0
    return {
        "sent": sent,
        "seconds": round(seconds, 3),
        "rate": round(sent / seconds, 1),
        "message_bytes": message_bytes,
        "django": django.get_version(),
        "django_newsletter": version("django-newsletter"),
        "failures": [r.getMessage() for r in failures[:3]],
    }


def newsletter_rate(python: str, port: int, count: int, size: int) -> dict[str, Any] | None:
    """Run this file under `python` (a venv with django-newsletter) against the sink on `port`.

    Returns the script's JSON, or None (with the reason printed) if it cannot be measured.
    """
    if not Path(python).exists():
        print(f"django-newsletter: no interpreter at {python}; not measured (see {__file__})")
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    args = [python, __file__, "--port", str(port), "--count", str(count), "--size", str(size)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    except subprocess.TimeoutExpired:
        print("django-newsletter: run timed out after 1800 s; not measured")
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        print(f"django-newsletter: run failed (exit {done.returncode}); not measured:\n{tail}")
        return None
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError:
        print(f"django-newsletter: unexpected output, not measured: {lines[-1][:200]!r}")
        return None
    if result.get("sent") != count:
        print(f"django-newsletter: sent {result.get('sent')} of {count}: {result.get('failures')}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=27_000, help="target bytes of one message")
    args = parser.parse_args()
    print(json.dumps(run(args.port, args.count, args.size)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
