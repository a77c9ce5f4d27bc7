"""ASGI apps that every server under test serves, importable as bench.apps.NAME."""
