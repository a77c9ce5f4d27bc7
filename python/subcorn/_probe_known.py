"""What `subcorn check` knows about particular libraries (measured: see
docs/compatibility.md). Plain data, so both sides of the probe can import it.

The probe finds refused extension modules generically (it watches every
extension import); these tables only add what a refusal means for the app.
"""

from __future__ import annotations

# An extension module that a library imports inside `try: ... except
# ImportError` and quietly does without. Keyed by module name or package
# prefix: (what it is, what the app gets instead).
QUIET_FALLBACKS: dict[str, tuple[str, str]] = {
    "sqlalchemy.cyextension": (
        "SQLAlchemy's Cython extensions (cyextension)",
        "result rows, collections and type processing run in pure Python",
    ),
    "greenlet._greenlet": (
        "greenlet, which SQLAlchemy's asyncio support needs",
        "create_async_engine and AsyncSession fail ('the greenlet library is required')",
    ),
    "psycopg_c": (
        "psycopg's C implementation (psycopg_c)",
        "psycopg runs its pure-Python implementation (psycopg.pq.__impl__ == 'python')",
    ),
    "yaml._yaml": (
        "PyYAML's libyaml bindings (_yaml)",
        ("yaml.CLoader and CDumper are missing (yaml.__with_libyaml__ is False); "
         "loading and dumping run in pure Python"),
    ),
    "_yaml": (
        "PyYAML's libyaml bindings (_yaml)",
        "yaml.CLoader and CDumper are missing; loading and dumping run in pure Python",
    ),
    "aiohttp._http_parser": (
        "aiohttp's C HTTP parser",
        "aiohttp parses HTTP in pure Python",
    ),
    "aiohttp._http_writer": (
        "aiohttp's C HTTP writer",
        "aiohttp writes HTTP in pure Python",
    ),
    "aiohttp._websocket": (
        "aiohttp's C websocket helpers",
        "websocket masking and frame reading run in pure Python",
    ),
    "yarl._quoting_c": ("yarl's C URL quoting", "URLs are quoted in pure Python"),
    "frozenlist._frozenlist": ("frozenlist's C implementation", "pure-Python FrozenList"),
    "propcache._helpers_c": ("propcache's C helpers", "pure-Python cached properties"),
    "multidict._multidict": ("multidict's C implementation", "pure-Python multidicts"),
    "google._upb._message": (
        "protobuf's upb C implementation",
        "protobuf runs its pure-Python implementation",
    ),
}

GENERIC_FALLBACK = "the library carried on without it (usually a slower pure-Python path)"

# Packages that import fine and load their C core only on first use, which
# then fails. When the app has imported the package but not yet its core,
# the probe imports the core itself: parent package -> (core module, what).
FIRST_USE: dict[str, tuple[str, str]] = {
    "cryptography": (
        "cryptography.hazmat.bindings._rust",
        "cryptography's Rust bindings: every cipher, hash, key and X.509 call needs them",
    ),
    "lxml": ("lxml.etree", "lxml's parser and tree: all of lxml needs it"),
    "PIL": ("PIL._imaging", "Pillow's core: PIL.Image needs it"),
}


def quiet_fallback(module: str) -> tuple[str, str] | None:
    """What a quietly missing extension module is, from the longest known prefix."""
    best: tuple[str, str] | None = None
    best_len = -1
    for key, value in QUIET_FALLBACKS.items():
        if (module == key or module.startswith(key + ".")) and len(key) > best_len:
            best, best_len = value, len(key)
    return best
