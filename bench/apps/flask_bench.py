"""Flask 3.1 + SQLAlchemy 2.0 on SQLite: one JSON view running one ORM query.

    BENCH_DB_DIR=/tmp/db python3.14 -m bench.apps.flask_bench   # create and seed, once
    BENCH_DB_DIR=/tmp/db subcorn bench.apps.flask_bench:app

The same table and rows as the Django app (bench/apps/items.py), in its own file.
"""

from typing import Any

from flask import Flask
from sqlalchemy import Engine, String, Text, create_engine, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool

from bench.apps.items import NAME_MAX, ROWS, TABLE, db_dir


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str] = mapped_column(Text)
    price_cents: Mapped[int]
    in_stock: Mapped[bool]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "price_cents": self.price_cents,
            "in_stock": self.in_stock,
        }


def make_engine() -> Engine:
    # QueuePool is SQLAlchemy 2.0's default for a SQLite file; said explicitly
    # because it is what keeps connections open across requests. A connection
    # goes back to the pool and may be checked out next by another thread (gunicorn
    # gthread, granian's blocking threads), so sqlite3's same-thread check is off.
    return create_engine(
        f"sqlite:///{db_dir() / 'flask.sqlite3'}",
        poolclass=QueuePool,
        connect_args={"check_same_thread": False},
    )


def create_app() -> Flask:
    app = Flask(__name__)
    session_factory = sessionmaker(make_engine())

    @app.get("/items")
    def items() -> dict[str, Any]:
        with session_factory() as session:
            rows = session.scalars(select(Item).order_by(Item.id)).all()
            return {"items": [row.as_dict() for row in rows]}

    return app


app = create_app()


def setup_db() -> None:
    db_dir().mkdir(parents=True, exist_ok=True)
    engine = make_engine()
    Base.metadata.create_all(engine)
    with sessionmaker(engine).begin() as session:
        session.execute(delete(Item))
        session.add_all(Item(**row) for row in ROWS)
    engine.dispose()
    print(f"flask_bench: {len(ROWS)} items in {engine.url.database}")


if __name__ == "__main__":
    setup_db()
