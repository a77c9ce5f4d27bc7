"""A minimal Django 5.2 project made for benchmarking: one model, one JSON view.

Create and seed its SQLite file once, then serve it:

    BENCH_DB_DIR=/tmp/db python3.14 -m bench.apps.django_bench.setup_db
    BENCH_DB_DIR=/tmp/db subcorn bench.apps.django_bench.wsgi:application

bench/run.py does both in a temporary BENCH_DB_DIR.
"""
