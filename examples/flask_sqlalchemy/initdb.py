"""Creates the tables (once, before serving; like Django's migrate):

    DATABASE_URL=postgresql://... python3.14 -m examples.flask_sqlalchemy.initdb

Not done at import: a server imports the app in every worker at once, and
concurrent CREATE TABLEs race in PostgreSQL; and the app should start (and
answer its own errors) while the database is down.
"""

from .db import database_url, make_engine
from .models import Base


def main() -> None:
    url = database_url()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    print(f"tables ready in {url.render_as_string(hide_password=True)}")


if __name__ == "__main__":
    main()
