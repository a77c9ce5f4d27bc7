#!/bin/sh
# Serves the Django example as WSGI on http://127.0.0.1:8000 in the foreground
# (Ctrl+C stops it), on SQLite with the migrations applied first. Extra
# arguments go to subcorn. The database stays in $DATA_DIR (default
# /tmp/subcorn-django-demo), so the notes survive a restart.
set -eu
cd "$(dirname "$0")/../.."
export DATA_DIR="${DATA_DIR:-${TMPDIR:-/tmp}/subcorn-django-demo}"
python3.14 examples/django_site/manage.py migrate --noinput --verbosity 0
echo "demo: the SQLite database is in $DATA_DIR" >&2
exec python3.14 -m subcorn examples.django_site.mysite.wsgi:application --interface wsgi \
  --host 127.0.0.1 --port 8000 --workers 2 "$@"
