"""A FastAPI app with pydantic models. pydantic_core cannot load in a
sub-interpreter, so `subcorn` (--mode auto) probes it, says so, and serves it
with worker processes; nothing to configure.

    ./dev run subcorn examples.fastapi_app.app:app --workers 2
    curl -X POST localhost:8000/items -H 'content-type: application/json' \\
         -d '{"name": "pen", "price": 1.5, "tags": ["office"]}'
"""

from __future__ import annotations

import os
from concurrent import interpreters

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI(title="subcorn FastAPI example")


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


class Priced(BaseModel):
    name: str
    price_with_tax: float
    tags: list[str]


@app.post("/items")
async def create_item(item: Item) -> Priced:
    return Priced(name=item.name, price_with_tax=round(item.price * 1.2, 2), tags=item.tags)


@app.get("/where")
async def where() -> dict[str, int]:
    """Which process and interpreter served the request."""
    return {"pid": os.getpid(), "ppid": os.getppid(), "interpreter": interpreters.get_current().id}
