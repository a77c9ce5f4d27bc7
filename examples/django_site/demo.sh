#!/bin/sh
# `./dev demo`: serves the Django example (examples/django_site) as WSGI on
# http://127.0.0.1:8000 in the foreground (Ctrl+C stops it), on SQLite with
# the migrations applied first, and prints how to log into its admin. Extra
# arguments go to subcorn. The database stays in $DATA_DIR (default
# ${TMPDIR:-/tmp}/subcorn-django-demo, see mysite/database.py), so the notes
# and the admin user survive a restart.
set -eu
cd "$(dirname "$0")/../.."
python3.14 examples/django_site/manage.py migrate --noinput --verbosity 0
python3.14 examples/django_site/manage.py demoadmin >&2
exec python3.14 -m subcorn examples.django_site.mysite.wsgi:application --interface wsgi \
  --host 127.0.0.1 --port 8000 --workers 2 "$@"
