"""LinkFlow settings, read from the environment (12-factor).

With neither DATABASE_URL nor REDIS_URL set, LinkFlow runs embedded: SQLite under var/,
an in-memory channel layer and broker, local-memory cache, and the worker and scheduler
inside the web process. Setting the URLs switches to the distributed deployment.
Every variable read here is listed in README.md.
"""

import base64
import os
import re
import secrets
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from csp.constants import NONCE, NONE, SELF

from linkflow.core.client_ip import trusted_proxies_from

# Admin classes take the type parameters the stubs ask for (ModelAdmin[Workflow]) at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


# --- Reading the environment strictly ----------------------------------------------------
# A typo must stop start-up naming the variable, never pick a side: LINKFLOW_HTTPS=treu read
# as false would turn HSTS and secure cookies off without a word. Unset or empty: default.
_SPELLINGS = {
    **dict.fromkeys(("1", "true", "yes", "on"), True),
    **dict.fromkeys(("0", "false", "no", "off"), False),
}


def _env_raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def _env_bool(name: str, *, default: bool) -> bool:
    """A switch: 1/0, true/false, yes/no or on/off (any case)."""
    raw = _env_raw(name).lower()
    if not raw:
        return default
    if raw not in _SPELLINGS:
        raise environ.ImproperlyConfigured(
            f"{name} must be one of on/off, true/false, yes/no, 1/0, not {raw!r}."
        )
    return _SPELLINGS[raw]


def _env_int(name: str, *, default: int) -> int:
    """A whole number (no sign but a leading minus, no fraction, no unit)."""
    raw = _env_raw(name)
    if not raw:
        return default
    if not re.fullmatch(r"-?[0-9]+", raw):
        raise environ.ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.")
    return int(raw)


def _env_float(name: str, *, default: float) -> float:
    """A number of seconds or similar: digits with an optional fraction."""
    raw = _env_raw(name)
    if not raw:
        return default
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?|-?\.[0-9]+", raw):
        raise environ.ImproperlyConfigured(f"{name} must be a number, not {raw!r}.")
    return float(raw)


def _env_url(name: str, *, default: str, schemes: tuple[str, ...]) -> str:
    """A URL with one of ``schemes`` and a host (or, for file-like schemes, a path)."""
    raw = _env_raw(name)
    if not raw:
        return default
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in schemes or not (parts.hostname or parts.path):
        raise environ.ImproperlyConfigured(
            f"{name} must be a URL starting {' or '.join(f'{s}://' for s in schemes)}, not {raw!r}."
        )
    return raw


