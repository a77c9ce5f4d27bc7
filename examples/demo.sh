#!/bin/sh
# `./dev demo`: serve the bundled example on http://127.0.0.1:8000 in the
# foreground (Ctrl+C stops it). Extra arguments go to subcorn.
exec python3.14 -m subcorn examples.hello.app:app --host 127.0.0.1 --port 8000 --workers 2 "$@"
