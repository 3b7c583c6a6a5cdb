"""Contract of ``streams/faust_private.py`` with faust-streaming: every private name it uses.

Pinned to the installed Faust version on purpose. When faust-streaming is upgraded this test fails
first: re-check each name below against the new release (and whether Faust now offers a public
way), then move the pin.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import faust.streams
from faust.stores.memory import Store as MemoryStore
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams import faust_private

PINNED = "0.15.3"


def test_faust_version_is_the_one_the_private_names_were_checked_against() -> None:
    assert version("faust-streaming") == PINNED, (
        "faust-streaming changed: re-check streams/faust_private.py against it, then update "
        "PINNED in this test")


def test_the_private_names_still_exist() -> None:
    assert isinstance(faust.streams._current_event, type(faust.streams._current_event))
    assert faust.streams._current_event.name  # a ContextVar
    base = faust_consumer.Consumer
    for name in ("_add_gap", "_new_offset", "perform_seek", "seek_wait", "getmany", "seek",
                 "earliest_offsets"):
        assert callable(getattr(base, name, None)) or callable(
            getattr(faust_aiokafka.Consumer, name, None)), name
    init = inspect.getsource(base.__init__)
    for attribute in ("self._acked", "self._committed_offset", "self._read_offset"):
        assert attribute in init, attribute
    # The fetch loop calls self.getmany (our override) and hands jumps to self._add_gap.
    drain = inspect.getsource(base._drain_messages)
    assert "getmany = self.getmany" in drain and "self._add_gap(" in drain
    assert "_key_partition" in inspect.getsource(MemoryStore)


def test_our_transport_is_registered_under_its_scheme() -> None:
    assert TRANSPORTS.by_name(faust_private.SCHEME) is faust_private.Transport
    assert faust_private.Transport.Consumer is faust_private.SafeCommitConsumer


def test_rocksdb_store_names_when_installed() -> None:
    try:
        from faust.stores.rocksdb import Store as RocksStore
    except ImportError:  # rocksdict is an optional extra
        return
    source = inspect.getsource(RocksStore)
    assert "_dbs" in source and "def _visible_items" in source
