"""Settings as a small production JSON API would have them."""

from bench.apps.items import db_dir

SECRET_KEY = "bench-only-insecure-key-5b0f3e9a1c7d4e28"
DEBUG = False
ALLOWED_HOSTS = ["*"]

# The project is its own (only) app: it holds the model.
INSTALLED_APPS = ["bench.apps.django_bench"]
# An API typically keeps CommonMiddleware (APPEND_SLASH, ALLOWED_HOSTS checks)
# and drops sessions, CSRF, auth and messages, which a token-auth API rarely needs.
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bench.apps.django_bench.urls"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": db_dir() / "django.sqlite3",
        # Persistent connections, as production uses: one per thread, kept open
        # across requests instead of reconnecting every time.
        "CONN_MAX_AGE": None,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
