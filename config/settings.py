"""Settings, read from the environment in this one place.

Every setting has an embedded default that works on a laptop (SQLite under var/, tasks run
in-process, emails written to var/outbox/); environment variables alone switch to real services.
https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the laptop setup writes (SQLite file, outbox, screenshots) lives under var/.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

# --- Core --------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
# Old keys still accepted for signatures while links signed with them are in the wild.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env.str("SITE_NAME", default="Paper Digest")
_site_host = urlsplit(SITE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
if _site_host not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_site_host)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if SITE_URL.startswith("https://") and SITE_URL not in CSRF_TRUSTED_ORIGINS:
    CSRF_TRUSTED_ORIGINS.append(f"https://{urlsplit(SITE_URL).netloc}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "anymail",
    "csp",
    "digest",
    "subscriptions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "digest.web.csp.SiteCSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        # Web pages: Django templates under templates/web/.
        # Emails use Jinja2 (digest/emails/render.py).
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "digest.web.context_processors.site",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'digest.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL and a busy timeout let the dev server read while the daily job writes.
    # IMMEDIATE transactions take the write lock up front, so two processes claiming rows
    # serialise instead of failing with "database is locked" halfway through. With WAL,
    # synchronous=NORMAL syncs at checkpoints rather than on every commit: still crash-safe
    # (a power cut may lose the last commits, never corrupt), and a send marks two rows a message.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits share it) --------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # The database cache is shared by every process on the machine, so rate limits still hold.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }
RATELIMIT_USE_CACHE = "default"
# How many reverse proxies in front append to X-Forwarded-For (the compose deployment has one TLS
# proxy): rate limits and consent records then use the client's address, not the proxy's.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
RATELIMIT_IP_META_KEY = "subscriptions.web.client_ip.client_ip"

# --- Auth, i18n, static ------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "digest" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production hardening when DEBUG is off) ------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp, digest/web/csp.py): only the site's own scripts, styles and
# images, no inline script or style; the admin and the "view in browser" page add the papers'
# thumbnails (and that page the email's inlined CSS). The browser tests fail on any violation.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],  # the signup form's live preview
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
}
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] if not REDIS_URL else []

# --- Email -------------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/email/ and https://anymail.dev/
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="digest.delivery.mail_backends.OutboxEmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "outbox"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# Domain for Message-ID, List-Id and the sender; a laptop's 127.0.0.1 becomes "localhost".
MAIL_DOMAIN = env.str(
    "MAIL_DOMAIN", default="localhost" if _site_host in {"127.0.0.1", "::1"} else _site_host
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"Paper Digest <digest@{MAIL_DOMAIN}>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ADMINS = [("Operators", a) for a in env.list("ADMINS", default=[])]
# Postmark sends bulk mail (digests) only on a broadcast message stream: its id there.
POSTMARK_MESSAGE_STREAM = env.str("POSTMARK_MESSAGE_STREAM", default="broadcast")
# A mailto: unsubscribe is advertised only where inbound mail is wired to it.
UNSUBSCRIBE_MAILTO = env.str("UNSUBSCRIBE_MAILTO", default="")

ANYMAIL = {
    # Any ANYMAIL_* variable becomes a key here (ANYMAIL_WEBHOOK_SECRET -> WEBHOOK_SECRET, ...).
    key.removeprefix("ANYMAIL_"): value
    for key, value in env.ENVIRON.items()
    if key.startswith("ANYMAIL_")
}
# The provider whose tracking webhook /anymail/<esp>/tracking/ is served (the only one: any other
# provider's URL is a 404): by default the one of an anymail EMAIL_BACKEND
# ("anymail.backends.postmark.EmailBackend" -> "postmark"); set it when sending through the
# provider's SMTP relay instead. Empty: no webhook. digest/web/webhooks.py
WEBHOOK_ESP = env.str(
    "WEBHOOK_ESP",
    default=EMAIL_BACKEND.split(".")[2] if EMAIL_BACKEND.startswith("anymail.backends.") else "",
)

# --- Celery ------------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# No broker: tasks run in-process, so the laptop needs no Redis.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis redelivers unacknowledged messages after the visibility timeout; task time limits stay
# below it so a running task is never handed to a second worker.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=1800)
# The soft limit leaves the task a moment to stop cleanly (a tenth of the limit, at most 60 s).
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - min(60, max(1, CELERY_TASK_TIME_LIMIT // 10))
if CELERY_TASK_TIME_LIMIT >= CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT must stay below CELERY_VISIBILITY_TIMEOUT, or Redis hands a "
        "running task to a second worker."
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker outage of any length (docs/operations.md, "Broker outages"): the worker keeps trying to
# reconnect, every 30 s at most, instead of giving up after celery's default 100 attempts (about
# 47 minutes), and a batch being sent carries on: its rows are claimed in PostgreSQL, not Redis.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Sending has its own queue, so one dedicated worker can hold the provider's global rate while
# other work (fetch, planning) never waits behind a day's batches. With no -Q option a worker
# consumes every queue listed here, so `celery -A digest worker` alone runs everything.
# https://docs.celeryq.dev/en/stable/userguide/routing.html
CELERY_TASK_DEFAULT_QUEUE = "celery"
SEND_QUEUE = env.str("SEND_QUEUE", default="digest.send")
CELERY_TASK_QUEUES = [
    Queue(CELERY_TASK_DEFAULT_QUEUE, routing_key=CELERY_TASK_DEFAULT_QUEUE),
    Queue(SEND_QUEUE, routing_key=SEND_QUEUE),
]
CELERY_TASK_ROUTES = {"digest.send_batch": {"queue": SEND_QUEUE, "routing_key": SEND_QUEUE}}

# --- Delivery (docs/delivery.md) ---------------------------------------------------------------
# Global sending rate across every worker, messages per second (0: unlimited). Shared through
# Redis when REDIS_URL is set, else per process.
SEND_RATE_PER_SECOND = env.float("SEND_RATE_PER_SECOND", default=0.0)
# Messages in flight per worker process through a provider's HTTP API (anymail): that many
# sending threads wait on the provider at once, each row claimed before its request starts.
# It bounds the rows a killed process leaves `sending` (then `unknown`). SMTP sends one at a time.
SEND_CONCURRENCY = env.int("SEND_CONCURRENCY", default=24)
if SEND_CONCURRENCY < 1:
    raise ImproperlyConfigured("SEND_CONCURRENCY must be at least 1.")
# A row is claimed at most this many times; a transient error on the last attempt marks it failed.
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=5)
# Retry backoff: base * 2**retry seconds with full jitter, capped, never past the visibility
# timeout (a longer countdown makes Redis redeliver the message while a worker still holds it).
DELIVERY_RETRY_BACKOFF = env.int("DELIVERY_RETRY_BACKOFF", default=30)
DELIVERY_RETRY_BACKOFF_MAX = min(
    env.int("DELIVERY_RETRY_BACKOFF_MAX", default=900), CELERY_VISIBILITY_TIMEOUT - 60
)
# This many transient errors in a row stop a batch: the provider is down, not one message bad.
DELIVERY_STOP_AFTER_TRANSIENT = env.int("DELIVERY_STOP_AFTER_TRANSIENT", default=3)
# A row still `queued` this long after it was enqueued is enqueued again by the planner.
DELIVERY_REQUEUE_AFTER = env.int("DELIVERY_REQUEUE_AFTER", default=600)

# --- The daily job -----------------------------------------------------------------------------
HF_PAPERS_URL = env.str("HF_PAPERS_URL", default="https://huggingface.co/api/daily_papers")
ARXIV_API_URL = env.str("ARXIV_API_URL", default="http://export.arxiv.org/api/query")
# One paper by its arXiv id ("{arxiv_id}" is replaced): how followed papers are refreshed.
HF_PAPER_API_URL = env.str(
    "HF_PAPER_API_URL", default="https://huggingface.co/api/papers/{arxiv_id}"
)
if "{arxiv_id}" not in HF_PAPER_API_URL:
    raise ImproperlyConfigured("HF_PAPER_API_URL must contain {arxiv_id}.")
ARXIV_CATEGORIES = env.list("ARXIV_CATEGORIES", default=["cs.LG", "cs.CL", "cs.CV", "cs.AI"])
ARXIV_REQUEST_INTERVAL = env.float("ARXIV_REQUEST_INTERVAL", default=3.0)
HTTP_TIMEOUT = env.float("HTTP_TIMEOUT", default=20.0)
HTTP_RETRIES = env.int("HTTP_RETRIES", default=4)
HTTP_BACKOFF = env.float("HTTP_BACKOFF", default=1.0)
FETCH_HOUR_UTC = env.int("FETCH_HOUR_UTC", default=6)
# Hours (UTC, crontab syntax) at which recent Hugging Face lists are re-read for fresh upvotes.
TRENDING_REFRESH_HOURS_UTC = env.str("TRENDING_REFRESH_HOURS_UTC", default="*/3")
# Seconds between beat runs of the fetch and of the planner instead of their crontabs (0: the
# crontabs); for staging and the end-to-end test (tests/production/), never for production.
BEAT_FETCH_EVERY_SECONDS = env.float("BEAT_FETCH_EVERY_SECONDS", default=0.0)
BEAT_PLAN_EVERY_SECONDS = env.float("BEAT_PLAN_EVERY_SECONDS", default=0.0)
# Rows per send task. Through a provider's API a batch starts and ends with few messages in
# flight (its reads and first builds, then the wait for its last answers): at 100 rows that cost
# a fifth of the rate (bench/send.py). 500 still takes seconds, inside the stop grace period.
DIGEST_BATCH_SIZE = env.int("DIGEST_BATCH_SIZE", default=500)
DIGEST_TRENDING_COUNT = env.int("DIGEST_TRENDING_COUNT", default=5)
DIGEST_ARCHIVE_COUNT = env.int("DIGEST_ARCHIVE_COUNT", default=20)
# Papers of the day shown below the email on a reader's "view in browser" page, to vote on.
DIGEST_VIEW_MORE_COUNT = env.int("DIGEST_VIEW_MORE_COUNT", default=100)
# "Recommended for you": at most this many of the day's papers, after the topic section, for
# readers with votes or `like:` topics (on top of their cap of trending and topic papers).
DIGEST_RECOMMENDED_COUNT = env.int("DIGEST_RECOMMENDED_COUNT", default=5)
# A reader's reference library (subscriptions/library/): per import at most this many bytes and
# entries (a larger file is refused before anything is stored); a library larger than
# LIBRARY_POSITIVES_MAX is summarised by that many weighted representatives for the model.
LIBRARY_IMPORT_MAX_BYTES = env.int("LIBRARY_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
LIBRARY_IMPORT_MAX_ENTRIES = env.int("LIBRARY_IMPORT_MAX_ENTRIES", default=2000)
LIBRARY_POSITIVES_MAX = env.int("LIBRARY_POSITIVES_MAX", default=20)
# Followed papers: a follow lasts this many days unless renewed; upvote counts that are news.
FOLLOW_DAYS = env.int("FOLLOW_DAYS", default=60)
FOLLOW_UPVOTE_THRESHOLDS = sorted(
    env.list("FOLLOW_UPVOTE_THRESHOLDS", cast=int, default=[10, 50, 100])
)
# A row still `sending` this long after it was claimed is marked `unknown` and never resent.
DELIVERY_SENDING_TIMEOUT = env.int("DELIVERY_SENDING_TIMEOUT", default=900)
CONFIRM_MAX_AGE_DAYS = env.int("CONFIRM_MAX_AGE_DAYS", default=7)
# Signups never confirmed are deleted after this many days (consent was never given).
UNCONFIRMED_RETENTION_DAYS = env.int("UNCONFIRMED_RETENTION_DAYS", default=7)
MANAGE_MAX_AGE_DAYS = env.int("MANAGE_MAX_AGE_DAYS", default=90)

# --- Logging -----------------------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line (time, level, logger, message, and delivery_id /
# fetch_run_id inside `digest.logging.log_context`) for a log collector; plain for people.
# https://docs.djangoproject.com/en/5.2/topics/logging/#configuring-logging
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"log_context": {"()": "digest.logging.LogContextFilter"}},
    "formatters": {
        "plain": {
            "()": "digest.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "digest.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["log_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # A request for a host not in ALLOWED_HOSTS (scanners send them by the thousand) is a
        # 400 logged at ERROR, which Django's default handler mails to ADMINS: log it here only.
        # https://docs.djangoproject.com/en/5.2/topics/logging/#django-security
        "django.security.DisallowedHost": {"handlers": ["console"], "propagate": False},
    },
}
# Celery workers and beat keep this configuration (Django applies it first) instead of
# replacing the root handlers with their own, so LOG_FORMAT holds for them too.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-hijack-root-logger
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Rate limits -------------------------------------------------------------------------------
# https://django-ratelimit.readthedocs.io/en/stable/rates.html ("count/period", e.g. "5/10m")
SIGNUP_RATE_PER_IP = env.str("SIGNUP_RATE_PER_IP", default="5/10m")
SIGNUP_RATE_PER_EMAIL = env.str("SIGNUP_RATE_PER_EMAIL", default="3/h")
PREVIEW_RATE_PER_IP = env.str("PREVIEW_RATE_PER_IP", default="60/m")
# Follow by email from a paper's archive page: posts per IP, and follow links mailed to one
# address a day (each paper's link at most once a day, whatever the posts).
FOLLOW_REQUEST_RATE_PER_IP = env.str("FOLLOW_REQUEST_RATE_PER_IP", default="10/10m")
FOLLOW_LINKS_PER_ADDRESS_DAILY = env.int("FOLLOW_LINKS_PER_ADDRESS_DAILY", default=10)

# --- Monitoring (docs/operations.md, "What to watch") ------------------------------------------
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Dead-man's switch: `job=url,...` for fetch, plan and send, pinged on success, `<url>/fail` on
# failure (healthchecks.io, Uptime Kuma, Cronitor). digest/monitoring/heartbeats.py
HEARTBEAT_URLS = dict(
    item.strip().partition("=")[::2] for item in env.list("HEARTBEAT_URLS", default=[])
)
if set(HEARTBEAT_URLS) - {"fetch", "plan", "send"} or not all(HEARTBEAT_URLS.values()):
    raise ImproperlyConfigured("HEARTBEAT_URLS is job=url,... with jobs fetch, plan and send.")
HEARTBEAT_TIMEOUT = env.float("HEARTBEAT_TIMEOUT", default=5.0)
# Beat writes a timestamp from its loop, which wakes at least every minute (a third of
# BEAT_STALE_SECONDS when shorter); its health check and /healthz?deep=1 call it dead past
# BEAT_STALE_SECONDS. digest/monitoring/liveness.py
CELERY_BEAT_SCHEDULER = "digest.monitoring.liveness.LivenessScheduler"
BEAT_STALE_SECONDS = env.int("BEAT_STALE_SECONDS", default=180)
CELERY_BEAT_MAX_LOOP_INTERVAL = min(60, max(1, BEAT_STALE_SECONDS // 3))
# https://docs.sentry.io/platforms/python/integrations/django/ ; unset: sentry_sdk not imported.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
if SENTRY_DSN:
    from digest.monitoring.errors import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE or None)
