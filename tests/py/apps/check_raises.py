"""`subcorn check` fixture: an app whose import fails in any interpreter."""

raise RuntimeError("this app is broken")
