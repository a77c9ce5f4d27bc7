"""subcorn: an application server for Python web apps with a C++ engine.

It runs many copies of an ASGI app in one process, each in its own
sub-interpreter with its own GIL. Run it with ``subcorn module:app``.
"""

__version__ = "0.1.0"
