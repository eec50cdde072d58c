"""The one settings file. Every knob is an environment variable with a safe embedded default.

A bad value (``DEBUG=maybe``, ``DATABASE_URL=nonsense``) stops start-up with an error that names
the variable, rather than running on a silent fallback.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from environs import Env
from marshmallow.validate import URL, OneOf, Range

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env(expand_vars=True)
env.read_env(BASE_DIR / ".env", recurse=False)  # optional; real env vars win

VAR_DIR = env.path("CHATSITE_VAR_DIR", BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the env, else one random key per installation, kept under var/."""
    key = env.str("SECRET_KEY", "")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "csp",
    "django_htmx",
    "template_partials",
    "axes",
    "chatsite.chat",
    "chatsite.emulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "chatsite.inline_middleware.CSPMiddleware",  # these: hooks on the loop (the module says)
    "chatsite.static_files.StaticFilesMiddleware",  # WhiteNoise, async (static_files.py)
    "chatsite.inline_middleware.SessionMiddleware",
    "chatsite.inline_middleware.LocaleMiddleware",  # Accept-Language (after the session)
    "chatsite.inline_middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "chatsite.inline_middleware.AuthenticationMiddleware",
    "chatsite.chat.language.AccountLanguageMiddleware",  # the person's choice beats the browser's
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "chatsite.security.no_store.NoStoreMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into its page
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chatsite.chat.context.site",
                "chatsite.chat.context.preferences",
            ],
        },
    }
]