VAR_DIR = Path(env.str("LINKFLOW_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _embedded_key(name: str, make: Callable[[], str]) -> str:
    """A per-installation key kept under var/, so it survives restarts."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = _env_bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_key(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

REDIS_URL = _env_url("REDIS_URL", default="", schemes=("redis", "rediss", "unix"))
DATABASE_URL = _env_url(
    "DATABASE_URL", default="", schemes=("postgres", "postgresql", "pgsql", "sqlite")
)
EMBEDDED = not REDIS_URL

# --- Hardening --------------------------------------------------------------------------
# A distributed deployment with DEBUG off is production: it must not run on the per-machine
# key under var/ (several web processes would each sign with their own). The other
# requirements are system checks (linkflow/core/checks.py).
LINKFLOW_PRODUCTION = not DEBUG and bool(REDIS_URL or DATABASE_URL)
if LINKFLOW_PRODUCTION and not env.str("SECRET_KEY", default=""):
    raise environ.ImproperlyConfigured(
        "SECRET_KEY must be set in the environment when DEBUG is off and DATABASE_URL or "
        "REDIS_URL is set; the generated key under var/ is for the embedded mode only. "
        "Make one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
# Fernet keys (urlsafe base64, 32 bytes), newest first; see credentials/crypto.py. Every
# web and worker process must hold the same keys, so production cannot use a per-machine
# file either: a credential saved by one process would not decrypt in another.
LINKFLOW_CREDENTIAL_KEYS = env.list("LINKFLOW_CREDENTIAL_KEYS", default=[])
if LINKFLOW_PRODUCTION and not LINKFLOW_CREDENTIAL_KEYS:
    raise environ.ImproperlyConfigured(
        "LINKFLOW_CREDENTIAL_KEYS must be set in the environment when DEBUG is off and "
        "DATABASE_URL or REDIS_URL is set: every web and worker process must encrypt "
        "credentials with the same keys, and the key generated under var/ is for the embedded "
        "mode only. Make one with: python -c 'import base64, os; "
        "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
    )
# code.python's isolation (linkflow/engine/code_sandbox/modes.py reads the variable; the
# engine knows no settings). "auto" falls back to a plain process when bubblewrap cannot
# run; production never does that silently: there "auto" (the default) means "bwrap",
# and a worker without user namespaces must choose LINKFLOW_CODE_SANDBOX=process itself.
LINKFLOW_CODE_SANDBOX = env.str("LINKFLOW_CODE_SANDBOX", default="auto").strip().lower()
if LINKFLOW_CODE_SANDBOX not in ("auto", "bwrap", "process"):
    raise environ.ImproperlyConfigured(
        f"LINKFLOW_CODE_SANDBOX must be auto, bwrap or process, not {LINKFLOW_CODE_SANDBOX!r}"
    )
if LINKFLOW_PRODUCTION and LINKFLOW_CODE_SANDBOX == "auto":
    LINKFLOW_CODE_SANDBOX = "bwrap"
    os.environ["LINKFLOW_CODE_SANDBOX"] = LINKFLOW_CODE_SANDBOX
LINKFLOW_CREDENTIAL_KEYS = LINKFLOW_CREDENTIAL_KEYS or [
    _embedded_key("credential_key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode())
]
LINKFLOW_ALLOWED_HOSTS_SET = bool(env.str("ALLOWED_HOSTS", default=""))
# Served over HTTPS (directly or behind a TLS-terminating proxy): HSTS and secure cookies.
LINKFLOW_HTTPS = _env_bool("LINKFLOW_HTTPS", default=False)
if LINKFLOW_HTTPS:
    SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# Opt-in: only behind a proxy that sets X-Forwarded-Proto itself and drops the client's.
if _env_bool("LINKFLOW_TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# Webhook replies are attacker-controlled content (workflows/origin.py). A separate origin
# for them, "scheme://host[:port]": it must be another host than the UI's, because cookies
# ignore ports. Its host then serves the webhook routes only.
LINKFLOW_WEBHOOK_BASE_URL = env.str("LINKFLOW_WEBHOOK_BASE_URL", default="").rstrip("/")
if LINKFLOW_WEBHOOK_BASE_URL:
    _hook = urlsplit(LINKFLOW_WEBHOOK_BASE_URL)
    if _hook.scheme not in ("http", "https") or not _hook.hostname or _hook.path:
        raise environ.ImproperlyConfigured(
            "LINKFLOW_WEBHOOK_BASE_URL must be an origin such as https://hooks.example.com "
            f"(scheme and host, optionally a port, no path), not {LINKFLOW_WEBHOOK_BASE_URL!r}."
        )
    if _hook.hostname not in ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_hook.hostname)
# Host-only cookies: a cookie for a parent domain would reach the webhook host too.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
# Pages take the token from <meta name="csrf-token"> (templates/base.html), so no script,
# least of all one a webhook reply smuggled in, needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
# The UI's pages and the API docs (django-csp, csp.middleware.CSPMiddleware): scripts only
# from our own static files or carrying the page's nonce, nothing from another host. No
# form-action: the OAuth2 consent and connect forms end in a redirect to another site,
# which Chromium checks against form-action. Webhook answers get the sandbox instead.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        # Swagger UI draws its icons as data: images.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        # 'self' covers the live feed's ws:// and wss:// on the same host and port.
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
# Proxies whose X-Forwarded-For names the client (IPs or CIDR networks, comma-separated):
# rate limits and sign-in lockouts count by the client address (linkflow/core/client_ip.py),
# and the Procfile and `manage.py serve` give uvicorn the same list as --forwarded-allow-ips.
# Empty: no proxy is trusted, the connection's own address counts.
LINKFLOW_TRUSTED_PROXIES = env.list("LINKFLOW_TRUSTED_PROXIES", default=[])
try:
    trusted_proxies_from(LINKFLOW_TRUSTED_PROXIES)
except ValueError as error:
    raise environ.ImproperlyConfigured(str(error)) from None
# Failed sign-ins per address and e-mail before 429 (linkflow/accounts/login_throttle.py).
LINKFLOW_LOGIN_MAX_FAILURES = _env_int("LINKFLOW_LOGIN_MAX_FAILURES", default=5)
LINKFLOW_LOGIN_LOCKOUT_SECONDS = _env_int("LINKFLOW_LOGIN_LOCKOUT_SECONDS", default=900)
# Failed sign-ins per address whatever the e-mail (one address trying many accounts).
LINKFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS = _env_int(
    "LINKFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS", default=20
)
# Password-reset mails to one address per window (linkflow/accounts/login_throttle.py).
LINKFLOW_PASSWORD_RESET_MAX = _env_int("LINKFLOW_PASSWORD_RESET_MAX", default=3)
LINKFLOW_PASSWORD_RESET_WINDOW_SECONDS = _env_int(
    "LINKFLOW_PASSWORD_RESET_WINDOW_SECONDS", default=3600
)

INSTALLED_APPS = [
    "linkflow.core.admin_config.OperatorAdminConfig",  # django.contrib.admin, own index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "oauth2_provider",
    "drf_spectacular",
    # Swagger UI's files, served from our own static path (no CDN).
    "drf_spectacular_sidecar",
    "csp",
    "channels",
    "django_celery_beat",
    "django_htmx",
    "linkflow.core",
    "linkflow.accounts",
    "linkflow.audit",
    "workflows",
    "executions",
    "credentials",
    "billing",
]

MIDDLEWARE = [
    # First: it sees every response last, so every webhook answer leaves sandboxed.
    "workflows.origin.WebhookOriginMiddleware",
    # Webhook calls leave here for WEBHOOK_MIDDLEWARE below (workflows/webhook_lane.py).
    "workflows.webhook_lane.WebhookLaneMiddleware",
    # Before CSRF, which reads form posts: a body over the limit is a 413, not a 500.
    "linkflow.core.json_body.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "linkflow.accounts.login_throttle.AdminLoginThrottleMiddleware",
    # The client address for audit events written by services (linkflow/audit/context.py).
    "linkflow.audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # PostgreSQL or Redis down: plain views answer 503 in the error shape, not a 500 page.
    "linkflow.core.outages.OutageMiddleware",
]
# A webhook call's chain, in MIDDLEWARE's order: no session, CSRF, user, messages, htmx,
# static files or UI CSP (the origin sandbox replaces it), nothing a machine's call uses.
WEBHOOK_MIDDLEWARE = [
    "linkflow.core.json_body.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",  # ALLOWED_HOSTS
    "linkflow.audit.context.AuditContextMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "linkflow.core.outages.OutageMiddleware",
]

ROOT_URLCONF = "linkflow.urls"
WSGI_APPLICATION = "linkflow.wsgi.application"
ASGI_APPLICATION = "linkflow.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The signed-in user's current workspace and role, for every page.
                "linkflow.accounts.web.workspace_nav",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "linkflow.core.sqlite_writer",
            "NAME": VAR_DIR / "linkflow.sqlite3",
            # The embedded worker writes from other threads: WAL lets readers go on, and
            # IMMEDIATE transactions queue writers instead of failing with "locked"; the
            # backend queues this process's writers on a lock of its own (sqlite_writer).
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            # One connection per thread for the process's life (the web's threads and the
            # worker's are fixed pools): opening one per request, with Django's functions
            # registered on each, cost about 5 % of the embedded process's CPU.
            "CONN_MAX_AGE": None,
        }
    }

_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# Under ASGI, persistent connections leak (one per thread); a real pool does not.
if _POSTGRES and _env_bool("LINKFLOW_DB_POOL", default=True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": _env_int("LINKFLOW_DB_POOL_MIN", default=1),
        "max_size": _env_int("LINKFLOW_DB_POOL_MAX", default=20),
        "timeout": 10,
    }

# The hot paths' fixed statements are prepared once per connection (linkflow/core/prepared.py).
LINKFLOW_DB_PREPARED = _POSTGRES and _env_bool("LINKFLOW_DB_PREPARED", default=True)
if LINKFLOW_DB_PREPARED:
    # psycopg prepares nothing while the threshold is None (Django's default), even when a
    # statement asks; a threshold never reached prepares only the statements that ask (the
    # ORM's client-side-bound cursors never prepare).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = sys.maxsize

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Account mail (password reset): printed to the console unless an SMTP server or another
# backend is configured. Workflows' own mail never uses these (see executions/running/mail.py).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = _env_int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LinkFlow <noreply@linkflow.local>")

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

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("LINKFLOW_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Large NodeRun payloads and node files (executions/running/payloads.py, files.py) go to the default
# storage: the file system when embedded, an S3-compatible bucket when distributed, so that
# every worker and web process sees the same objects.
LINKFLOW_STORAGE = env.str("LINKFLOW_STORAGE", default="") or "filesystem"
if LINKFLOW_STORAGE == "s3":
    _DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            # Unset endpoint/keys fall through to AWS itself and boto3's credential chain.
            "endpoint_url": _env_url("AWS_S3_ENDPOINT_URL", default="", schemes=("http", "https"))
            or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            # Many S3-compatible servers (MinIO, Ceph) need "path"; boto3 decides when unset.
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,
            # Payloads hold users' data: only the server reads them, never a public URL.
            # Set it empty for buckets with ACLs disabled (S3 Object Ownership "enforced").
            "default_acl": env.str("AWS_DEFAULT_ACL", default="private") or None,
        },
    }
elif LINKFLOW_STORAGE == "filesystem":
    _DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise environ.ImproperlyConfigured(
        f"LINKFLOW_STORAGE must be 'filesystem' or 's3', not {LINKFLOW_STORAGE!r}."
    )
STORAGES = {
    "default": _DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# NodeRun input/output larger than this (as compact JSON) is offloaded to the storage above.
LINKFLOW_PAYLOAD_INLINE_MAX_BYTES = _env_int("LINKFLOW_PAYLOAD_INLINE_MAX_BYTES", default=262144)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Cache, channel layer, broker -------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    # Channels' layer, for consumers that message each other. The execution feeds do not
    # use it: their events go through one Redis subscription per web process
    # (executions/feeds/fanout.py), measured 300x faster at 200 subscribers than a layer group.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Live feeds (executions/feeds/, executions/feeds/fanout.py) ---------------------------------
# Events kept per execution for `?after=` replay, and for how long after the last one.
LINKFLOW_WS_EVENT_LOG_MAX = _env_int("LINKFLOW_WS_EVENT_LOG_MAX", default=1000)
LINKFLOW_WS_EVENT_LOG_TTL_SECONDS = _env_int("LINKFLOW_WS_EVENT_LOG_TTL_SECONDS", default=3600)
LINKFLOW_WS_EVENT_LOG_FINISHED_TTL_SECONDS = _env_int(
    "LINKFLOW_WS_EVENT_LOG_FINISHED_TTL_SECONDS", default=300
)
# A subscriber this many events behind is closed (4429) and resumes with `after`.
LINKFLOW_WS_SEND_BUFFER = _env_int("LINKFLOW_WS_SEND_BUFFER", default=2000)
# Wait this long to put more events in one frame (0: send what has piled up at once).
LINKFLOW_WS_COALESCE_SECONDS = _env_float("LINKFLOW_WS_COALESCE_SECONDS", default=0.0)

CELERY_BROKER_URL = REDIS_URL or "memory://"
# The in-process transport polls. Every interval the worker finds at most a dispatch window
# of messages, so 50 ms capped the embedded mode near 80 executions/s whatever the CPU;
# at 5 ms the idle process spends about 1.6 % of a core more (bench/RESULTS.md, session 7).
CELERY_BROKER_TRANSPORT_OPTIONS = {} if REDIS_URL else {"polling_interval": 0.005}
# On Redis, kombu's Redis transport without ack emulation (linkflow/celery.py says why).
# A transport class, not the ack_emulation transport option: with no transport options a
# message is sent with one LPUSH (linkflow/core/transactions.py).
CELERY_BROKER_TRANSPORT = (
    "linkflow.celery:RedisTransport" if REDIS_URL.startswith("redis://") else None
)
CELERY_TASK_DEFAULT_QUEUE = env.str("LINKFLOW_QUEUE", default="linkflow")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# The database is the source of truth: a message is acknowledged after its task ran, and a
# duplicate is harmless because a worker must claim the execution before running it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Celery's Django fixup otherwise closes the database connection after every task, which
# cost a new PostgreSQL connection per execution; see also linkflow/celery.py.
CELERY_DB_REUSE_MAX = 1000
CELERY_WORKER_PREFETCH_MULTIPLIER = _env_int("LINKFLOW_WORKER_PREFETCH", default=4)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker outlives a Redis restart: it reconnects for ever instead of exiting after 100 tries.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# The database schedule behind a Redis leader lock: of several beats only one sends.
CELERY_BEAT_SCHEDULER = "linkflow.scheduler:LeaderScheduler"
# Empty: "linkflow:beat:leader:<queue>", so beats serving the same queue elect one leader.
LINKFLOW_BEAT_LOCK_KEY = env.str("LINKFLOW_BEAT_LOCK_KEY", default="")
LINKFLOW_BEAT_LOCK_TTL_SECONDS = _env_float("LINKFLOW_BEAT_LOCK_TTL_SECONDS", default=15.0)
LINKFLOW_BEAT_RENEW_SECONDS = _env_float("LINKFLOW_BEAT_RENEW_SECONDS", default=5.0)
LINKFLOW_BEAT_STANDBY_SECONDS = _env_float("LINKFLOW_BEAT_STANDBY_SECONDS", default=2.0)
# Listening triggers (executions/sources/listeners.py, run by every beat): how often a beat reads
# which listeners should run, and how long a listener's lock outlives a dead beat.
LINKFLOW_LISTENERS_ENABLED = _env_bool("LINKFLOW_LISTENERS_ENABLED", default=True)
LINKFLOW_LISTENER_SYNC_SECONDS = _env_float("LINKFLOW_LISTENER_SYNC_SECONDS", default=5.0)
LINKFLOW_LISTENER_LOCK_TTL_SECONDS = _env_float("LINKFLOW_LISTENER_LOCK_TTL_SECONDS", default=30.0)
# A cron fire sent later than this after its slot (beat down, slow failover) is skipped.
LINKFLOW_SCHEDULE_GRACE_SECONDS = _env_float("LINKFLOW_SCHEDULE_GRACE_SECONDS", default=120.0)
# How many item keys a trigger.poll node remembers; past it the least recently seen go.
LINKFLOW_POLL_SEEN_LIMIT = _env_int("LINKFLOW_POLL_SEEN_LIMIT", default=10_000)
# The largest body a poll reads (bytes); a larger response fails the poll.
LINKFLOW_POLL_MAX_BYTES = _env_int("LINKFLOW_POLL_MAX_BYTES", default=5 * 1024 * 1024)
CELERY_TIMEZONE = "UTC"

# --- LinkFlow ---------------------------------------------------------------------------
# Threads per web process serving HTTP; sync webhooks hold one while they wait.
LINKFLOW_WEB_THREADS = _env_int("LINKFLOW_WEB_THREADS", default=32)
LINKFLOW_LEASE_SECONDS = _env_int("LINKFLOW_LEASE_SECONDS", default=60)
# A queued execution older than this is presumed to have lost its message (Redis flushed or
# restarted without persistence) and is sent again (executions/maintenance/recovery.py).
LINKFLOW_QUEUED_GRACE_SECONDS = _env_float("LINKFLOW_QUEUED_GRACE_SECONDS", default=300.0)
# How often the beat re-sends stale executions: lost messages and expired leases.
LINKFLOW_REQUEUE_STALE_SECONDS = _env_float("LINKFLOW_REQUEUE_STALE_SECONDS", default=30.0)
# At most this many executions of one workspace are dispatched (in the broker or running)
# at once, fewer if its plan's concurrent_executions says so; the rest wait "pending" in
# the database. Bounds how long one workspace's flood delays another's (docs/admission.md).
LINKFLOW_DISPATCH_WINDOW = _env_int("LINKFLOW_DISPATCH_WINDOW", default=4)
# The editor's test runs (docs/editor-loop.md) never count towards the plan, so they have
# limits of their own, per workspace: started per minute, and unfinished at once.
LINKFLOW_TEST_RUNS_PER_MINUTE = _env_int("LINKFLOW_TEST_RUNS_PER_MINUTE", default=30)
LINKFLOW_TEST_RUN_CONCURRENCY = _env_int("LINKFLOW_TEST_RUN_CONCURRENCY", default=2)
# Pinned output items of one node, as compact JSON (larger pins are refused with 400).
LINKFLOW_PINNED_MAX_BYTES = _env_int("LINKFLOW_PINNED_MAX_BYTES", default=1024 * 1024)
# How long a "listen for a test event" window stays open unless a request closes it.
LINKFLOW_LISTEN_SECONDS = _env_int("LINKFLOW_LISTEN_SECONDS", default=120)
LINKFLOW_EXECUTION_TIMEOUT_SECONDS = _env_int("LINKFLOW_EXECUTION_TIMEOUT_SECONDS", default=3600)
# The hard limit a prefork worker process cannot outlive (docs/security/worker-limits.md):
# past it the worker's main process kills the child and fails its execution
# (worker_time_limit). Nothing inside a process can stop C code holding the GIL; the
# expression cost model is the first line, this is the backstop. One task runs one
# stretch of an execution (a wait or a back-off ends it), so the default follows the
# execution timeout: no stretch can legitimately run longer than that plus one node.
LINKFLOW_WORKER_TIME_LIMIT_SECONDS = _env_int(
    "LINKFLOW_WORKER_TIME_LIMIT_SECONDS", default=LINKFLOW_EXECUTION_TIMEOUT_SECONDS + 120
)
# The soft limit raises inside the task first (Python code only), so a run can end cleanly.
LINKFLOW_WORKER_SOFT_TIME_LIMIT_SECONDS = _env_int(
    "LINKFLOW_WORKER_SOFT_TIME_LIMIT_SECONDS",
    default=max(LINKFLOW_WORKER_TIME_LIMIT_SECONDS - 30, 1),
)
if not 0 < LINKFLOW_WORKER_SOFT_TIME_LIMIT_SECONDS < LINKFLOW_WORKER_TIME_LIMIT_SECONDS:
    raise environ.ImproperlyConfigured(
        "LINKFLOW_WORKER_SOFT_TIME_LIMIT_SECONDS must be above 0 and below "
        "LINKFLOW_WORKER_TIME_LIMIT_SECONDS."
    )
CELERY_TASK_TIME_LIMIT = LINKFLOW_WORKER_TIME_LIMIT_SECONDS
CELERY_TASK_SOFT_TIME_LIMIT = LINKFLOW_WORKER_SOFT_TIME_LIMIT_SECONDS
# A prefork child whose resident memory grew past this (KiB) is replaced after its task.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = (
    _env_int("LINKFLOW_WORKER_MAX_MEMORY_MB", default=1024) * 1024 or None
)
# Takeovers of an execution whose worker's lease ran out before it is failed (worker_lost).
LINKFLOW_MAX_LOST_LEASES = _env_int("LINKFLOW_MAX_LOST_LEASES", default=3)
LINKFLOW_SUBWORKFLOW_MAX_DEPTH = _env_int("LINKFLOW_SUBWORKFLOW_MAX_DEPTH", default=5)
# Days of executions kept when the billing app does not decide (per plan) itself.
LINKFLOW_RETENTION_DAYS = _env_int("LINKFLOW_RETENTION_DAYS", default=30)
# When set, GET /metrics needs "Authorization: Bearer <token>".
LINKFLOW_METRICS_TOKEN = env.str("LINKFLOW_METRICS_TOKEN", default="")
# A worker serves its own process metrics (node durations) on this port; 0 turns it off.
LINKFLOW_WORKER_METRICS_PORT = _env_int("LINKFLOW_WORKER_METRICS_PORT", default=0)
# The HTTP node refuses private, loopback, link-local and metadata addresses unless opened.
LINKFLOW_HTTP_ALLOW_PRIVATE = _env_bool("LINKFLOW_HTTP_ALLOW_PRIVATE", default=False)
LINKFLOW_HTTP_ALLOW_HOSTS = env.list("LINKFLOW_HTTP_ALLOW_HOSTS", default=[])
# Every other request body (API, pages, editor): past it 413 payload_too_large
# (linkflow/core/json_body.py). Django's own form limit follows it.
LINKFLOW_REQUEST_MAX_BYTES = _env_int("LINKFLOW_REQUEST_MAX_BYTES", default=2621440)
DATA_UPLOAD_MAX_MEMORY_SIZE = LINKFLOW_REQUEST_MAX_BYTES
LINKFLOW_WEBHOOK_MAX_BYTES = _env_int("LINKFLOW_WEBHOOK_MAX_BYTES", default=10 * 1024 * 1024)
LINKFLOW_PUBLIC_URL = _env_url(
    "LINKFLOW_PUBLIC_URL", default="http://127.0.0.1:8000", schemes=("http", "https")
)
LINKFLOW_EMBEDDED_WORKER_CONCURRENCY = _env_int("LINKFLOW_WORKER_CONCURRENCY", default=4)
LINKFLOW_ADMIN_EMAIL = env.str("LINKFLOW_ADMIN_EMAIL", default="admin@linkflow.local")
LINKFLOW_ADMIN_PASSWORD = env.str("LINKFLOW_ADMIN_PASSWORD", default="")


# Billing off (the default: a self-hosted install) applies no plan limit at all and keeps
# executions LINKFLOW_RETENTION_DAYS; on, every workspace gets its subscription's plan or
# LINKFLOW_DEFAULT_PLAN (billing/selectors.py).
LINKFLOW_BILLING = _env_bool("LINKFLOW_BILLING", default=False)
# With billing on, the plan of a workspace without an active subscription: free, pro,
# unlimited or any plan slug made in admin. Read at every start, never copied into a row.
LINKFLOW_DEFAULT_PLAN = env.str("LINKFLOW_DEFAULT_PLAN", default="free")
# Requests per caller (API key, user, else address) and endpoint group: "N/s|min|hour|day".
LINKFLOW_RATES = {
    "default": env.str("LINKFLOW_RATE_DEFAULT", default="600/min"),
    "auth": env.str("LINKFLOW_RATE_AUTH", default="20/min"),  # token endpoints, by address
    "execute": env.str("LINKFLOW_RATE_EXECUTE", default="300/min"),  # execute and webhooks
    # Expression previews, per user: the editor asks as one types (debounced).
    "preview": env.str("LINKFLOW_RATE_PREVIEW", default="240/min"),
}

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # JWT and OAuth2 share "Bearer" and each takes only its own kind of token (see
    # linkflow/accounts/authentication.py); API keys come as "Api-Key" or X-API-Key.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "linkflow.accounts.authentication.JWTAuthentication",
        "linkflow.accounts.api_keys.ApiKeyAuthentication",
        "linkflow.accounts.authentication.OAuth2Authentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # HasScope closes every view that declares no required_scopes to API keys and OAuth2
    # tokens, so a new endpoint is never open to delegated credentials by accident.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "linkflow.accounts.scoping.HasScope",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    ],
    "DEFAULT_PARSER_CLASSES": ["linkflow.core.json_body.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "linkflow.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "linkflow.core.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": [
        "linkflow.core.throttling.CallerRateThrottle",
        "billing.throttling.WorkspacePlanThrottle",
    ],
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=_env_int("LINKFLOW_JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=_env_int("LINKFLOW_JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    # A refresh token works once: the rotated-out one is refused (token_blacklist app).
    "BLACKLIST_AFTER_ROTATION": True,
    "USER_ID_FIELD": "id",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# OAuth2 provider for third-party integrations (django-oauth-toolkit), under /oauth/:
# authorization code with PKCE (S256) only, rotating refresh tokens, scopes from
# linkflow/accounts/scoping.py; tokens are stored as checksums only.
OAUTH2_PROVIDER = {
    "SCOPES_BACKEND_CLASS": "linkflow.accounts.scoping.ScopesBackend",
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": _env_int("LINKFLOW_OAUTH_ACCESS_SECONDS", default=3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": _env_int("LINKFLOW_OAUTH_REFRESH_DAYS", default=30) * 86400,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LinkFlow API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads Swagger UI from drf-spectacular-sidecar, under our own CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request and response components, so read-only fields are not asked for.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "executions.models.ExecutionStatus",
        "ExecutionModeEnum": "executions.models.ExecutionMode",
        "NodeRunStatusEnum": "executions.models.NodeRunStatus",
    },
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# Celery's own line per task ("Received task", "Task … succeeded", beat's "Sending due
# task") is 2-3 lines a second with the 1-second resume-due-executions entry, burying what
# matters; it is shown only at LOG_LEVEL=DEBUG. Their warnings and errors (a task that
# failed, a beat that cannot send) always show. Maintenance tasks log at INFO only when
# they did something (executions/tasks.py).
_CELERY_CHATTER_LEVEL = "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"
_CELERY_CHATTER = ("celery.app.trace", "celery.worker.strategy", "celery.beat")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Credential secrets handed to running executions never reach the logs.
    "filters": {"redact_secrets": {"()": "credentials.redaction.SecretFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        **{name: {"level": _CELERY_CHATTER_LEVEL} for name in _CELERY_CHATTER},
    },
}

# Beat's own schedule is static; user cron triggers are data (django-celery-beat tables).
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-executions": {
        "task": "executions.requeue_stale",
        "schedule": LINKFLOW_REQUEUE_STALE_SECONDS,
    },
    # Waits and retry back-offs are parked in the database; this wakes the due ones.
    "resume-due-executions": {"task": "executions.resume_due", "schedule": 1.0},
    # Dispatches pending executions into free slots a crashed process did not hand on.
    "dispatch-pending-executions": {"task": "executions.dispatch_sweep", "schedule": 10.0},
    # Rebuilds today's and yesterday's UsageDaily rows (idempotent).
    "aggregate-usage": {"task": "billing.aggregate_usage", "schedule": 600.0},
    # Deletes finished executions past their workspace's retention
    # (executions/maintenance/cleanup.py).
    "cleanup-executions": {"task": "executions.cleanup", "schedule": 3600.0},
    # Creates this month's and the next two months' partitions
    # (executions/maintenance/partitions.py).
    "ensure-execution-partitions": {"task": "executions.ensure_partitions", "schedule": 86400.0},
}
