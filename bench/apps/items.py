"""The data both framework apps serve: one `items` table of 20 rows in SQLite.

Plain data, no framework import, so the harness can check a server's answer
against it. The database lives in $BENCH_DB_DIR, which the harness creates
(a temporary directory) and fills once before the runs.
"""

import os
from pathlib import Path
from typing import Any

TABLE = "items"
NAME_MAX = 100

ROWS: list[dict[str, Any]] = [
    {
        "id": i,
        "name": f"item {i:02d}",
        "description": f"A benchmark item, number {i}, with a sentence of text.",
        "price_cents": 100 * i + 99,
        "in_stock": i % 3 != 0,
    }
    for i in range(1, 21)
]

# What GET /items answers with, in both apps (JSON; key order may differ).
EXPECTED: dict[str, Any] = {"items": ROWS}


def db_dir() -> Path:
    raw = os.environ.get("BENCH_DB_DIR")
    if not raw:
        raise RuntimeError(
            "BENCH_DB_DIR is not set: it names the directory of the benchmark's SQLite "
            "files (bench/run.py sets it and fills it before the runs)"
        )
    return Path(raw)
