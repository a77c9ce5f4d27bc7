#!/usr/bin/env python3.14
"""Django's command-line utility for the example site:

    python3.14 examples/django_site/manage.py migrate
    python3.14 examples/django_site/manage.py createsuperuser
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
