"""An app that can never start: its import raises."""

raise RuntimeError("supervised-broken-at-import-plugh")
