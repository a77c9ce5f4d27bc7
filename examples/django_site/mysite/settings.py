"""Settings of the example site. What differs between machines comes from the
environment: DATABASE_URL or DATA_DIR (see database.py), SECRET_KEY, DEBUG,
ALLOWED_HOSTS, SERVE_STATIC."""

import os
from pathlib import Path

from . import database

BASE_DIR = Path(__file__).resolve().parent.parent

# The default key is for trying the example only; set SECRET_KEY anywhere real.
SECRET_KEY = os.environ.get("SECRET_KEY", "example-only-insecure-key-3c8a1f0e6d2b4a79")
DEBUG = os.environ.get("DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
ASGI_APPLICATION = "mysite.asgi.application"

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

DATABASES = {"default": database.from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `manage.py collectstatic` gathers the files for a front server.
STATIC_ROOT = database.data_dir() / "staticfiles"
# Without a front server (or WhiteNoise), let Django serve the static files
# itself, straight from the apps' static/ folders (see urls.py).
SERVE_STATIC = os.environ.get("SERVE_STATIC", "1") == "1"

# Django logs server errors (with their traceback) to the console only when
# DEBUG is on; send them to stderr always, so the server's log shows them.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
