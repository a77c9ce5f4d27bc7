"""The supervisor's engine threads (the processes-mode acceptor, the metrics
exporter) are owned by capsules (src/py/engine_capsule.h): stopping one ends
its thread and makes later calls a clear error; dropping one without a stop
ends its thread too."""

from __future__ import annotations

import gc
import os
import socket

import pytest

from subcorn import _native

pytestmark = pytest.mark.subcorn_only


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def listening_socket() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


def start_acceptor(listener: socket.socket):
    started = _native.acceptor_start([listener.fileno()], b"", 0)
    assert not isinstance(started, str), started
    return started


def test_a_stopped_acceptor_ends_its_thread_and_refuses_calls():
    with listening_socket() as listener:
        before = threads()
        acceptor = start_acceptor(listener)
        assert threads() == before + 1
        assert _native.acceptor_report(acceptor)["handed_over"] == 0
        _native.acceptor_stop(acceptor)
        assert threads() == before
        with pytest.raises(ValueError, match="the acceptor was stopped"):
            _native.acceptor_report(acceptor)
        _native.acceptor_stop(acceptor)  # a second stop does nothing


def test_an_acceptor_dropped_without_a_stop_ends_its_thread():
    with listening_socket() as listener:
        before = threads()
        acceptor = start_acceptor(listener)
        assert threads() == before + 1
        del acceptor
        gc.collect()
        assert threads() == before


def test_a_stopped_exporter_ends_its_thread_and_refuses_calls():
    before = threads()
    started = _native.metrics_start("127.0.0.1", 0, 1)
    assert not isinstance(started, str), started
    exporter, _table_fd, port = started  # the fd is the exporter's
    assert port > 0
    assert threads() == before + 1
    _native.metrics_event(exporter, "ready", 0)
    _native.metrics_stop(exporter)
    assert threads() == before
    with pytest.raises(ValueError, match="the metrics exporter was stopped"):
        _native.metrics_event(exporter, "ready", 0)


def test_not_a_capsule_of_ours_is_a_value_error_not_a_crash():
    with listening_socket() as listener:
        acceptor = start_acceptor(listener)
        try:
            with pytest.raises(ValueError):
                _native.metrics_event(acceptor, "ready", 0)
            with pytest.raises(ValueError):
                _native.acceptor_report(object())
        finally:
            _native.acceptor_stop(acceptor)