DATABASES = {"default": env.dj_db_url("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Persistent connections: Channels closes "old" connections before every websocket message,
# and with CONN_MAX_AGE=0 that meant a new PostgreSQL connection (~5 ms) per message.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", 600, validate=Range(min=0))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets page loads read while a turn writes its steps.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No socket timeout: the layer's receive blocks in BZPOPMIN for 5 s, and redis-py's
            # default 5 s read timeout would end every idle socket with 1011.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Rate-limit counters (and anything else cached) are shared between processes through Redis.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# Several processes share replies through the channel layer (chatsite/chat/relay.py).
CHATSITE_RELAY = env.bool("CHATSITE_RELAY", bool(REDIS_URL))
# A reply's frames go to other processes only while a tab there watches its conversation, but
# always for its first seconds (a new tab's "watch" may still be on its way; chat/relay.py).
RELAY_UNWATCHED_GRACE_S = env.float("RELAY_UNWATCHED_GRACE_S", 2.0, validate=Range(min=0, max=60))
# A running reply is leased to its process for this long and renewed; a crashed process's
# replies are re-attached by another one once their lease runs out (chatsite/chat/leases.py).
TURN_LEASE_SECONDS = env.float("TURN_LEASE_SECONDS", 10.0, validate=Range(min=1, max=600))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT failures for one username, or
# from one client address, sign-in (the admin's too) is refused for LOGIN_LOCKOUT_MINUTES.
AUTHENTICATION_BACKENDS = ["chatsite.security.auth.ThrottledModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 10, validate=Range(min=1))
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", 15, validate=Range(min=1)))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per account, per client
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the wait is what the page says
AXES_LOCKOUT_CALLABLE = "chatsite.security.auth.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # keep failures only, not every sign-in's address
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
ALLOW_SIGNUP = env.bool("ALLOW_SIGNUP", True)
# Password sign-in; off: only superusers may still use it (break glass), everyone else uses SSO.
PASSWORD_LOGIN = env.bool("PASSWORD_LOGIN", True)

# --- Single sign-on (OpenID Connect, mozilla-django-oidc; chatsite/chat/sso/) ---------------
# On when OIDC_ISSUER is set; endpoints and keys come from the issuer's discovery document.


def _issuer(value: str) -> str:
    """https, or plain http to a loopback host only (a provider on this machine)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    loopback = parts.hostname in {"127.0.0.1", "::1", "localhost"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError("OIDC_ISSUER must be an https:// URL (http only to a loopback host)")
    return value.rstrip("/")


OIDC_ISSUER = env.str("OIDC_ISSUER", "")
if OIDC_ISSUER:
    OIDC_ISSUER = _issuer(OIDC_ISSUER)
OIDC_ENABLED = bool(OIDC_ISSUER)
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", "")
if OIDC_ENABLED and not OIDC_RP_CLIENT_ID:
    raise ValueError("OIDC_CLIENT_ID is needed with OIDC_ISSUER")
if not (PASSWORD_LOGIN or OIDC_ENABLED):
    raise ValueError("PASSWORD_LOGIN=false needs single sign-on (OIDC_ISSUER)")
OIDC_BUTTON_LABEL = env.str("OIDC_BUTTON_LABEL", "")  # empty: "Sign in with single sign-on"
_domains: list[str] = env.list("OIDC_ALLOWED_DOMAINS", [])
OIDC_ALLOWED_DOMAINS = [d.lower().lstrip("@") for d in _domains]
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", "groups")
OIDC_ADMIN_GROUP = env.str("OIDC_ADMIN_GROUP", "")
OIDC_STAFF_GROUP = env.str("OIDC_STAFF_GROUP", "")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = env.str(
    "OIDC_SIGN_ALGO",
    "RS256",
    validate=OneOf(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]),
)
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", 10.0, validate=Range(min=1, max=120))
# The library's knobs that are not the operator's to turn: code flow with PKCE, state and
# nonce; the ID token kept for RP-initiated logout; our views and backend around it.
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True
OIDC_CALLBACK_CLASS = "chatsite.chat.sso.views.Callback"
OIDC_AUTHENTICATE_CLASS = "chatsite.chat.sso.views.Start"
LOGIN_REDIRECT_URL_FAILURE = "login"
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("chatsite.chat.sso.backend.SignInBackend")
# Per person: messages per period ("30/m", "500/h"; empty for none) and tokens per day (0: none).
RATE_LIMIT_MESSAGES = env.str("RATE_LIMIT_MESSAGES", "30/m")
DAILY_TOKEN_BUDGET = env.int("DAILY_TOKEN_BUDGET", 0, validate=Range(min=0))
# What a running reply holds of that budget when it sets no max_output_tokens (settled at its end).
BUDGET_RESERVE_TOKENS = env.int("BUDGET_RESERVE_TOKENS", 8192, validate=Range(min=1))
INVITE_DAYS = env.int("INVITE_DAYS", 7, validate=Range(min=1, max=365))
# Conversations idle longer than this many days are purged daily (0: kept forever).
RETENTION_DAYS = env.int("RETENTION_DAYS", 0, validate=Range(min=0))
# Who may read other people's conversations in the admin (every read is logged).
ADMIN_TRANSCRIPT_READERS = env.str(
    "ADMIN_TRANSCRIPT_READERS", "superusers", validate=OneOf(["superusers", "staff"])
)

# The interface languages (the guides' own), each named in itself for the language picker.
# Adding one: README, "Languages".
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("ru", "Русский"),
    ("he", "עברית"),
    ("vi", "Tiếng Việt"),
    ("fa", "فارسی"),
    ("it", "Italiano"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", VAR_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", VAR_DIR / "media")
# Attachments are sent to the API inline (base64): each file up to the per-file limit.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024, validate=Range(min=1))
ATTACHMENT_MAX_FILES = env.int("ATTACHMENT_MAX_FILES", 10, validate=Range(min=1, max=100))
ATTACHMENT_MAX_TOTAL_BYTES = env.int(
    "ATTACHMENT_MAX_TOTAL_BYTES", 40 * 1024 * 1024, validate=Range(min=1)
)
# Uploads are read into temporary files past this size, not memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Request bodies over these are refused with 413 while they arrive (chatsite/security/): the
# composer's message with its attachments, and any other request (a form at most).
UPLOAD_BODY_MAX_BYTES = env.int(
    "UPLOAD_BODY_MAX_BYTES", ATTACHMENT_MAX_TOTAL_BYTES + 8 * 1024 * 1024, validate=Range(min=1)
)
REQUEST_BODY_MAX_BYTES = env.int(
    "REQUEST_BODY_MAX_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE, validate=Range(min=1)
)
# Hashed, compressed files with far-future caching; `collectstatic` makes them (make run and
# the Docker build do). In debug, files are served straight from the source folders.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# --- Security ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind TLS, set HTTPS=true: secure cookies and a redirect from http. HSTS and trusting the
# proxy's X-Forwarded-Proto are separate opt-ins: each is wrong to turn on without TLS.
HTTPS = env.bool("HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env.bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # health checks come over plain http from inside
SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", 0, validate=Range(min=0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env.bool("HSTS_PRELOAD", False)
if env.bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Only the app's own assets. Inline <style> elements and scripts are never allowed; style
# *attributes* are (markdown tables align cells with them, after nh3 has vetted each value).
# Google's search-suggestion snippet is framed from our own URL, in a sandbox, with its own CSP.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "https:"],
        "media-src": ["'self'", "https:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
    }
}

if OIDC_ENABLED:
    # Signing out is a form post answered with a redirect to the provider's end-session
    # endpoint (RP-initiated logout); browsers hold redirects after a post to form-action.
    from urllib.parse import urlsplit as _urlsplit

    _provider = _urlsplit(OIDC_ISSUER)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(
        f"{_provider.scheme}://{_provider.netloc}"
    )

# --- Gemini Interactions API --------------------------------------------------------------
GEMINI_API_KEY = env.str("GEMINI_API_KEY", "")
GEMINI_API_BASE_URL = env.str(
    "GEMINI_API_BASE_URL",
    "https://generativelanguage.googleapis.com/v1beta",
    validate=URL(schemes={"http", "https"}, require_tld=False),
).rstrip("/")
GEMINI_API_BASE_URL_SET = bool(os.environ.get("GEMINI_API_BASE_URL"))
# The models and agents people may pick (the allow-list); the first model is the default.
GEMINI_MODELS = env.list(
    "GEMINI_MODELS",
    [
        "gemini-3.5-flash",
        "gemini-3.1-pro-preview",
        "gemini-3.1-flash-lite-preview",
        "gemini-3.1-flash-image",
        "gemini-2.5-flash",
        "gemini-3.1-flash-tts-preview",
    ],
)
GEMINI_AGENTS = env.list(
    "GEMINI_AGENTS", ["deep-research-pro-preview-12-2025", "antigravity-preview-05-2026"]
)
GEMINI_MODEL = env.str("GEMINI_MODEL", GEMINI_MODELS[0] if GEMINI_MODELS else "gemini-3.5-flash")
# Writes a new conversation's title after its first reply (a small request); empty: no titles.
GEMINI_TITLE_MODEL = env.str("GEMINI_TITLE_MODEL", "gemini-3.1-flash-lite-preview")
GEMINI_TIMEOUT = env.float("GEMINI_TIMEOUT", 60.0, validate=Range(min=1))
GEMINI_MAX_RETRIES = env.int("GEMINI_MAX_RETRIES", 4, validate=Range(min=0, max=10))
# How long the API keeps stored interactions (55 days paid, 1 day free): an older chain is
# not chained to but re-sent as history (a 404 or 400 for a chain does the same).
GEMINI_STORED_DAYS = env.float("GEMINI_STORED_DAYS", 55.0, validate=Range(min=0))
# With no key the app talks to its own emulator: an embedded one on a free loopback port, or
# the one GEMINI_API_BASE_URL points at (for example `manage.py emulator`).
GEMINI_EMULATED = not GEMINI_API_KEY
EMULATOR_PACE_MS = env.int("EMULATOR_PACE_MS", 35, validate=Range(min=0, max=10_000))

# --- Streaming ----------------------------------------------------------------------------
# Deltas are coalesced for at most this long before they go to the browser.
STREAM_FLUSH_MS = env.int("STREAM_FLUSH_MS", 15, validate=Range(min=0, max=1000))
# A websocket whose client stops reading is closed (4408) once this much waits unsent in the
# server for it; the tab reconnects and catches up from the stored turn.
WS_MAX_BUFFER_BYTES = env.int(
    "WS_MAX_BUFFER_BYTES", 2 * 1024 * 1024, validate=Range(min=64 * 1024, max=256 * 1024 * 1024)
)

# --- Logs: plain for people, JSON for machines; never the API key, never message text ------
LOG_LEVEL = env.str(
    "LOG_LEVEL", "INFO", validate=OneOf(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
)
LOG_FORMAT = env.str("LOG_FORMAT", "plain", validate=OneOf(["plain", "json"]))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "chatsite.logs.RedactSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # httpx logs every request URL at INFO; daphne's access log is separate (stdout).
    # axes logs every sign-in at INFO; its lockouts are warnings.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
