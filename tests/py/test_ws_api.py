"""The Python side of the WebSocket adapter that exists without a connection:
the exception a WebSocket's send() raises once the connection is closed
(ASGI 2.4: a server-specific OSError subclass)."""

import pytest

pytestmark = pytest.mark.subcorn_only


def test_client_disconnected_is_an_oserror_from_the_extension():
    import subcorn
    from subcorn import _native

    assert subcorn.ClientDisconnected is _native.ClientDisconnected
    assert issubclass(subcorn.ClientDisconnected, OSError)
    # An app catches it as OSError (Starlette's WebSocket.send does).
    with pytest.raises(OSError):
        raise subcorn.ClientDisconnected("the WebSocket connection is closed")


def test_other_missing_attributes_still_raise_attribute_error():
    import subcorn

    with pytest.raises(AttributeError, match="no attribute 'NotThere'"):
        subcorn.NotThere  # noqa: B018
