"""The static scenario's file: 50 KB that every server serves from one
directory under /static (subcorn --static, granian's static route, an nginx
location).

Run as a module (the scenario's setup), it writes the file. Its bytes are
made here, so the harness checks each server's answer against them before
any load.
"""

import os
from pathlib import Path

DIR = Path(os.environ.get("BENCH_STATIC_DIR", "/tmp/subcorn-bench-static"))
PREFIX = "/static"
NAME = "50k.bin"
URL = f"{PREFIX}/{NAME}"
SIZE = 50 * 1024


def content() -> bytes:
    """50 KB of text-like bytes (as a script or a stylesheet would be)."""
    line = b"body { margin: 0; padding: 0; font-family: system-ui, sans-serif; }\n"
    return (line * (SIZE // len(line) + 1))[:SIZE]


CONTENT = content()


def main() -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    path = DIR / NAME
    if not path.exists() or path.read_bytes() != CONTENT:
        path.write_bytes(CONTENT)
    print(f"static file: {path} ({SIZE} bytes)")


if __name__ == "__main__":
    main()
