"""`manage.py demoadmin`: how to log into the demo's admin (`./dev demo` runs it).

The first time, it creates the superuser "admin" with a generated password and
keeps that password in $DATA_DIR/admin-password (readable by its owner only),
so every later start prints the same one. A password changed since (in the
admin, or with `manage.py changepassword admin`) is the user's: it is never
reset, only no longer printed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from mysite import database

USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo's admin user once and print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = database.data_dir()
        saved = data_dir / "admin-password"
        users = get_user_model()._default_manager
        user = users.filter(username=USERNAME).first()
        password = _read(saved)
        if user is None:
            password = secrets.token_urlsafe(12)
            users.create_superuser(USERNAME, email="", password=password)
            _write(saved, password)
        elif password is not None and not user.check_password(password):
            password = None  # changed by its owner since
        # As typed from the repository's root on the host (./dev demo's
        # user); inside the dev root, without "./dev run".
        manage = "./dev run python3.14 examples/django_site/manage.py"
        if password is not None:
            self.stdout.write(f"demo: log into /admin/ as {USERNAME!r} with the password {password!r}")
        else:
            self.stdout.write(f"demo: log into /admin/ as {USERNAME!r} with the password you set "
                              f"(forgot it? DATA_DIR={data_dir} {manage} changepassword {USERNAME})")
        self.stdout.write(f"demo: more users: DATA_DIR={data_dir} {manage} createsuperuser")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _write(path: Path, password: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(password + "\n")
