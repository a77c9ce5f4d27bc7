"""`subcorn check` fixture: an import that never finishes (for --timeout)."""

import time

time.sleep(3600)
app = None
