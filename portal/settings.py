"""Settings, all from the environment.

The defaults need no services at all (SQLite and a file-system Celery broker under var/), so a
newcomer can run the demo in one command. Production sets DATABASE_URL, CELERY_BROKER_URL,
REDIS_URL, SECRET_KEY(_FILE), FIELD_ENCRYPTION_KEY(_FILE), ALLOWED_HOSTS, EMAIL_* and DEBUG=0;
without both secrets DEBUG=0 refuses to start.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default):
    return os.environ.get(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def read_secret(name):
    """A secret comes from NAME or from the file named by NAME_FILE (Docker/K8s secrets)."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return None


DEBUG = env_bool("DEBUG", True)


def _required_in_production(name, purpose):
    """Production (DEBUG=0) never invents a secret: web and worker on different machines would disagree."""
    value = read_secret(name)
    if not value and not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"{name} is not set. Production (DEBUG=0) needs {name}, or {name}_FILE naming a file that holds it, "
            f"with the same value for web, worker and beat ({purpose}). Generate one with: "
            f"python3 -c \"import secrets; print(secrets.token_urlsafe(50))\". See .env.example."
        )
    return value


def _secret_key():
    key = _required_in_production("SECRET_KEY", "it signs sessions and links")
    if key:
        return key
    # Development and the demo only: generated once, kept out of the repository and readable by its owner only.
    path = VAR_DIR / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# The name mails and pages call the portal by (never the request's host name).
PORTAL_NAME = os.environ.get("PORTAL_NAME", "JIKU Cloud")

INSTALLED_APPS = [
    # django.contrib.admin whose login page is allauth's (rate limits, two-factor): portal/admin_site.py
    "portal.admin_site.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "portal",
    "tenants",
    "provisioning",
    "services",
    "billing",
    "notifications",
    "csp",
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
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tenants.middleware.CurrentTenantMiddleware",
]

# Content-Security-Policy: scripts and styles only from our own static files, no inline code or
# handlers (static/js/app.js reads data attributes instead). The console page and the API docs
# widen it for their vendored widgets (portal/consoles/views.py, portal/api/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "django.template.context_processors.i18n",
                "tenants.context_processors.tenant",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo runs web, worker and beat against one SQLite file; wait instead of failing on locks.
    # IMMEDIATE transactions take the write lock up front, so concurrent writers queue for it
    # instead of failing with "database is locked" when a read transaction turns into a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # A shared cache keeps login rate limits working across the demo's processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

# django-allauth: e-mail login, mandatory verification, TOTP with recovery codes.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/ip,5/5m/key", "signup": "20/h/ip"}
ACCOUNT_ADAPTER = "tenants.adapters.AccountAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = PORTAL_NAME
# allauth's own mails carry the portal's name, not the request's host (tenants/adapters.py).
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{PORTAL_NAME}] "
# Security mails from allauth: the password or an e-mail address changed, two-factor switched on
# or off, new recovery codes, each with the IP address and browser that did it.
ACCOUNT_EMAIL_NOTIFICATIONS = True

LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_allauth"]
TIME_ZONE = "Europe/Berlin"
FORMAT_MODULE_PATH = ["portal.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))  # the demo's file backend
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = read_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"{PORTAL_NAME} <noreply@localhost>")
# Notifications (notifications/): a failed delivery waits this long, doubled per attempt (capped
# at an hour), and is marked failed for staff after NOTIFICATIONS_MAX_ATTEMPTS (about a day).
NOTIFICATIONS_RETRY_SECONDS = float(os.environ.get("NOTIFICATIONS_RETRY_SECONDS", "30"))
NOTIFICATIONS_MAX_ATTEMPTS = int(os.environ.get("NOTIFICATIONS_MAX_ATTEMPTS", "30"))
# Tenants' webhooks go to public addresses only; development and the demo may post to loopback.
NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE = env_bool("NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE", DEBUG)

