"""Django settings for anyuan.

Everything a deployment changes comes from the environment:

- ``DATABASE_URL``   PostgreSQL for real deployments; unset → SQLite under ``var/``.
- ``ANYUAN_VAR``     where the embedded defaults keep their files (default ``./var``).
- ``ANYUAN_SECRET_KEY`` / ``ANYUAN_DATA_KEY``  Django's signing key and the personal-data
  key (base64, 32 bytes; several, newest first, while rotating). Unset → created once
  under ``var/secret/`` with mode 0600 (for development: keep a site's key outside var/).
- ``ANYUAN_DATA_KEY_FILE`` a file holding the personal-data key(s), one per line, newest
  first; it must exist (nothing is created there).
- ``ANYUAN_DEBUG``   ``1`` for development error pages.
- ``ANYUAN_ALLOWED_HOSTS`` comma-separated host names.
- ``ANYUAN_TOKEN_TTL_DAYS`` the longest life of an API token (default 90 days).
- ``ANYUAN_TLS``     ``1`` behind a TLS-terminating proxy: secure cookies, HSTS, HTTPS only.
- ``ANYUAN_TRUSTED_PROXIES`` the proxies whose X-Forwarded-For is believed.

Every ``ANYUAN_*`` setting is declared here, once, with its default (from the environment
where a deployment would change it), and listed in docs/operations.md ("Settings"); code
reads them as attributes of ``django.conf.settings``, never through ``getattr`` with a
default of its own.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

from anyuan.core.secrets import make_private, private_files, secret_from_env_or_file

# Every file an anyuan process makes is private to its owner (0600 / 0700).
private_files()

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(os.environ.get("ANYUAN_HOME", Path.cwd())).resolve()
VAR_DIR = Path(os.environ.get("ANYUAN_VAR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
make_private(VAR_DIR)

DEBUG = os.environ.get("ANYUAN_DEBUG", "") == "1"
SECRET_KEY = secret_from_env_or_file("ANYUAN_SECRET_KEY", VAR_DIR / "secret" / "django.key")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ANYUAN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "anyuan.core",
    "anyuan.accounts",
    "anyuan.registry",
    "anyuan.events",
    "anyuan.alerts",
    "anyuan.live",
    "anyuan.tracing",
    "anyuan.disputes",
    "anyuan.incidents",
    "anyuan.dashboard",
    "anyuan.simulator",
    "anyuan.bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "anyuan.core.middleware.LanguageMiddleware",
    "anyuan.core.middleware.RejectNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed the second factor (django-otp)
    "django_otp.middleware.OTPMiddleware",
    # until then a session that must pass it reaches only the sign-in steps
    "anyuan.accounts.twofactor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "anyuan.urls"
WSGI_APPLICATION = "anyuan.wsgi.application"
ASGI_APPLICATION = "anyuan.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "anyuan.core.context_processors.navigation",
                "csp.context_processors.nonce",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:  # the file is made private on each connection too (core/apps.py)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "anyuan.sqlite3",
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
                ),
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Every path that sets a password runs these (accounts.actions, the account pages, the API,
# the admin's forms, ``anyuan demo``): 12 characters at least, not the user name or close to
# it, not a common password, not digits only.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "anyuan.accounts.passwords.NotTheUserNameValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "landing"
LOGOUT_REDIRECT_URL = "accounts:login"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


def _env_flag(name: str, default: bool) -> bool:
    """``0`` or empty: off; anything else: on; unset: ``default``."""
    value = os.environ.get(name)
    return default if value is None else value not in ("", "0")


def _env_list(name: str) -> list[str]:
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


# Sign-in lock-out (django-axes, counted in its database table, shared by every process;
# accounts/lockout.py). Failed passwords within ANYUAN_LOGIN_COOLOFF_MINUTES lock:
# - one user name from one address after ANYUAN_LOGIN_FAILURE_LIMIT (a person mistyping),
# - one address over any user names after ANYUAN_LOGIN_ADDRESS_FAILURE_LIMIT (spraying),
# - one user name from any addresses after ANYUAN_LOGIN_USER_FAILURE_LIMIT (a distributed
#   guess at one account).
# The lock lasts until the failures age out of the window; a police administrator can lift
# it at once (accounts.actions.unlock_sign_in). The address is core/net.py's client_ip.
ANYUAN_LOGIN_FAILURE_LIMIT = _env_int("ANYUAN_LOGIN_FAILURE_LIMIT", 5)
ANYUAN_LOGIN_ADDRESS_FAILURE_LIMIT = _env_int("ANYUAN_LOGIN_ADDRESS_FAILURE_LIMIT", 20)
ANYUAN_LOGIN_USER_FAILURE_LIMIT = _env_int("ANYUAN_LOGIN_USER_FAILURE_LIMIT", 10)
ANYUAN_LOGIN_COOLOFF_MINUTES = _env_int("ANYUAN_LOGIN_COOLOFF_MINUTES", 15)
AXES_HANDLER = "anyuan.accounts.lockout.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address", "username"]
AXES_FAILURE_LIMIT = ANYUAN_LOGIN_FAILURE_LIMIT  # the pair's; the handler adds the others
AXES_COOLOFF_TIME = ANYUAN_LOGIN_COOLOFF_MINUTES / 60  # hours
AXES_CLIENT_IP_CALLABLE = "anyuan.core.net.client_ip"
AXES_RESET_ON_SUCCESS = True  # the handler resets the (user name, address) pair only
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_LOCKOUT_CALLABLE = "anyuan.accounts.lockout.lockout_response"
# failures while locked do not count: a lock ends ANYUAN_LOGIN_COOLOFF_MINUTES after the
# failure that set it, however often an attacker knocks in the meantime
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False

# Two-factor sign-in (accounts/twofactor.py): police users, enterprise administrators and
# platform operators pass a TOTP code (or a one-time recovery code) after their password;
# there is no setting that turns this off. Wrong codes: ANYUAN_2FA_FAILURE_LIMIT per user
# in ANYUAN_2FA_WINDOW_MINUTES (core/ratelimit.py), then the code step refuses until the
# window ends.
OTP_TOTP_ISSUER = "anyuan 安园"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a TOTP key or a recovery code
# one throttle for wrong codes, ours (per user, shared, audited), instead of django-otp's
# per-device back-off as well, which refused the right code for seconds after a typo
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
ANYUAN_2FA_FAILURE_LIMIT = _env_int("ANYUAN_2FA_FAILURE_LIMIT", 5)
ANYUAN_2FA_WINDOW_MINUTES = _env_int("ANYUAN_2FA_WINDOW_MINUTES", 15)
ANYUAN_2FA_RECOVERY_CODES = 10

# Reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated);
# empty: the connecting address is the client's (core/net.py).
ANYUAN_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("ANYUAN_TRUSTED_PROXIES", "").split(",") if p.strip()
]

# API tokens (accounts.ApiToken) expire after this many days at most; a new password ends
# every token of its user.
ANYUAN_TOKEN_TTL_DAYS = int(os.environ.get("ANYUAN_TOKEN_TTL_DAYS", "90"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 12 * 3600
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# A deployment behind a reverse proxy that terminates TLS (docs/operations.md, "Behind a
# proxy"): ANYUAN_TLS=1 switches on everything HTTPS needs at once. Off by default, for the
# demo on http://127.0.0.1. The proxy must set X-Forwarded-Proto itself (overwriting what a
# client sent), and anyuan must be reachable only through it.
ANYUAN_TLS = os.environ.get("ANYUAN_TLS", "") == "1"
if ANYUAN_TLS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("ANYUAN_HSTS_SECONDS", str(365 * 24 * 3600)))

# Content-Security-Policy (django-csp) on every response: scripts, styles, images, fonts and
# connections from this server only (ECharts, htmx and swagger-ui are served locally), no
# inline script (a <script> written into a template needs nonce="{{ CSP_NONCE }}"), no
# plugins, no framing. Style attributes stay allowed (style-src-attr): ECharts' tooltips and
# computed indents use them; a <style> element needs the nonce like a script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Request bodies, bounded in the ASGI layer before Django reads them (core/bodylimit.py):
# every request may send ANYUAN_REQUEST_MAX_BYTES (kept in memory: Django spools a body to
# disk only past FILE_UPLOAD_MAX_MEMORY_SIZE, the same); a signed-in request to a view
# that takes files (imports, dispute files) may send ANYUAN_UPLOAD_MAX_BYTES, the import
# limit and room for the form around the file. Anything larger is answered 413 unread.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
ANYUAN_IMPORT_MAX_BYTES = 200 * 1024 * 1024
ANYUAN_REQUEST_MAX_BYTES = int(os.environ.get("ANYUAN_REQUEST_MAX_BYTES", 5 * 1024 * 1024 // 2))
ANYUAN_UPLOAD_MAX_BYTES = int(
    os.environ.get("ANYUAN_UPLOAD_MAX_BYTES", ANYUAN_IMPORT_MAX_BYTES + 64 * 1024)
)
FILE_UPLOAD_MAX_MEMORY_SIZE = ANYUAN_REQUEST_MAX_BYTES
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Searches by an exact ID number or phone by a user who may not reveal them: at most this
# many per window (seconds), per user; each search is audited whoever makes it.
ANYUAN_PERSONAL_SEARCH_LIMIT = (
    int(os.environ.get("ANYUAN_PERSONAL_SEARCH_LIMIT", "30")),
    600,
)
# Import checks (dry runs and imports refused for problems) per user and window: each
# tells whether a file's keys are taken, so they are counted and audited.
ANYUAN_IMPORT_CHECK_LIMIT = (int(os.environ.get("ANYUAN_IMPORT_CHECK_LIMIT", "20")), 600)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# Front-end libraries come from the npm registry (package.json / package-lock.json) and are
# served from node_modules: nothing is loaded from a CDN at run time.
NODE_MODULES = Path(os.environ.get("ANYUAN_NODE_MODULES", BASE_DIR / "node_modules"))
if (NODE_MODULES / "htmx.org" / "dist").is_dir():
    STATICFILES_DIRS.append(("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"))
if (NODE_MODULES / "echarts" / "dist").is_dir():  # charts: vendor/echarts/echarts.min.js
    STATICFILES_DIRS.append(("vendor/echarts", NODE_MODULES / "echarts" / "dist"))
if (NODE_MODULES / "swagger-ui-dist").is_dir():  # the API docs page (core/api.py: LocalDocs)
    STATICFILES_DIRS.append(("vendor/swagger-ui", NODE_MODULES / "swagger-ui-dist"))
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# The personal-data key(s): ANYUAN_DATA_KEY, else this file (docs/operations.md). The
# default under var/ is created when missing, for development; a configured file is not.
ANYUAN_DATA_KEY_FILE_REQUIRED = bool(os.environ.get("ANYUAN_DATA_KEY_FILE"))
ANYUAN_DATA_KEY_FILE = Path(
    os.environ.get("ANYUAN_DATA_KEY_FILE") or VAR_DIR / "secret" / "data.key"
).resolve()

# Live push (anyuan.live): each web process polls the outbox this often for new messages;
# messages older than ANYUAN_LIVE_KEEP_S are pruned (and no longer replayed on resume).
ANYUAN_LIVE_POLL_S = float(os.environ.get("ANYUAN_LIVE_POLL_S", "0.1"))
ANYUAN_LIVE_KEEP_S = _env_int("ANYUAN_LIVE_KEEP_S", 3600)
# A stream's session or token is checked again this often: a sign-out, a new password or a
# revoked token ends the stream within this time.
ANYUAN_LIVE_REAUTH_S = float(os.environ.get("ANYUAN_LIVE_REAUTH_S", "5"))

# Imports (registry and incidents): at most this many data rows per file, this many bytes
# once the XLSX zip is unpacked (a "zip bomb" is refused before parsing), this many
# problems listed in a report (the rest are counted). Files above
# ANYUAN_IMPORT_BACKGROUND_BYTES are imported in the background (the page shows progress).
ANYUAN_IMPORT_MAX_ROWS = int(os.environ.get("ANYUAN_IMPORT_MAX_ROWS", "50000"))
ANYUAN_IMPORT_MAX_UNPACKED_BYTES = 256 * 1024 * 1024
ANYUAN_IMPORT_MAX_PROBLEMS = 1000
ANYUAN_IMPORT_BACKGROUND_BYTES = 256 * 1024
ANYUAN_IMPORT_JOBS_DIR = VAR_DIR / "imports"
# Incident spreadsheets (incidents/importing.py) are smaller than the registry's.
ANYUAN_INCIDENT_IMPORT_MAX_BYTES = _env_int("ANYUAN_INCIDENT_IMPORT_MAX_BYTES", 20 * 1024 * 1024)

# Live push, continued (live/stream.py): a keep-alive comment this often on a quiet stream,
# and at most this many messages queued for one slow client (then it is dropped).
ANYUAN_LIVE_KEEPALIVE_S = _env_float("ANYUAN_LIVE_KEEPALIVE_S", 15)
ANYUAN_LIVE_QUEUE = _env_int("ANYUAN_LIVE_QUEUE", 1000)

# Device ingestion (events/ingest.py, events/asgi_ingest.py): at most this many events and
# bytes per request; events stamped further in the future or older than this are refused;
# a device clock off by more than the tolerance is reported. Group commit gathers
# concurrent requests into one transaction; the WAL checkpoint of SQLite runs in the
# background ("background") or as SQLite does by itself ("auto").
ANYUAN_INGEST_MAX_ITEMS = _env_int("ANYUAN_INGEST_MAX_ITEMS", 10_000)
ANYUAN_INGEST_MAX_BYTES = _env_int("ANYUAN_INGEST_MAX_BYTES", 8 * 1024 * 1024)
ANYUAN_EVENT_MAX_FUTURE_S = _env_int("ANYUAN_EVENT_MAX_FUTURE_S", 1800)
ANYUAN_EVENT_MAX_AGE_S = _env_int("ANYUAN_EVENT_MAX_AGE_S", 30 * 86400)
ANYUAN_CLOCK_SKEW_TOLERANCE_S = _env_float("ANYUAN_CLOCK_SKEW_TOLERANCE_S", 120)
ANYUAN_INGEST_GROUP_COMMIT = _env_flag("ANYUAN_INGEST_GROUP_COMMIT", True)
ANYUAN_INGEST_WAL_CHECKPOINT = os.environ.get("ANYUAN_INGEST_WAL_CHECKPOINT", "background")

# SQLite write turns (core/write_turns.py): ingestion and the processor take turns at
# writing; a request of at least ANYUAN_INGEST_BACKFILL_ITEMS events is a backfill, which
# holds the processor back at most ANYUAN_PROCESSOR_YIELD_S.
ANYUAN_SQLITE_WRITE_TURNS = _env_flag("ANYUAN_SQLITE_WRITE_TURNS", True)
ANYUAN_INGEST_BACKFILL_ITEMS = _env_int("ANYUAN_INGEST_BACKFILL_ITEMS", 256)
ANYUAN_PROCESSOR_YIELD_S = _env_float("ANYUAN_PROCESSOR_YIELD_S", 1.0)
# Long-running processes raise the young generation's garbage-collection threshold to this
# many allocations once loaded (core/gc_tuning.py); 0 keeps Python's defaults.
ANYUAN_GC_THRESHOLD = _env_int("ANYUAN_GC_THRESHOLD", 50_000)
# Where ``anyuan site`` writes the state of its services (core/supervisor.py).
ANYUAN_SITE_STATE = Path(os.environ.get("ANYUAN_SITE_STATE") or VAR_DIR / "run" / "site.json")

# Alerts (alerts/actions.py, alerts/evaluator.py): seconds an alert of a severity may stay
# unacknowledged before it is escalated, per severity (overrides of
# alerts.actions.DEFAULT_ESCALATION_LIMITS), up to this many levels; an exit without an
# entry waits this long for its entry to arrive late.
ANYUAN_ALERT_ESCALATION: dict[str, int] = {}
ANYUAN_ALERT_ESCALATION_MAX_LEVEL = _env_int("ANYUAN_ALERT_ESCALATION_MAX_LEVEL", 3)
ANYUAN_EXIT_HOLD_S = _env_int("ANYUAN_EXIT_HOLD_S", 1800)

# Disputes (disputes/): time limits per tier (overrides of disputes.routing.LIMITS, in
# working days), a reminder this many hours before a limit ends, the Chinese working
# calendar's exceptions (ISO dates, comma-separated), case files' size and place.
ANYUAN_DISPUTE_LIMITS: dict[int, dict] = {}
ANYUAN_DISPUTE_REMIND_HOURS = _env_int("ANYUAN_DISPUTE_REMIND_HOURS", 4)
ANYUAN_EXTRA_HOLIDAYS = _env_list("ANYUAN_EXTRA_HOLIDAYS")
ANYUAN_EXTRA_WORKDAYS = _env_list("ANYUAN_EXTRA_WORKDAYS")
ANYUAN_DISPUTE_FILE_MAX_BYTES = _env_int("ANYUAN_DISPUTE_FILE_MAX_BYTES", 10 * 1024 * 1024)
ANYUAN_DISPUTE_FILES = Path(
    os.environ.get("ANYUAN_DISPUTE_FILES") or VAR_DIR / "files" / "disputes"
).resolve()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"anyuan": {"level": "INFO"}},
}
