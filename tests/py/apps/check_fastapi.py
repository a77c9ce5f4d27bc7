"""`subcorn check` fixture: FastAPI, whose pydantic_core refuses sub-interpreters."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def root():
    return {"hello": "world"}