# Celery: the broker only carries wake-up calls; Operation rows are the source of truth.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for sub in ("out", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# Provisioning knobs (see provisioning/README in the main README).
PROVISIONING_MAX_TASKS_PER_NODE = int(os.environ.get("PROVISIONING_MAX_TASKS_PER_NODE", "4"))
# Status polls are cheap GETs; polling often keeps the portal's overhead over Proxmox's own task time small.
PROVISIONING_POLL_INTERVAL = float(os.environ.get("PROVISIONING_POLL_INTERVAL", "0.25"))
# The first wait after a transient Proxmox error (doubled per attempt, capped at 60 s); the
# parked task poll and the wait for a free task slot scale with it too.
PROVISIONING_RETRY_SECONDS = float(os.environ.get("PROVISIONING_RETRY_SECONDS", "2"))
PROVISIONING_STALL_SECONDS = int(os.environ.get("PROVISIONING_STALL_SECONDS", "120"))
# How long a worker may go silent on an operation before the sweep hands it to another worker.
PROVISIONING_LEASE_SECONDS = int(os.environ.get("PROVISIONING_LEASE_SECONDS", "90"))
# A node that booted less than this long ago is still starting its guests (start at boot);
# reconcile does not call a stopped server "stopped unexpectedly" before then.
RECONCILE_BOOT_GRACE_SECONDS = int(os.environ.get("RECONCILE_BOOT_GRACE_SECONDS", "180"))
# Backups of a deleted server stay restorable this long.
BACKUP_RETENTION_DAYS = int(os.environ.get("BACKUP_RETENTION_DAYS", "14"))

# Reverse DNS: PTR records go to a PowerDNS Authoritative server's HTTP API; a PTR name must first
# resolve forward to its address, asked of DNS_RESOLVER ("host" or "host:port"). Without URL and key
# the feature shows as unavailable.
PDNS_API_URL = os.environ.get("PDNS_API_URL", "").rstrip("/")
PDNS_API_KEY = read_secret("PDNS_API_KEY") or ""
PDNS_SERVER_ID = os.environ.get("PDNS_SERVER_ID", "localhost")
PDNS_TIMEOUT = float(os.environ.get("PDNS_TIMEOUT", "5"))
DNS_RESOLVER = os.environ.get("DNS_RESOLVER", "")
RDNS_TTL = int(os.environ.get("RDNS_TTL", "3600"))

