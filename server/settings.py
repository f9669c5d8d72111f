"""Django settings: every value comes from the environment, read here and nowhere else.

Development defaults are safe to run on a laptop; with CRADLE_ENV=production the secrets
(DJANGO_SECRET_KEY, COUCHDB_PASSWORD) must be set or the process refuses to start.
"""

import hashlib
import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
CRADLE_ENV = env.str("CRADLE_ENV", default="development")
if CRADLE_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"CRADLE_ENV must be development, production or test, not {CRADLE_ENV!r}"
    )
PRODUCTION = CRADLE_ENV == "production"

DATA_DIR = Path(env.str("CRADLE_DATA_DIR", default=str(BASE_DIR / ".data")))
FORMS_BUILD_DIR = Path(env.str("CRADLE_FORMS_DIR", default=str(BASE_DIR / "build" / "forms")))


def _secret(name: str, dev_default: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when CRADLE_ENV=production")
    return dev_default


SECRET_KEY = _secret("DJANGO_SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when CRADLE_ENV=production")
# Analysts see children by a keyed pseudonym (`forms.deidentify`). Its own secret keeps the
# pseudonyms stable when DJANGO_SECRET_KEY is rotated; unset, it is derived from that key.
PSEUDONYM_KEY = (
    env.str("CRADLE_PSEUDONYM_KEY", default="")
    or hashlib.sha256(f"cradle child pseudonyms|{SECRET_KEY}".encode()).hexdigest()
).encode()
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# CouchDB: production is Apache CouchDB 3; development runs PouchDB Server (see Makefile).
COUCHDB = {
    "URL": env.str(
        "COUCHDB_URL", default=f"http://127.0.0.1:{env.int('COUCHDB_PORT', default=5984)}"
    ),
    "USER": env.str("COUCHDB_USER", default="" if PRODUCTION else "admin"),
    "PASSWORD": _secret("COUCHDB_PASSWORD", "cradle-dev-password"),
    "DB_PREFIX": env.str("COUCHDB_DB_PREFIX", default="cradle_"),
    "TIMEOUT": env.float("COUCHDB_TIMEOUT", default=30.0),
    "RETRIES": env.int("COUCHDB_RETRIES", default=4),
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "server.core",
    "server.accounts",
    "server.openrosa",
    "server.submissions",
    "server.dashboard",
    "server.due",
    "server.coverage",
    "server.syncs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # CouchDB out of reach: 503 + Retry-After on every path; API errors always JSON.
    "server.core.middleware.ErrorResponseMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

# Failed logins (web, API and ODK Collect's Digest) are counted per username and address;
# past the limit that pair is locked out for the cool-off time.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("CRADLE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("CRADLE_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "server.core.lockout.lockout_response"
# The address a lockout applies to: the client's as the trusted proxy reports it, else the
# peer's own (one attacker behind the proxy must not lock a user out for everyone).
AXES_CLIENT_IP_CALLABLE = "server.core.lockout.client_ip"

ROOT_URLCONF = "server.urls"
WSGI_APPLICATION = "server.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'cradle.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Every Digest login writes a row (its nonce count, see server.accounts.digest), from
    # several gunicorn workers at once: WAL lets readers and the writer proceed together,
    # and IMMEDIATE takes the write lock up front, so waiting replaces "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Records the HTTP Digest credential ODK Collect needs whenever a password is set.
    {"NAME": "server.accounts.digest.DigestCredentialRecorder"},
    # Revokes the user's API tokens whenever a password is set.
    {"NAME": "server.accounts.credentials.ApiTokenRevoker"},
]

# OpenRosa (ODK Collect): Digest realm and size bounds on what a tablet may send.
OPENROSA_REALM = env.str("OPENROSA_REALM", default="Cradle")
CRADLE_LIMITS = {
    "MAX_XML_BYTES": env.int("CRADLE_MAX_XML_BYTES", default=2 * 1024 * 1024),
    "MAX_ATTACHMENT_BYTES": env.int("CRADLE_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024),
    "MAX_ATTACHMENTS": 100,
    # Advertised to Collect as X-OpenRosa-Accept-Content-Length: it splits larger posts.
    "MAX_REQUEST_BYTES": env.int("CRADLE_MAX_REQUEST_BYTES", default=50 * 1024 * 1024),
}
DATA_UPLOAD_MAX_NUMBER_FILES = 101
FILE_UPLOAD_HANDLERS = [
    "server.openrosa.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "中文"), ("en", "English")]
TIME_ZONE = env.str("CRADLE_TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "server.core.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Cradle API",
    "DESCRIPTION": "Field data backend for newborn visits, nutrition packs and immunization.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Security headers; HTTPS-only cookies when running in production behind TLS.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
# Behind a TLS proxy, `X-Forwarded-Proto: https` and `X-Forwarded-For` are believed only
# from the proxy's own addresses (IPs or networks). gunicorn decides the scheme (`cradle
# serve` gives it these addresses as `forwarded_allow_ips`, none when the setting is off),
# so Django's SECURE_PROXY_SSL_HEADER, which would believe any client, stays unset.
BEHIND_TLS_PROXY = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
TRUSTED_PROXIES = (
    env.list("DJANGO_TRUSTED_PROXIES", default=["127.0.0.1", "::1"]) if BEHIND_TLS_PROXY else []
)
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy)
    except ValueError as _bad:
        raise ImproperlyConfigured(f"DJANGO_TRUSTED_PROXIES: {_bad}") from _bad

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("CRADLE_LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Every ODK Collect upload starts with a 401 challenge: not worth a warning each.
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
    },
}
