"""Creates and seeds the SQLite database in $BENCH_DB_DIR (once, before the runs).

    BENCH_DB_DIR=/tmp/db python3.14 -m bench.apps.django_bench.setup_db

The app has no migrations files: `migrate --run-syncdb` creates its table
from the model, as it would for any app without migrations.
"""

import os

import django
from django.core.management import call_command

from bench.apps.items import ROWS, db_dir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.apps.django_bench.settings")


def main() -> None:
    db_dir().mkdir(parents=True, exist_ok=True)
    django.setup()
    from .models import Item  # only once the app registry is ready

    call_command("migrate", run_syncdb=True, verbosity=0)
    Item.objects.all().delete()
    Item.objects.bulk_create(Item(**row) for row in ROWS)
    print(f"django_bench: {Item.objects.count()} items in {db_dir() / 'django.sqlite3'}")


if __name__ == "__main__":
    main()
