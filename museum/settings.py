"""Settings for AI Art Gallery, driven by the environment.

Every value has a safe default so a fresh clone runs with no configuration:
SQLite and Celery's filesystem broker under the data folder, media on local
disk. Production sets DJANGO_DEBUG=0 plus DATABASE_URL, REDIS_URL and the S3
variables (see docs/operations.md).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from museum.secretkey import local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from exc


# Everything the embedded defaults write (database, broker, media, checkpoints) lives here.
DATA_DIR = Path(os.environ.get("AAG_DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", True)


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Production mode (DJANGO_DEBUG=0) needs a long random key, "
            'e.g. python -c "import secrets; print(secrets.token_urlsafe(50))".'
        )
    # Development: a random key kept in the data folder, never in the repository.
    return local_secret_key(DATA_DIR)


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is not set. Production mode (DJANGO_DEBUG=0) needs the site's host names, "
        "comma-separated, e.g. DJANGO_ALLOWED_HOSTS=gallery.example.org."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "gallery",
    "scraper",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "museum.requestchecks.RefuseNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # ETags on pages (not on static files, which WhiteNoise answers above it, nor on
    # no-store ones such as the admin's); an unchanged page is answered with an empty 304.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "museum.language.BrowserLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "museum.urls"
WSGI_APPLICATION = "museum.wsgi.application"
ASGI_APPLICATION = "museum.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gallery.context_processors.offline_demo",
            ],
        },
    },
]

# Database: SQLite in the data folder unless DATABASE_URL names another.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'museum.sqlite3'}",
        # Persistent connections in production: a new PostgreSQL connection per
        # request cost about a third of a page's time. Health checks replace a
        # connection the server dropped instead of failing the request.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if DEBUG else 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and tests share one file: wait for locks instead of failing,
    # and give the test database a file so a worker process can see it.
    # WAL lets the web server read while a worker writes, and commits cheaply.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # One file per test process, so parallel test runs never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: the original museum was Japanese.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ja", _("Japanese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_TZ = True

# Storage: local files under the data folder, or S3 (any S3-compatible store)
# when AWS_STORAGE_BUCKET_NAME is set. Checkpoints get their own private alias.
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at start-up when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = os.environ.get("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(os.environ.get("AAG_MEDIA_ROOT", DATA_DIR / "media"))
CHECKPOINT_ROOT = Path(os.environ.get("AAG_CHECKPOINT_ROOT", DATA_DIR / "checkpoints"))

AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
CHECKPOINT_BUCKET_NAME = os.environ.get("CHECKPOINT_BUCKET_NAME", "")
STATIC_BACKEND = (
    "whitenoise.storage.CompressedManifestStaticFilesStorage"
    if env_bool("STATIC_MANIFEST", not DEBUG)
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
)

if AWS_STORAGE_BUCKET_NAME:
    _s3_common = {
        "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
        "file_overwrite": False,
    }
    STORAGES = {
        # A private bucket: every media URL is the permission-checked view
        # (museum/media.py), which reads the file with the site's credentials.
        "default": {
            "BACKEND": "museum.mediastorage.ViewServedS3Storage",
            "OPTIONS": {
                **_s3_common,
                "bucket_name": AWS_STORAGE_BUCKET_NAME,
                "default_acl": "private",
                "querystring_auth": True,
            },
        },
        "checkpoints": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                **_s3_common,
                "bucket_name": CHECKPOINT_BUCKET_NAME or AWS_STORAGE_BUCKET_NAME,
                "location": "" if CHECKPOINT_BUCKET_NAME else "checkpoints",
                "default_acl": "private",
                "querystring_auth": True,
            },
        },
        "staticfiles": {"BACKEND": STATIC_BACKEND},
    }
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        # Private: no base_url, so nothing under it is ever served by URL.
        "checkpoints": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(CHECKPOINT_ROOT), "base_url": None},
        },
        "staticfiles": {"BACKEND": STATIC_BACKEND},
    }

# Media is served by museum/media.py, which checks the owning row on every
# request. Public files may be cached for this many seconds, so an
# unpublished file can live on in a browser or CDN cache at most this long.
MEDIA_PUBLIC_MAX_AGE = env_int("MEDIA_PUBLIC_MAX_AGE", 3600)

# Cache: Redis when configured, else files under the data folder. Not local
# memory: that is one cache per process, and the worker that paints new
# artworks must retire the pages the web processes cached (gallery.pagecache).
# Short socket timeouts: a cache that stops answering makes pages uncached, not slow.
# The cache may live in another Redis database than the broker's queues
# (REDIS_CACHE_URL, compose: db 1): clearing the cache (FLUSHDB) then never
# drops a queued message.
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_CACHE_URL = os.environ.get("REDIS_CACHE_URL", "") or REDIS_URL
if REDIS_CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "museum.cache.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 2000},
        }
    }
# Seeds the generation task paints per artwork it hangs: it hangs the most unlike each other
# and the room (docs/demo.md, "Hanging the most unlike of a pool"). 1: the next seeds in order.
GALLERY_HANG_POOL = env_int("GALLERY_HANG_POOL", 3)
if GALLERY_HANG_POOL < 1:
    raise ImproperlyConfigured(f"GALLERY_HANG_POOL={GALLERY_HANG_POOL} must be at least 1.")

# Rendered public pages stay this long at most; any visible change retires them at once. 0 turns the cache off.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 600)

# Celery (read by museum/celery.py with the CELERY_ namespace).
# The longest training job must finish before Redis would redeliver it; the
# same number is used by every process so web, beat and workers agree.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 7 * 24 * 3600)
BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", DATA_DIR / "broker")).resolve()
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
    if os.environ.get("CELERY_REDIS_KEYPREFIX"):
        # Lets several deployments (or test runs) share one Redis without
        # taking each other's tasks.
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = os.environ["CELERY_REDIS_KEYPREFIX"]
    CELERY_RESULT_BACKEND = None
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    }
    CELERY_RESULT_BACKEND = None
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)

# Security: production values follow DEBUG so `check --deploy` is clean.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS-only cookies; `make run` turns them off to serve DEBUG-off pages on plain http://127.0.0.1.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

LOGIN_URL = "admin:login"

# The login limit (django-axes, see docs/operations.md): after
# DJANGO_LOGIN_FAILURE_LIMIT wrong passwords for one username, or from one
# client address, further logins for it are refused for
# DJANGO_LOGIN_COOLOFF_MINUTES, the right password included.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("DJANGO_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DJANGO_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Every failed login kept (who, from where, when) for the admin's Axes › Access failures list.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "admin/login_locked.html"
# How many reverse proxies stand in front of the web process; each appends the
# address it saw to X-Forwarded-For. 0 (the default) ignores that header,
# which any client can forge.
TRUSTED_PROXY_COUNT = env_int("DJANGO_TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "museum.clientip.client_ip"

# AAG_LOG_FILE sends this process's log (and its crawl processes') to a file
# instead of the console: `make run` does, so its console shows only progress.
# A relative path is inside the data folder.
LOG_FILE = (DATA_DIR / os.environ["AAG_LOG_FILE"]).resolve() if os.environ.get("AAG_LOG_FILE") else None
if LOG_FILE is not None:
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"timed": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"}
        if LOG_FILE is None
        else {"class": "logging.FileHandler", "filename": str(LOG_FILE), "formatter": "timed"}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes.apps announces its version at every start of every command: not news.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes.apps": {"level": "WARNING"}},
}

# Crawlers (scraper/crawling/). Each museum's API base URL can be pointed
# elsewhere (tests use a local server); only these hosts plus each source's
# image hosts are ever fetched.
SCRAPER_BASE_URLS = {
    "aic": os.environ.get("SCRAPER_AIC_URL", "https://api.artic.edu"),
    "cma": os.environ.get("SCRAPER_CMA_URL", "https://openaccess-api.clevelandart.org"),
    "met": os.environ.get("SCRAPER_MET_URL", "https://collectionapi.metmuseum.org"),
    "wikimedia": os.environ.get("SCRAPER_WIKIMEDIA_URL", "https://commons.wikimedia.org"),
    # The offline sample museum (`python -m scraper.samplemuseum`, started by `make run`). Its
    # configured host:port is the one loopback origin a crawl may reach without SCRAPER_ALLOW_LOOPBACK.
    "sample": os.environ.get("SCRAPER_SAMPLE_URL", "http://127.0.0.1:8765"),
}
# Lets a crawl reach 127.0.0.0/8 and ::1 (and nothing else private): for tests and benchmarks only.
SCRAPER_ALLOW_LOOPBACK = env_bool("SCRAPER_ALLOW_LOOPBACK", False)
SCRAPER_USER_AGENT = os.environ.get(
    "SCRAPER_USER_AGENT", "AIArtGalleryBot/0.1 (+https://github.com/ai-art-gallery; open-access paintings)"
)
# Per-source politeness: seconds between requests and requests at a time per host.
# AIC asks for at most 60 requests/minute, single-threaded; the Met blocks quick clients.
# SCRAPER_DOWNLOAD_DELAY / SCRAPER_CONCURRENCY override every source (e.g. 0 / 8 for a local benchmark).
SCRAPER_RATE_LIMITS = {
    "aic": {"delay": 1.0, "concurrency": 1},
    "cma": {"delay": 0.5, "concurrency": 2},
    "met": {"delay": 1.0, "concurrency": 1},
    "wikimedia": {"delay": 1.0, "concurrency": 1},
    "sample": {"delay": 0.0, "concurrency": 4},  # our own server
}
for _limits in SCRAPER_RATE_LIMITS.values():
    if os.environ.get("SCRAPER_DOWNLOAD_DELAY"):
        _limits["delay"] = float(os.environ["SCRAPER_DOWNLOAD_DELAY"])
    _limits["concurrency"] = env_int("SCRAPER_CONCURRENCY", _limits["concurrency"])
SCRAPER_AUTOTHROTTLE = env_bool("SCRAPER_AUTOTHROTTLE", True)
# Retries on 429/5xx: wait base * 2**attempt seconds (or the server's Retry-After), at most this many times.
SCRAPER_RETRY_TIMES = env_int("SCRAPER_RETRY_TIMES", 3)
SCRAPER_RETRY_BACKOFF = float(os.environ.get("SCRAPER_RETRY_BACKOFF") or 2.0)
# Seconds one try of a request may take, and all its tries and waits together:
# a server trickling one byte a second costs a crawl at most the deadline.
SCRAPER_DOWNLOAD_TIMEOUT = float(os.environ.get("SCRAPER_DOWNLOAD_TIMEOUT") or 30.0)
SCRAPER_REQUEST_DEADLINE = float(os.environ.get("SCRAPER_REQUEST_DEADLINE") or 90.0)

# Where the gallery's provenance points: training provides the model.
GALLERY_CHECKPOINT_MODEL = "training.Checkpoint"

# Painting requests (gallery.services.carry_out): how often the worker painting
# one renews its heartbeat, after how long a silent one counts as lost with its
# worker and is queued again, and how many workers it may lose before it fails.
PAINTING_HEARTBEAT_SECONDS = env_int("PAINTING_HEARTBEAT_SECONDS", 10)
PAINTING_STALE_SECONDS = env_int("PAINTING_STALE_SECONDS", 120)
PAINTING_MAX_ATTEMPTS = env_int("PAINTING_MAX_ATTEMPTS", 3)

# The torch device the workers use: "auto" picks CUDA when present.
TORCH_DEVICE = os.environ.get("TORCH_DEVICE", "auto")

# Training runs (training/tasks.py): the worker-local folder for run
# directories, how often a running task renews its heartbeat, after how long a
# silent run counts as stale (a lost worker) and is re-queued, and the fewest
# approved images a genre needs before a run may start.
TRAINING_WORK_DIR = Path(os.environ.get("AAG_TRAINING_WORK_DIR", DATA_DIR / "training-runs"))
TRAINING_HEARTBEAT_SECONDS = env_int("TRAINING_HEARTBEAT_SECONDS", 5)
TRAINING_STALE_SECONDS = env_int("TRAINING_STALE_SECONDS", 120)
TRAINING_MIN_IMAGES = env_int("TRAINING_MIN_IMAGES", 16)
# Processes per run (torchrun --nproc-per-node): 0 = one per GPU of the node
# (one on a CPU worker); set it to train on the CPU with several gloo processes.
TRAINING_PROCESSES = env_int("TRAINING_PROCESSES", 0)
# Workers write a presence row this often (training.worker_presence); one not
# renewed for three intervals counts as gone.
WORKER_REPORT_SECONDS = env_int("WORKER_REPORT_SECONDS", 30)
# The start form asks staff to confirm a run estimated to take longer than this.
TRAINING_CONFIRM_HOURS = env_int("TRAINING_CONFIRM_HOURS", 48)
# A run whose worker has not been heard from for this long is shown on its page
# as "worker not heard from" instead of a live ETA (before it is stale).
TRAINING_SILENT_SECONDS = env_int("TRAINING_SILENT_SECONDS", 3 * TRAINING_HEARTBEAT_SECONDS)

# Crawls (scraper/services.py): how often a crawl's worker renews its
# heartbeat, and after how long a silent crawl counts as lost and is re-queued.
CRAWL_HEARTBEAT_SECONDS = env_int("CRAWL_HEARTBEAT_SECONDS", 5)
CRAWL_STALE_SECONDS = env_int("CRAWL_STALE_SECONDS", 120)

# Queued work (museum/queueing.py): a queued job the broker took but no worker
# claimed is sent again after this long; one the broker refused is sent again
# at the next sweep (every minute, on beat).
QUEUE_RESEND_SECONDS = env_int("QUEUE_RESEND_SECONDS", 3600)
