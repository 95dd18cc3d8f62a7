"""Settings for tacro-topical, read from the environment (django-environ).

`DJANGO_ENV` must say where this runs. `DJANGO_ENV=local` needs nothing else: SQLite in
the project folder and kombu's filesystem transport for Celery, so the app runs with Python
alone. `DATABASE_URL` and `CELERY_BROKER_URL` switch to PostgreSQL and Redis.
`DJANGO_ENV=production` refuses to start without `SECRET_KEY`, a different `JWT_SIGNING_KEY`
and `ALLOWED_HOSTS`, and turns on the HTTPS hardening that `manage.py check --deploy` asks for.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import django
import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env file is a convenience for developers; the real environment wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Where this runs is always said, never assumed: "production" on a server, "local" on a developer machine
# (`make run` and the test settings set it). An unset DJANGO_ENV once meant development with the fixed keys
# below, so a deployment that forgot it accepted JSON Web Tokens forged with a key from the repository.
DJANGO_ENV = env.str("DJANGO_ENV", default="")
if DJANGO_ENV not in {"local", "production"}:
    raise ImproperlyConfigured(
        (f"DJANGO_ENV={DJANGO_ENV!r} is not a mode." if DJANGO_ENV else "DJANGO_ENV is not set.")
        + " Set DJANGO_ENV=production on a server, with SECRET_KEY, a different JWT_SIGNING_KEY and"
        " ALLOWED_HOSTS; or DJANGO_ENV=local on a developer machine (`make run` sets it)."
    )
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.bool("DEBUG", default=False)

# Keys for a developer machine. They are in the repository, so local mode is the only one that takes them.
LOCAL_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
LOCAL_JWT_SIGNING_KEY = "local-only-jwt-signing-key-from-the-repository-never-accepted-in-production"


def refuse_unsafe_keys(secret_key: str, jwt_signing_key: str) -> None:
    """Outside local mode: two keys of the deployment's own, neither from the repository.

    The JWT key is a separate one so that what SECRET_KEY signs (sessions, password reset links) and the
    API's tokens can be rotated, or leak, one without the other.
    """
    advice = "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    # RFC 7518 section 3.2: an HS256 key has at least 256 bits; 32 characters of a random string give that.
    # SECRET_KEY too: it signs password-reset and confirmation links, so a short one could be guessed
    # offline from one link and every link forged.
    min_length = 32
    for name, key in (("SECRET_KEY", secret_key), ("JWT_SIGNING_KEY", jwt_signing_key)):
        if not key.strip():
            raise ImproperlyConfigured(f"{name} is empty. {advice}")
        if key in {LOCAL_SECRET_KEY, LOCAL_JWT_SIGNING_KEY}:
            raise ImproperlyConfigured(f"{name} is the repository's local key, which anyone can sign with. {advice}")
        if len(key) < min_length:
            raise ImproperlyConfigured(f"{name} must be at least {min_length} characters. {advice}")
    if jwt_signing_key == secret_key:
        raise ImproperlyConfigured(f"JWT_SIGNING_KEY must differ from SECRET_KEY. {advice}")


if PRODUCTION:
    # env.str without a default raises ImproperlyConfigured naming the variable.
    SECRET_KEY = env.str("SECRET_KEY")
    JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY")
    refuse_unsafe_keys(SECRET_KEY, JWT_SIGNING_KEY)
    # Earlier keys, still accepted for what they signed: a rotation then signs nobody out.
    SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("Set the ALLOWED_HOSTS environment variable in production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must stay off in production.")
else:
    SECRET_KEY = env.str("SECRET_KEY", default=LOCAL_SECRET_KEY)
    JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=LOCAL_JWT_SIGNING_KEY)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "tacro_topical.apps.CareTeamAdminConfig",  # django.contrib.admin, on our site class
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    # The second factor of clinicians and clinic staff (accounts/second_factor.py): TOTP and recovery codes,
    # and the e-mailed code that enrolling an authenticator takes first.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp.plugins.otp_email",
    "accounts",
    "tracking",
    "web",  # the patient web app at /app/ (issue #16): static modules, no build step
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside the rest, so every answer under /api/ and /admin/ is no-store: 503s, lockouts and CSRF 403s too.
    "tacro_topical.middleware.NoStoreMiddleware",
    # Early, so a database down during sessions or auth is a 503 too, not a 500.
    "tacro_topical.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The request's Accept-Language (en or ar) picks the language of the API's messages: DRF's and Django's
    # own, and the project's (gettext, locale/ar). After sessions, before common, as Django asks.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages, to say why a session ended; before django-otp, which then sees the signed-out user.
    "tacro_topical.session_timeout.SessionTimeoutMiddleware",
    # Puts the device that verified the session on request.user (the admin site checks it).
    "django_otp.middleware.OTPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during the view into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tacro_topical.urls"
WSGI_APPLICATION = "tacro_topical.wsgi.application"
ASGI_APPLICATION = "tacro_topical.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tacro_topical" / "templates"],  # the site's own error pages
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

# --- Database -----------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, worker and beat share one file: WAL lets readers and a writer
    # overlap, IMMEDIATE takes the write lock up front instead of failing mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Accounts and authentication -------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First, as django-axes asks: refuses a locked-out account before any password check.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailRoleBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Kept so that a hash made by an older hasher can still be checked and upgraded.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes: lock an account after repeated failed sign-ins, admin and JWT alike.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Failures count per account (from anywhere) and per account and address; never per address alone, which
# locked out everyone behind one NAT (a clinic, a hospital) after anyone's failures. Guessing at many
# accounts from one address is the auth throttle's to slow down (tacro_topical/throttles.py).
# With one failure limit the account's count is always the larger, so it decides.
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.lockout.username_from_credentials"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# The client's address as the throttles see it (NUM_PROXIES below); axes' own django-ipware path is unused.
AXES_CLIENT_IP_CALLABLE = "tacro_topical.client_address.client_address"
# A successful sign-in clears the failures its lockout parameters match: with those above, its own account's
# only. (With the address a parameter on its own, signing in to one's own account cleared every failure from
# that address, so an attacker could guess at a patient's password without end.)
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=30)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,  # the token view sends user_logged_in, which records it
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # Active, and where required with a confirmed address; on signing in and on every refresh.
    "USER_AUTHENTICATION_RULE": "accounts.tokens.may_sign_in",
}

# Account lifecycle (accounts/tokens.py, accounts/links.py). Every token belongs to a sign-in session that
# ends at the latest this long after signing in, however often its refresh token is rotated.
ACCOUNT_SESSION_LIFETIME = timedelta(days=env.int("JWT_SESSION_DAYS", default=30))
# Ended or expired sign-ins are kept this long (to answer "when did this account sign in, and how did it
# end" after an incident), then pruned daily with expired refresh-token records (accounts.tasks).
ACCOUNT_ENDED_SESSIONS_KEPT = timedelta(days=env.int("ENDED_SESSIONS_KEPT_DAYS", default=90))
# Self-registered accounts sign in only once their address is confirmed: on in production.
ACCOUNT_EMAIL_VERIFICATION_REQUIRED = env.bool("ACCOUNT_EMAIL_VERIFICATION_REQUIRED", default=PRODUCTION)
ACCOUNT_EMAIL_VERIFICATION_MAX_AGE = timedelta(days=env.int("EMAIL_VERIFICATION_DAYS", default=7))
# How long an e-mailed password-reset link works (Django's setting, in seconds); it works once.
PASSWORD_RESET_TIMEOUT = 60 * env.int("PASSWORD_RESET_MINUTES", default=60)

# Second factor (accounts/second_factor.py): dermatologists, clinic staff and superusers sign in to the
# admin and the token endpoint with a TOTP code or a recovery code. Required in production; in
# local mode only once an account has enrolled, so the demo signs in without an authenticator.
SECOND_FACTOR_REQUIRED = env.bool("SECOND_FACTOR_REQUIRED", default=PRODUCTION)
SECOND_FACTOR_RECOVERY_CODES = env.int("SECOND_FACTOR_RECOVERY_CODES", default=10)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="tacro-topical")
# Nobody reads an authenticator's secret back from the admin, superusers included: it would clone it.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Admin sessions: signed out 12 hours after signing in, and after 30 minutes without a request
# (tacro_topical/session_timeout.py).
SESSION_COOKIE_AGE = env.int("ADMIN_SESSION_HOURS", default=12) * 3600
SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("ADMIN_SESSION_IDLE_MINUTES", default=30))

# Join codes a dermatologist hands a patient in clinic; short-lived on purpose.
CARE_TEAM_JOIN_CODE_TTL = timedelta(minutes=env.int("CARE_TEAM_JOIN_CODE_TTL_MINUTES", default=30))

# --- REST framework and OpenAPI -------------------------------------------------
# The proxies in front that each append to X-Forwarded-For; 0: none, and the header is ignored. The one
# setting behind tacro_topical.client_address, which the throttles and the sign-in lockout both use.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, refusing a token whose sign-in session has ended (accounts/tokens.py).
        "accounts.tokens.SessionJWTAuthentication",
        # DRF's, refusing a session that still owes the second factor, as the admin does (accounts/authentication.py).
        "accounts.authentication.SecondFactorSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["tacro_topical.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "tacro_topical.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tacro_topical.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "tacro_topical.throttles.AuthRateThrottle",
        "tacro_topical.throttles.WriteRateThrottle",
        "tacro_topical.throttles.SyncItemsRateThrottle",
        "tacro_topical.throttles.ReadRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "care_team_join": env.str("THROTTLE_CARE_TEAM_JOIN", default="10/hour"),
        # Per client address on /api/v1/auth/: a person signs in a few times a day.
        "auth": env.str("THROTTLE_AUTH", default="30/minute"),
        # Per user on every write: a patient logs a handful a day; a sync is one request.
        "write": env.str("THROTTLE_WRITE", default="240/minute"),
        # Per user, the logs sent through sync, item by item: one full batch (rules.SYNC_MAX_ITEMS, 2,000) a minute.
        "sync_items": env.str("THROTTLE_SYNC_ITEMS", default="2000/minute"),
        # Per user on every read: an app showing a record makes a few a screen.
        "read": env.str("THROTTLE_READ", default="1200/minute"),
        # Per client address on the health check: a load balancer polls every few seconds.
        "health": env.str("THROTTLE_HEALTH", default="120/minute"),
    },
    # DRF's own reading of X-Forwarded-For, for any throttle that does not go through client_address: the
    # same count, so nothing trusts the header more than NUM_PROXIES says (DRF trusts all of it when unset).
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "tacro-topical API",
    "DESCRIPTION": (
        "Adherence companion for topical tacrolimus and pimecrolimus. "
        "Errors, all in the `Error` shape: 400 names each offending field by its path (`times[1]`, "
        "`quiet_hours.start`); 401 without credentials; 403 beyond the caller's role; 404 for anything the "
        "caller may not see; 409 for a reused id with different content (with the `stored` entry); 429 with "
        "Retry-After when throttled or locked out, declared on each operation a throttle counts. "
        "Ids are UUID strings; decimals are JSON numbers, in and out."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Who may read the schema and the docs page: API_DOCS_PUBLIC below, enforced in tacro_topical/urls.py.
    # The docs page loads Swagger UI from the installed sidecar, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tacro_topical.schema.document_throttling",
    ],
    "GET_LIB_DOC_EXCLUDES": "tacro_topical.schema.lib_doc_excludes",
    "ENUM_NAME_OVERRIDES": {
        "PoemBandEnum": "tracking.rules.POEM_BAND_NAMES",
        "RoleEnum": "accounts.models.Role.choices",
        "ConditionEnum": "accounts.models.Condition.choices",
    },
}
# The schema and the Swagger UI page: open to anyone outside production (clients are generated from
# them); in production only for a signed-in clinician or clinic staff, as they map every route to attack.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=not PRODUCTION)

# --- Celery -------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat holds fixed entries only: reminders are rows swept every minute (DESIGN.md), never one
# beat entry per patient.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # At the top of every minute, so a reminder goes out within seconds of its slot.
    "sweep-reminders": {"task": "tracking.tasks.sweep_reminders", "schedule": crontab()},
    "requeue-stale-deliveries": {"task": "tracking.tasks.requeue_stale", "schedule": 120.0},
    "evaluate-alerts": {"task": "tracking.tasks.evaluate_all_alerts", "schedule": 3600.0},
    "alert-digest": {"task": "tracking.tasks.send_alert_digests", "schedule": crontab(minute=0, hour=6)},
    "prune-sessions": {"task": "accounts.tasks.prune_sessions", "schedule": crontab(minute=30, hour=3)},
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: one folder is the queue, shared by producer and consumer.
    _queue_folder = str(VAR_DIR / "celery" / "queue")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _queue_folder,
        "data_folder_out": _queue_folder,
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any countdown we schedule, so Redis does not redeliver a waiting task.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    }

# --- Reminders, notifications and alerts (tracking/rules.py holds each default's source) -------
MISSED_DOSE_FOLLOW_UP_MINUTES = env.int("MISSED_DOSE_FOLLOW_UP_MINUTES", default=60)
SKIN_CHECK_INTERVAL_DAYS = env.int("SKIN_CHECK_INTERVAL_DAYS", default=90)
REMINDER_SWEEP_BATCH = env.int("REMINDER_SWEEP_BATCH", default=1000)
# Sweeps started each minute; they split the due rows between them (one per worker process is right).
REMINDER_SWEEPERS = env.int("REMINDER_SWEEPERS", default=2)
# Occurrences handed to one delivery task: fewer, larger tasks keep the broker off the hot path.
REMINDER_DELIVERY_BATCH = env.int("REMINDER_DELIVERY_BATCH", default=200)
# A pending occurrence or delivery nobody picked up in this long is enqueued again.
REMINDER_REQUEUE_AFTER_SECONDS = env.int("REMINDER_REQUEUE_AFTER_SECONDS", default=300)
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=6)
DELIVERY_BACKOFF_SECONDS = env.int("DELIVERY_BACKOFF_SECONDS", default=30)
ALERT_THRESHOLDS = {
    "persistent_burning_min_score": env.int("ALERT_BURNING_MIN_SCORE", default=4),
    "persistent_burning_min_days": env.int("ALERT_BURNING_MIN_DAYS", default=3),
    "persistent_burning_window_days": env.int("ALERT_BURNING_WINDOW_DAYS", default=7),
    "persistent_burning_after_start_days": env.int("ALERT_BURNING_AFTER_START_DAYS", default=14),
    "no_improvement_after_days": env.int("ALERT_NO_IMPROVEMENT_AFTER_DAYS", default=42),
    "worsening_flare_min_rise": env.int("ALERT_WORSENING_FLARE_MIN_RISE", default=2),
    "worsening_flare_window_days": env.int("ALERT_WORSENING_FLARE_WINDOW_DAYS", default=7),
    "low_adherence_pct": env.int("ALERT_LOW_ADHERENCE_PCT", default=50),
    "low_adherence_window_days": env.int("ALERT_LOW_ADHERENCE_WINDOW_DAYS", default=14),
}
# Links in emails (the digest points at the admin).
if PRODUCTION:
    # Reset and confirmation links go out by e-mail under this address: a plain-http or local one would
    # send a patient's single-use token in clear, or nowhere.
    SITE_URL = env.str("SITE_URL")
    if not SITE_URL.startswith("https://"):
        raise ImproperlyConfigured("SITE_URL must be the site's https:// address in production (links in e-mails).")
else:
    SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Web Push (VAPID): the private key as base64url DER/raw or a PEM path, and a contact (mailto: or https:).
WEBPUSH_VAPID_PRIVATE_KEY = env.str("WEBPUSH_VAPID_PRIVATE_KEY", default="")
WEBPUSH_VAPID_PUBLIC_KEY = env.str("WEBPUSH_VAPID_PUBLIC_KEY", default="")
WEBPUSH_VAPID_SUBJECT = env.str("WEBPUSH_VAPID_SUBJECT", default="mailto:care-team@localhost")
# A subscription's endpoint comes from the client, so it is sent to only through the outbound guard
# (tacro_topical/outbound.py): https on port 443 to one of these hosts or a subdomain, and only when
# the name resolves to public addresses. The defaults are the browsers' push services: Chrome (FCM),
# Firefox (Mozilla autopush), Safari (Apple), Edge (Windows Push Notification Services).
WEBPUSH_ALLOWED_HOSTS = env.list(
    "WEBPUSH_ALLOWED_HOSTS",
    default=["fcm.googleapis.com", "push.services.mozilla.com", "push.apple.com", "notify.windows.com"],
)
# Seconds for one Web Push send, from connecting to the end of the answer's headers, however slowly
# the push service sends them.
WEBPUSH_SEND_DEADLINE_SECONDS = env.float("WEBPUSH_SEND_DEADLINE_SECONDS", default=10.0)
# Active push devices per user (all platforms). Registering one more deactivates the least recently
# registered, so a patient who reinstalls the app is never locked out.
PUSH_DEVICES_PER_USER = env.int("PUSH_DEVICES_PER_USER", default=5)
# Tests only: lets an allowed host name that resolves to loopback through the outbound guard, over
# plain http and on any port, so a local receiver can stand in for a push service. Deliberately not
# read from the environment, and ignored when DJANGO_ENV=production: only a test's settings override
# turns it on.
OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
# FCM HTTP v1: a service-account JSON file; APNs: a .p8 token key. Each channel is on only when set.
FCM_SERVICE_ACCOUNT_FILE = env.str("FCM_SERVICE_ACCOUNT_FILE", default="")
FCM_ENDPOINT = env.str("FCM_ENDPOINT", default="https://fcm.googleapis.com")
APNS_KEY_FILE = env.str("APNS_KEY_FILE", default="")
APNS_KEY_ID = env.str("APNS_KEY_ID", default="")
APNS_TEAM_ID = env.str("APNS_TEAM_ID", default="")
APNS_TOPIC = env.str("APNS_TOPIC", default="")
APNS_ENDPOINT = env.str("APNS_ENDPOINT", default="https://api.push.apple.com")

# --- Internationalisation and time ---------------------------------------------------
LANGUAGE_CODE = "en-gb"
# The languages of e-mails to a user (User.language, accounts.models.Language); translations in locale/.
LANGUAGES = [("en", "English"), ("ar", "Arabic")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------
STATIC_URL = "static/"
# collectstatic's target; production serves from it. Development serves straight from the apps.
STATIC_ROOT = (
    env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")) if PRODUCTION else env("STATIC_ROOT", default=None)
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production, serve static files straight from the apps so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Mail ------------------------------------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@mail.example.org:587. Reminders name the patient, so in
# production mail leaves only encrypted: the default is STARTTLS to a relay on this host, and plain SMTP
# is refused unless the relay is on this host (smtp://localhost:25), where nothing crosses a network.
PRODUCTION_EMAIL_URL_DEFAULT = "smtp+tls://localhost:587"
LOOPBACK_MAIL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def refuse_plaintext_mail(mail: dict[str, Any]) -> None:
    """In production: SMTP with STARTTLS or TLS, or plain SMTP to a relay on this host; nothing else over SMTP."""
    if not str(mail.get("EMAIL_BACKEND", "")).endswith("smtp.EmailBackend"):
        return
    if mail.get("EMAIL_USE_TLS") or mail.get("EMAIL_USE_SSL") or mail.get("EMAIL_HOST") in LOOPBACK_MAIL_HOSTS:
        return
    raise ImproperlyConfigured(
        f"EMAIL_URL sends mail to {mail.get('EMAIL_HOST')} without TLS, and reminders name the patient. "
        "Use smtp+tls://user:password@host:587 (STARTTLS) or smtp+ssl://user:password@host:465, "
        "or plain smtp:// only to a relay on this host."
    )


_mail = env.email_url("EMAIL_URL", default=PRODUCTION_EMAIL_URL_DEFAULT if PRODUCTION else "consolemail://")
if PRODUCTION:
    refuse_plaintext_mail(_mail)
if django.VERSION >= (6, 1):
    # Django 6.1 replaces the EMAIL_* settings with MAILERS.
    _smtp_options = {
        "host": _mail.get("EMAIL_HOST"),
        "port": _mail.get("EMAIL_PORT"),
        "username": _mail.get("EMAIL_HOST_USER"),
        "password": _mail.get("EMAIL_HOST_PASSWORD"),
        "use_tls": _mail.get("EMAIL_USE_TLS"),
        "use_ssl": _mail.get("EMAIL_USE_SSL"),
    }
    MAILERS = {
        "default": {
            "BACKEND": _mail["EMAIL_BACKEND"],
            "OPTIONS": {key: value for key, value in _smtp_options.items() if value not in (None, "")}
            if _mail["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
            else {},
        }
    }
else:
    vars().update(_mail)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tacro-topical <no-reply@localhost>")

# --- Security ------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO.
    _proxy_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = (_proxy_header, "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp): our own scripts only, no inline script, nothing from a CDN.
# Inline styles stay allowed: the admin and Swagger UI set style attributes, and SVG charts size by them.
SELF = "'self'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": ["'none'"],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# --- Logging: no patient data, ever; records carry ids, not names or notes. ----------------
# LOG_FORMAT=json (the production default) writes one JSON object a line for a log pipeline.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["asctime", "levelname", "name", "message", "process"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # django-axes logs the e-mail address of failed sign-ins at INFO; keep those out.
        "axes": {"level": "WARNING"},
    },
}
