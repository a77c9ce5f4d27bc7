"""The apps every server under test serves, importable as bench.apps.NAME."""
