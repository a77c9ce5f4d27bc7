"""Makes the project importable however the server names its entry point.

The site's own modules import each other as `mysite.*` and `notes.*` (as
manage.py sees them), while a server may import the entry point as
`examples.django_site.mysite.wsgi` from the repository root. Putting the
project directory on sys.path first makes both work; each sub-interpreter has
its own sys.path, so every worker does this for itself.
"""

import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def prepare() -> None:
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
