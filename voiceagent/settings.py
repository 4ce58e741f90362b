"""Settings: everything from the environment, with embedded defaults that run offline.

See `.env.example` for every variable. A bad value raises ImproperlyConfigured at start.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

from voiceagent.config import (
    bool_var,
    choice_var,
    float_var,
    int_var,
    phone_var,
    region_var,
    str_var,
    url_var,
)

BASE_DIR = Path(__file__).resolve().parent.parent
env_file = BASE_DIR / ".env"
if env_file.exists() and not os.environ.get("VOICEAGENT_IGNORE_DOTENV"):
    environ.Env.read_env(str(env_file))

DEBUG = bool_var("DEBUG", False)
SECRET_KEY = str_var("SECRET_KEY", "dev-insecure-change-me")
if not DEBUG and SECRET_KEY == "dev-insecure-change-me" and bool_var("REQUIRE_SECRET_KEY", False):
    raise ImproperlyConfigured("SECRET_KEY must be set when REQUIRE_SECRET_KEY is on")

PUBLIC_BASE_URL = url_var("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
_public_host = urlparse(PUBLIC_BASE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = [
    h.strip()
    for h in str_var("ALLOWED_HOSTS", f"{_public_host},localhost,127.0.0.1,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [f"{urlparse(PUBLIC_BASE_URL).scheme}://{urlparse(PUBLIC_BASE_URL).netloc}"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "calls",
    "funnel",
    "telephony",
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
]

ROOT_URLCONF = "voiceagent.urls"
ASGI_APPLICATION = "voiceagent.asgi.application"
WSGI_APPLICATION = None

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

# Database: SQLite (WAL) by default; DATABASE_URL=postgres://… for PostgreSQL via psycopg 3.
DATABASE_URL = str_var("DATABASE_URL", "")
if DATABASE_URL:
    try:
        DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
    except Exception as exc:  # django-environ raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL is invalid: {exc.__class__.__name__}") from None
    if DATABASES["default"]["ENGINE"] not in (
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    ):
        raise ImproperlyConfigured("DATABASE_URL must be postgres://… or sqlite:///…")
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    SQLITE_PATH = Path(str_var("SQLITE_PATH", str(BASE_DIR / "data" / "voiceagent.sqlite3")))
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            "OPTIONS": {
                # WAL lets the admin read while calls write; the timeout rides out write bursts.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

# Channel layer: in-memory by default; REDIS_URL shares calls across Daphne workers.
REDIS_URL = url_var("REDIS_URL", "", schemes=("redis", "rediss"))
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, which breaks channels-redis's
            # 5 s blocking pop: every consumer crashed after 5 idle seconds (channels_redis#422).
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every start when it is missing
# Serve app static files straight from the apps, so `make serve` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["calls.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["calls.api.auth.HasApiKey"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "calls.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "voiceagent API",
    "DESCRIPTION": "Place and inspect AI phone calls. Authenticate with the X-API-Key header.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    },
    "SECURITY": [{"ApiKey": []}],
}

# --- The product's own settings -------------------------------------------------------
API_KEY = str_var("API_KEY", "")

TWILIO_ACCOUNT_SID = str_var("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = str_var("TWILIO_AUTH_TOKEN", "")
DEFAULT_REGION = region_var("DEFAULT_REGION", "US")
TWILIO_PHONE_NUMBER = phone_var("TWILIO_PHONE_NUMBER", DEFAULT_REGION)
if TWILIO_ACCOUNT_SID and not TWILIO_ACCOUNT_SID.startswith("AC"):
    raise ImproperlyConfigured("TWILIO_ACCOUNT_SID is invalid: expected a value starting with AC")
if bool(TWILIO_ACCOUNT_SID) != bool(TWILIO_AUTH_TOKEN):
    raise ImproperlyConfigured("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set together")
# The simulated line signs its webhooks with this when there is no Twilio account, so the
# same RequestValidator check runs on every request either way.
SIMULATED_AUTH_TOKEN = str_var("SIMULATED_AUTH_TOKEN", "") or f"sim-{SECRET_KEY}"
# What dials a started call: the phone line chosen by telephony (Twilio or simulated).
CALL_PLACER = str_var("CALL_PLACER", "telephony.lines.call_place")
# Who answers calls on the simulated line (no Twilio account), and how fast its clock runs.
SIMULATED_PERSONA = choice_var(
    "SIMULATED_PERSONA",
    "interested",
    (
        "interested",
        "not_interested",
        "unclear",
        "asks_if_ai",
        "wants_human",
        "do_not_call",
        "silent",
        "interrupts",
    ),
)
SIMULATED_SPEED = float_var("SIMULATED_SPEED", 1.0, minimum=0.1, maximum=20)
TWILIO_CONFIGURED = bool(TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER)

DEEPGRAM_API_KEY = str_var("DEEPGRAM_API_KEY", "")
OPENAI_API_KEY = str_var("OPENAI_API_KEY", "")
OPENAI_BASE_URL = url_var("OPENAI_BASE_URL", "")
OPENAI_MODEL = str_var("OPENAI_MODEL", "gpt-4o-mini")
ELEVENLABS_API_KEY = str_var("ELEVENLABS_API_KEY", "")
ELEVENLABS_VOICE_ID = str_var("ELEVENLABS_VOICE_ID", "21m00Tcm4TlvDq8ikWAM")

STT_PROVIDER = choice_var("STT_PROVIDER", "auto", ("auto", "local", "deepgram"))
TTS_PROVIDER = choice_var("TTS_PROVIDER", "auto", ("auto", "local", "elevenlabs"))
LLM_PROVIDER = choice_var("LLM_PROVIDER", "auto", ("auto", "offline", "openai"))
PROVIDER_TIMEOUT_SECONDS = float_var("PROVIDER_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=60)
# Load the local speech models when the server starts, so the first call does not wait.
WARM_MODELS = bool_var("WARM_MODELS", True)
# "stt=package.module:Class,tts=…": use that class for the role instead (benchmarks' fakes).
PROVIDER_OVERRIDES = str_var("PROVIDER_OVERRIDES", "")
LLM_TIMEOUT_SECONDS = float_var("LLM_TIMEOUT_SECONDS", 4.0, minimum=0.1, maximum=60)

HANDOFF_NUMBER = phone_var("HANDOFF_NUMBER", DEFAULT_REGION)
AGENT_URL = url_var("AGENT_URL", "")
AGENT_API_KEY = str_var("AGENT_API_KEY", "")

TURN_BUDGET_SECONDS = float_var("TURN_BUDGET_SECONDS", 1.8, minimum=0.2, maximum=30)
SILENCE_TIMEOUT_SECONDS = float_var("SILENCE_TIMEOUT_SECONDS", 8.0, minimum=1, maximum=300)
MAX_CALL_SECONDS = int_var("MAX_CALL_SECONDS", 900, minimum=10, maximum=4 * 3600)
VAD_HANGOVER_MS = int_var("VAD_HANGOVER_MS", 500, minimum=100, maximum=3000)
BARGE_IN_MS = int_var("BARGE_IN_MS", 300, minimum=60, maximum=3000)
STREAM_TOKEN_TTL_SECONDS = int_var("STREAM_TOKEN_TTL_SECONDS", 300, minimum=10, maximum=3600)
RETENTION_DAYS = int_var("RETENTION_DAYS", 90, minimum=1, maximum=3650)
CALLBACK_TIMEOUT_SECONDS = float_var("CALLBACK_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=60)
CALLBACK_RETRIES = int_var("CALLBACK_RETRIES", 3, minimum=0, maximum=10)

LOG_LEVEL = choice_var("LOG_LEVEL", "info", ("debug", "info", "warning", "error"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "voiceagent.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        "voiceagent": {"handlers": ["console"], "level": LOG_LEVEL.upper(), "propagate": True},
        "django": {"handlers": ["console"], "level": "WARNING"},
    },
}
