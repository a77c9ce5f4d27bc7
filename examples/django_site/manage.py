#!/usr/bin/env python3.14
"""Django's command-line utility for the example site:

    python3.14 examples/django_site/manage.py migrate
    python3.14 examples/django_site/manage.py createsuperuser

The SQLite database is in $DATA_DIR (default: the demo's, see
mysite/database.py). A command that needs tables before `migrate` made them
says so in one line instead of a traceback.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        from mysite import database

        sys.exit(f"manage.py: {exc}: the database in {database.data_dir()} has no tables yet. "
                 f"Run `{sys.argv[0]} migrate` first (./dev demo does), or set DATA_DIR to the "
                 "directory of a database that has them.")


if __name__ == "__main__":
    main()
