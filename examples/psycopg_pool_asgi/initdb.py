"""Creates the table (once, before serving; the app never changes the schema):

    DATABASE_URL=postgresql://... python3.14 -m examples.psycopg_pool_asgi.initdb
"""

from .store import create_schema

if __name__ == "__main__":
    create_schema()
    print("table 'notes' ready")
