"""`subcorn check` fixture: a WSGI app (Flask), exercised through WSGI."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def root():
    return "flask"
