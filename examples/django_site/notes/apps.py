import atexit

from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"

    def ready(self) -> None:
        # Close the PostgreSQL connection pools at exit: their threads would
        # otherwise stall the worker's shutdown for seconds (psycopg_pool waits
        # 5 s for each thread it cannot stop). subcorn runs atexit hooks in every
        # worker interpreter before it ends it.
        atexit.register(close_pools)


def close_pools() -> None:
    from django.db import connections

    for alias in connections:
        close_pool = getattr(connections[alias], "close_pool", None)
        if close_pool is not None:
            close_pool()