# OCI application containers: registries staff may pull from, and where their API lives
# ("host=https://url" pairs; Docker Hub's API is not at docker.io). The CA file is for a
# registry with its own certificate authority (the simulator's in the demo and the tests).
OCI_ALLOWED_REGISTRIES = env_list("OCI_ALLOWED_REGISTRIES", "docker.io")
OCI_REGISTRY_ENDPOINTS = {
    "docker.io": "https://registry-1.docker.io",
    **dict(pair.split("=", 1) for pair in env_list("OCI_REGISTRY_ENDPOINTS") if "=" in pair),
}
OCI_REGISTRY_CA = os.environ.get("OCI_REGISTRY_CA", "")
# Key for secrets kept in the database (Cluster token secrets). Production must set it; it stays
# when SECRET_KEY is rotated. Development and the demo fall back to SECRET_KEY.
FIELD_ENCRYPTION_KEY = (
    _required_in_production("FIELD_ENCRYPTION_KEY", "it encrypts the clusters' token secrets: keep it and back it up")
    or SECRET_KEY
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Letterhead for offers (services).
# JIKU's company data for offers and invoices (§14 UStG, §35a GmbHG). The defaults are placeholders;
# production sets every COMPANY_* variable.
COMPANY = {
    "name": os.environ.get("COMPANY_NAME", "JIKU IT-Solutions GmbH"),
    "street": os.environ.get("COMPANY_STREET", "Musterstraße 1"),
    "postcode": os.environ.get("COMPANY_POSTCODE", "12345"),
    "city": os.environ.get("COMPANY_CITY", "Musterstadt"),
    "country": os.environ.get("COMPANY_COUNTRY", "DE"),
    "email": os.environ.get("COMPANY_EMAIL", "vertrieb@jiku.example"),
    "billing_email": os.environ.get("COMPANY_BILLING_EMAIL", "buchhaltung@jiku.example"),
    "phone": os.environ.get("COMPANY_PHONE", "+49 000 0000000"),
    "vat_id": os.environ.get("COMPANY_VAT_ID", "DE000000000"),
    "tax_number": os.environ.get("COMPANY_TAX_NUMBER", ""),
    "register_court": os.environ.get("COMPANY_REGISTER_COURT", "Amtsgericht Musterstadt"),
    "register_number": os.environ.get("COMPANY_REGISTER_NUMBER", "HRB 00000"),
    "managing_directors": os.environ.get("COMPANY_MANAGING_DIRECTORS", "Max Mustermann"),
    "bank_name": os.environ.get("COMPANY_BANK_NAME", "Musterbank"),
    "iban": os.environ.get("COMPANY_IBAN", "DE02120300000000202051"),
    "bic": os.environ.get("COMPANY_BIC", "BYLADEM1001"),
    "terms_url": os.environ.get("COMPANY_TERMS_URL", "https://www.jiku.example/agb"),
}
# Hours JIKU has to answer a service request of a tenant without a contract (self-service).
SERVICE_REQUEST_RESPONSE_HOURS = {"critical": int(os.environ.get("SERVICE_REQUEST_CRITICAL_HOURS", "8")),
                                  "normal": int(os.environ.get("SERVICE_REQUEST_NORMAL_HOURS", "48"))}
# Notice period printed on offers: months before the end of the term.
OFFER_NOTICE_MONTHS = int(os.environ.get("OFFER_NOTICE_MONTHS", "3"))
COMPANY["address"] = os.environ.get("COMPANY_ADDRESS", f"{COMPANY['street']}, {COMPANY['postcode']} {COMPANY['city']}")

# Billing (billing/): payment terms frozen on each new contract, dunning, DATEV.
BILLING_PAYMENT_DAYS = int(os.environ.get("BILLING_PAYMENT_DAYS", "14"))
# Days after the due date at which reminder levels 1, 2, 3 go out; the tenant is suspended after the last.
BILLING_REMINDER_DAYS = [int(d) for d in os.environ.get("BILLING_REMINDER_DAYS", "7,14,21").split(",") if d.strip()]
BILLING_AUTO_ISSUE = os.environ.get("BILLING_AUTO_ISSUE", "0") == "1"
BILLING_DATEV_REVENUE_ACCOUNT = os.environ.get("BILLING_DATEV_REVENUE_ACCOUNT", "8400")  # SKR03 revenue 19 %
BILLING_DATEV_REVERSE_CHARGE_ACCOUNT = os.environ.get("BILLING_DATEV_REVERSE_CHARGE_ACCOUNT", "8336")
BILLING_DATEV_DEBTOR_BASE = int(os.environ.get("BILLING_DATEV_DEBTOR_BASE", "10000"))  # debtor = base + tenant id
BILLING_DATEV_CONSULTANT = os.environ.get("BILLING_DATEV_CONSULTANT", "1001")  # Beraternummer
BILLING_DATEV_CLIENT = os.environ.get("BILLING_DATEV_CLIENT", "1")  # Mandantennummer

# REST API (/api/v1/, portal/api/): personal tokens, per-token throttles, one error shape, OpenAPI.
INSTALLED_APPS += ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "portal.api"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ApiTokenAuthentication",
        "portal.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.TenantRole"],
    "DEFAULT_THROTTLE_CLASSES": [
        "portal.api.throttling.TokenRateThrottle",
        "portal.api.throttling.TokenWriteRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "api": os.environ.get("API_RATE", "600/min"),
        "api_write": os.environ.get("API_WRITE_RATE", "60/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.Pagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "JIKU Cloud API",
    "DESCRIPTION": "Servers, operations, catalogue, SSH keys, quota and team of your tenant. "
    "Authenticate with a personal token: `Authorization: Bearer jiku_...`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.uuid_path_ids",
        "portal.api.schema.response_links",
    ],
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "provisioning.models.Server.Kind",
        "RoleEnum": "tenants.models.Role",
        "VerdictEnum": "provisioning.models.Verdict",
    },
}

# Web console (portal/consoles/): websockets run in the ASGI app (portal/asgi.py) beside the pages.
ASGI_APPLICATION = "portal.asgi.application"
if REDIS_URL:
    # Staff ending a session reaches the web process that holds it, wherever it runs.
    # channels_redis waits 5 s per blocking pop; redis-py's read timeout (5 s by default) must be longer.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                  "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                                             "prefix": "jiku-asgi:"}}}
else:
    # The demo has no services and one web process, so an in-memory layer reaches every console.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# The browser's console ticket is single-use and must be used this soon after it was issued.
CONSOLE_TICKET_SECONDS = int(os.environ.get("CONSOLE_TICKET_SECONDS", "30"))
# How often an open console checks that its user may still use it (membership, role, staff ending it).
CONSOLE_RECHECK_SECONDS = float(os.environ.get("CONSOLE_RECHECK_SECONDS", "10"))
CONSOLE_MAX_OPEN_PER_USER = int(os.environ.get("CONSOLE_MAX_OPEN_PER_USER", "10"))
