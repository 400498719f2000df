"""Django settings for anyuan.

Everything a deployment changes comes from the environment:

- ``DATABASE_URL``   PostgreSQL for real deployments; unset → SQLite under ``var/``.
- ``ANYUAN_VAR``     where the embedded defaults keep their files (default ``./var``).
- ``ANYUAN_SECRET_KEY`` / ``ANYUAN_DATA_KEY``  Django's signing key and the personal-data
  key (base64, 32 bytes). Unset → created once under ``var/secret/`` with mode 0600.
- ``ANYUAN_DEBUG``   ``1`` for development error pages.
- ``ANYUAN_ALLOWED_HOSTS`` comma-separated host names.
- ``ANYUAN_TLS``     ``1`` behind a TLS-terminating proxy: secure cookies, HSTS, HTTPS only.
- ``ANYUAN_TRUSTED_PROXIES`` the proxies whose X-Forwarded-For is believed.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

from anyuan.core.secrets import secret_from_env_or_file

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(os.environ.get("ANYUAN_HOME", Path.cwd())).resolve()
VAR_DIR = Path(os.environ.get("ANYUAN_VAR", BASE_DIR / "var")).resolve()

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
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
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
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "landing"
LOGOUT_REDIRECT_URL = "accounts:login"

# Login throttling and lock-out (django-axes): 5 failures per user name and address lock
# the pair for 15 minutes; a police admin can unlock earlier in the admin.
AXES_FAILURE_LIMIT = int(os.environ.get("ANYUAN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False

# Reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated);
# empty: the connecting address is the client's (core/net.py).
ANYUAN_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("ANYUAN_TRUSTED_PROXIES", "").split(",") if p.strip()
]

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

ANYUAN_DATA_KEY_FILE = VAR_DIR / "secret" / "data.key"

# Live push (anyuan.live): each web process polls the outbox this often for new messages;
# messages older than ANYUAN_LIVE_KEEP_S are pruned (and no longer replayed on resume).
ANYUAN_LIVE_POLL_S = float(os.environ.get("ANYUAN_LIVE_POLL_S", "0.1"))
ANYUAN_LIVE_KEEP_S = int(os.environ.get("ANYUAN_LIVE_KEEP_S", "3600"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"anyuan": {"level": "INFO"}},
}
