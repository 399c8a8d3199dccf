"""Django settings, read from the environment (12-factor) with safe local defaults.

Every variable is listed in the README's configuration table. Local defaults need no server:
SQLite and a file-system Celery broker under var/, so `make run` works on a bare machine.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from csp.utils import DEFAULT_DIRECTIVES
from django.core.exceptions import ImproperlyConfigured

import ml
from ml.precision import PRECISIONS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from exc


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_csp(name: str, default: str) -> dict | None:
    """A Content-Security-Policy written as the header's value ("default-src 'self'; ...") as
    django-csp's setting; an empty value sends no header. Written out exactly: django-csp's
    implicit default-src is not added, and a directive it does not know (and would drop) is
    refused."""
    directives: dict[str, list[str] | bool | None] = {"default-src": None}
    for part in os.environ.get(name, default).split(";"):
        if not part.strip():
            continue
        directive, *sources = part.split()
        if directive.lower() not in DEFAULT_DIRECTIVES:
            raise ImproperlyConfigured(f"{name}: unknown directive {directive!r}")
        directives[directive.lower()] = sources or True
    return {"DIRECTIVES": directives} if any(directives.values()) else None


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    path = Path(value) if value else default
    return path if path.is_absolute() else (BASE_DIR / path).resolve()


DEBUG = _env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105  DEBUG only

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    # Its system checks catch a policy written in django-csp's old CSP_* settings.
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "campaigns",
    "analytics",
    "inference",
    "api",
    "reports",
    "studies",
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
    "csp.middleware.CSPMiddleware",
    # Last: it answers a locked-out login attempt before the view runs.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one username, or
# from one client address, logins are refused (HTTP 429) for LOGIN_LOCKOUT_MINUTES; a success
# resets the count. `manage.py axes_reset_username NAME` lifts a lock early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=_env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Failed logins name every team's users: shown to operators with axes' commands, not the admin.
AXES_ENABLE_ADMIN = False
AXES_CLIENT_IP_CALLABLE = "campaigns.requests.client_ip"
# Proxies in front of the web server that append to X-Forwarded-For (compose behind a TLS proxy:
# 1); 0 trusts no header and takes the connection's address.
TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)

ROOT_URLCONF = "fer_site.urls"
WSGI_APPLICATION = "fer_site.wsgi.application"

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
            ],
        },
    },
]

# Database: DATABASE_URL, e.g. postgres://user:pass@host:5432/name; default a SQLite file.
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=_env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a Celery worker started by the tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    # Web and worker write concurrently; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "campaigns:campaign_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Files: uploads, photos and model artifacts all go through default_storage.
STATIC_URL = "static/"
STATIC_ROOT = _env_path("STATIC_ROOT", VAR_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Plotly's JavaScript is found in the installed plotly package (no CDN, no vendored copy).
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "campaigns.staticfinders.PlotlyFinder",
]
# Files served at the site's root by whitenoise: /favicon.ico, which browsers ask for.
WHITENOISE_ROOT = BASE_DIR / "fer_site" / "public"
MEDIA_URL = "media/"
MEDIA_ROOT = _env_path("MEDIA_ROOT", VAR_DIR / "media")
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
UPLOAD_MAX_BYTES = _env_int("UPLOAD_MAX_BYTES", 2 * 1024**3)
# Uploads larger than this stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
# Most loose photos in one upload (more go in a ZIP); Django's own default is 100.
DATA_UPLOAD_MAX_NUMBER_FILES = _env_int("UPLOAD_MAX_PHOTOS", 1000)

# Object storage: with S3_BUCKET set every file (uploads, photos, videos, model artifacts) lives
# in that private bucket of any S3-compatible store, so web and workers need no shared folder.
S3_BUCKET = os.environ.get("S3_BUCKET", "")
if S3_BUCKET:
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config as BotoConfig

    _S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    _S3_TRANSFER = TransferConfig(
        multipart_threshold=8 * 1024**2, multipart_chunksize=8 * 1024**2, max_concurrency=4
    )
    # Parts of a stream that s3transfer reads ahead into memory (10 by default: 80 MiB).
    _S3_TRANSFER.max_in_memory_upload_chunks = 4
    _S3_TRANSFER.max_in_memory_download_chunks = 4
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": _S3_ENDPOINT_URL,
            "region_name": os.environ.get("S3_REGION") or "us-east-1",
            # None: boto3's own chain (an instance role, ~/.aws) finds the credentials.
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            # Private objects: the browser gets photos only through the team-checked views.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            # Unique names as on a local disk: two ads' creatives "spot.mp4" never overwrite.
            "file_overwrite": False,
            # A file read back (an archive, a video) spills to a temporary file past this size.
            "max_memory_size": FILE_UPLOAD_MAX_MEMORY_SIZE,
            "client_config": BotoConfig(
                signature_version="s3v4",
                # MinIO and most self-hosted stores want path-style URLs (host/bucket/key).
                s3={
                    "addressing_style": os.environ.get("S3_ADDRESSING_STYLE")
                    or ("path" if _S3_ENDPOINT_URL else "virtual")
                },
                connect_timeout=5,
                read_timeout=60,
                retries={"mode": "standard", "max_attempts": 3},
            ),
            # Uploads go in 8 MiB parts, 4 at a time: a 2 GB ZIP never sits in memory.
            "transfer_config": _S3_TRANSFER,
        },
    }

# Celery: the broker is the only shared state between web and workers (no result backend).
_BROKER_DIR = VAR_DIR / "broker"
# The file-system transport ignores the host, but kombu warns "No hostname was supplied" on
# every connection (each upload's task) of a URL without one: "localhost" names it.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem:"):
    for sub in ("queue", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
# Django's cache holds the API's request counts: in Redis when the broker is Redis (or
# CACHE_URL names one), so every web process counts against one limit; else in each process's
# memory (one process: `make run`).
CACHE_URL = os.environ.get("CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "fer-cache",
            # A cache that cannot be reached must not hang a request for long.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
CELERY_TASK_SOFT_TIME_LIMIT = _env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = _env_int("CELERY_TASK_TIME_LIMIT", 660)

# Data, models and processing.
FER_DATA_DIR = _env_path("FER_DATA_DIR", BASE_DIR.parent / "shared" / "datasets")
SHIPPED_MODEL_DIR = _env_path("SHIPPED_MODEL_DIR", ml.SHIPPED_MODEL_DIR)
MODEL_CACHE_DIR = _env_path("MODEL_CACHE_DIR", VAR_DIR / "model-cache")
INFERENCE_BATCH_SIZE = _env_int("INFERENCE_BATCH_SIZE", 64)
# Feeder threads per inference worker process (inference/pipeline.py) that decode and detect
# while the classifier runs; 0 analyses a chunk's photos one after another, as before.
INFERENCE_DECODE_THREADS = _env_int(
    "INFERENCE_DECODE_THREADS",
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
)
# Longest a face waits (ms) for its classifier batch to fill while photos are still coming.
INFERENCE_BATCH_WAIT_MS = _env_int("INFERENCE_BATCH_WAIT_MS", 500)
if INFERENCE_BATCH_SIZE < 1 or INFERENCE_DECODE_THREADS < 0 or INFERENCE_BATCH_WAIT_MS < 0:
    raise ImproperlyConfigured(
        "INFERENCE_BATCH_SIZE must be at least 1, INFERENCE_DECODE_THREADS and "
        "INFERENCE_BATCH_WAIT_MS at least 0"
    )
# Compute precision of the classifier (ml/precision.py): "auto" is bfloat16 on CPUs with
# native bfloat16 (AMX, AVX512-BF16), about twice as fast there, and float32 elsewhere.
INFERENCE_PRECISION = os.environ.get("INFERENCE_PRECISION", "auto").strip().lower() or "auto"
if INFERENCE_PRECISION not in PRECISIONS:
    raise ImproperlyConfigured(
        f"INFERENCE_PRECISION={INFERENCE_PRECISION!r}: use one of {', '.join(PRECISIONS)}"
    )
FACE_DETECTOR = os.environ.get("FACE_DETECTOR", "blazeface")
INGEST_CHUNK_SIZE = _env_int("INGEST_CHUNK_SIZE", 32)
PHOTO_RETENTION_DAYS = _env_int("PHOTO_RETENTION_DAYS", 0)
# "days": delete stored photos PHOTO_RETENTION_DAYS after processing (0 keeps them);
# "immediate": delete each photo as soon as it is analysed. Boxes and results always stay.
PHOTO_RETENTION = os.environ.get("PHOTO_RETENTION", "days").strip().lower() or "days"
if PHOTO_RETENTION not in ("days", "immediate"):
    raise ImproperlyConfigured(f"PHOTO_RETENTION={PHOTO_RETENTION!r}: use 'days' or 'immediate'")
# Ingest (campaigns/services): a chunk task is killed after this many seconds, and a batch
# without progress for that long is resumed by the sweeper (its messages were lost).
INGEST_CHUNK_TIME_LIMIT = _env_int("INGEST_CHUNK_TIME_LIMIT", 300)
# A chunk's claims are refreshed while it runs; one not refreshed for this many seconds is
# abandoned (its worker was killed) and its photos are sent again by the next sweep, which
# runs every INGEST_SWEEP_SECONDS: a killed worker's photos go on within about 30 s.
INGEST_CLAIM_TIMEOUT = _env_int("INGEST_CLAIM_TIMEOUT", 15)
INGEST_SWEEP_SECONDS = _env_int("INGEST_SWEEP_SECONDS", 5)
if INGEST_CLAIM_TIMEOUT < 4 or INGEST_SWEEP_SECONDS < 1:
    raise ImproperlyConfigured("INGEST_CLAIM_TIMEOUT must be at least 4, INGEST_SWEEP_SECONDS 1")
INGEST_MAX_ATTEMPTS = _env_int("INGEST_MAX_ATTEMPTS", 3)
INGEST_EXTRACT_TIME_LIMIT = _env_int("INGEST_EXTRACT_TIME_LIMIT", 3600)
INGEST_MAX_ENTRIES = _env_int("INGEST_MAX_ENTRIES", 100_000)
INGEST_MAX_EXPANDED_BYTES = _env_int("INGEST_MAX_EXPANDED_BYTES", 20 * 1024**3)
# ...and at most this many times the uploaded archive's own size.
INGEST_MAX_EXPANSION = _env_int("INGEST_MAX_EXPANSION", 20)
INGEST_MAX_PHOTO_BYTES = _env_int("INGEST_MAX_PHOTO_BYTES", 100 * 1024**2)
INGEST_MAX_RATIO = _env_int("INGEST_MAX_RATIO", 100)
# Reaction videos (campaigns/services/extraction.py, inference/video.py): sampled at this many
# frames per second of the recording, refused past these limits (each with its reason).
VIDEO_SAMPLE_FPS = float(os.environ.get("VIDEO_SAMPLE_FPS") or 2)
if not 0 < VIDEO_SAMPLE_FPS <= 30:
    raise ImproperlyConfigured(f"VIDEO_SAMPLE_FPS={VIDEO_SAMPLE_FPS}: use a rate in (0, 30]")
VIDEO_MAX_SECONDS = _env_int("VIDEO_MAX_SECONDS", 900)
VIDEO_MAX_PIXELS = _env_int("VIDEO_MAX_PIXELS", 3840 * 2160)
INGEST_MAX_VIDEO_BYTES = _env_int("INGEST_MAX_VIDEO_BYTES", 2 * 1024**3)
# Frames sampled from the videos of one upload at the most (a lower rate past it), and the
# longest an ad may be: the bound on offsets when the ad's length is not known.
INGEST_MAX_FRAMES = _env_int("INGEST_MAX_FRAMES", 20_000)
AD_MAX_SECONDS = _env_int("AD_MAX_SECONDS", 3 * 3600)
if INGEST_MAX_FRAMES < 1 or AD_MAX_SECONDS < 1:
    raise ImproperlyConfigured("INGEST_MAX_FRAMES and AD_MAX_SECONDS must be at least 1")
# An ad's creative (image or video; its frames are decoded by the web process): largest file
# and frame, refused on upload (campaigns/creatives.py). A video also lasts AD_MAX_SECONDS.
CREATIVE_MAX_BYTES = _env_int("CREATIVE_MAX_BYTES", 512 * 1024**2)
CREATIVE_MAX_PIXELS = _env_int("CREATIVE_MAX_PIXELS", 3840 * 2160)
# Reaction capture in the browser (studies/): one frame's JPEG, frames per request, frames of
# one session in all, camera checks per session; a session silent for CAPTURE_IDLE_SECONDS is
# abandoned (its ads closed, swept every CAPTURE_SWEEP_SECONDS). Keep CAPTURE_IDLE_SECONDS
# under INGEST_CHUNK_TIME_LIMIT: the batch sweeper fails capture batches silent that long.
CAPTURE_MAX_FRAME_BYTES = _env_int("CAPTURE_MAX_FRAME_BYTES", 256 * 1024)
CAPTURE_MAX_FRAMES_PER_REQUEST = _env_int("CAPTURE_MAX_FRAMES_PER_REQUEST", 30)
CAPTURE_MAX_SESSION_FRAMES = _env_int("CAPTURE_MAX_SESSION_FRAMES", 20_000)
CAPTURE_MAX_CHECKS = _env_int("CAPTURE_MAX_CHECKS", 20)
CAPTURE_IDLE_SECONDS = _env_int("CAPTURE_IDLE_SECONDS", 120)
CAPTURE_SWEEP_SECONDS = _env_int("CAPTURE_SWEEP_SECONDS", 30)
# Pool processes load the CNN in worker_process_init (inference/tasks.py); Celery's default of
# 4 s to report ready kills them in a loop on a busy CPU.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = _env_int("CELERY_WORKER_PROC_ALIVE_TIMEOUT", 120)
CELERY_BEAT_SCHEDULE = {
    "ingest-resume-stalled-batches": {
        "task": "campaigns.tasks.batches_resume_stalled_task",
        "schedule": float(INGEST_SWEEP_SECONDS),
    },
    "ingest-resume-abandoned-photos": {
        "task": "campaigns.tasks.images_resume_abandoned_task",
        "schedule": float(INGEST_SWEEP_SECONDS),
    },
    "photos-purge": {"task": "campaigns.tasks.photos_purge_task", "schedule": 3600.0},
    "stored-orphans-delete": {
        "task": "campaigns.tasks.stored_orphans_delete_task",
        "schedule": 86400.0,
    },
    "capture-sessions-abandoned": {
        "task": "studies.tasks.sessions_close_abandoned_task",
        "schedule": float(CAPTURE_SWEEP_SECONDS),
    },
    "capture-sessions-quality": {
        "task": "studies.tasks.sessions_quality_refresh_task",
        "schedule": float(CAPTURE_SWEEP_SECONDS),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(VAR_DIR / "celerybeat-schedule")
)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# Scripts only from this site (no inline scripts, no eval); inline styles are allowed because
# Plotly styles its charts with them. Images may be data: URLs (Plotly's export, the admin).
# Sent on every response by django-csp's middleware, whose setting is this name's dict.
CONTENT_SECURITY_POLICY = _env_csp(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
# /healthz answers a bare {"ok": ...} to everyone (load balancers); its details (database
# vendor, broker, errors) only to staff or to a request bearing this token.
HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN", "")
# A read-only share link of a campaign (reports/) lasts at most this many days.
SHARE_LINK_MAX_DAYS = _env_int("SHARE_LINK_MAX_DAYS", 90)

# REST API (api/): bearer tokens per user and team, or the browser's session; JSON only;
# API_RATE_LIMIT requests per token (per user for a session), e.g. 600/minute or 20/second.
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/minute")
# A token's last-used time is written at most this often.
API_TOKEN_TOUCH_SECONDS = _env_int("API_TOKEN_TOUCH_SECONDS", 60)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First: its WWW-Authenticate makes a missing or bad token a 401 (not a 403).
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiTokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    # Formats are chosen with the Accept header only (no ?format=).
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FER analytics API",
    "DESCRIPTION": "Push reaction photos and videos, pull the dashboard's results. Send an API "
    "token as `Authorization: Bearer <token>`; it reaches one team's data.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI and Redoc from the installed drf-spectacular-sidecar: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.error_responses",
        "api.schema.request_strings",
    ],
}

if not DEBUG:
    SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # HTTPS only: redirect plain HTTP (except the load balancer's probe) and tell browsers to
    # never try it again (HSTS).
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", True)
