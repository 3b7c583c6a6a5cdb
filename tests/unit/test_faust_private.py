"""Contract of ``streams/faust_private.py`` with faust-streaming: every private name it uses.

Pinned to the installed Faust version on purpose. When faust-streaming is upgraded this test fails
first: re-check each name below against the new release (and whether Faust now offers a public
way), then move the pin.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.group_coordinator import GroupCoordinator
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
    # Exactly-once (points 2 to 5).
    thread = faust_aiokafka.AIOKafkaConsumerThread
    assert "isolation_level=isolation_level" in inspect.getsource(thread._create_worker_consumer)
    assert callable(getattr(faust_aiokafka.Consumer, "_new_consumer_thread", None))
    assert callable(getattr(faust_aiokafka.Consumer, "_commit", None))
    assert "self._isolation_level" in inspect.getsource(AIOKafkaConsumer.start)
    coordinator = inspect.getsource(GroupCoordinator.__init__)
    for attribute in ("self.generation", "self.member_id", "self._group_instance_id",
                      "self.group_id"):
        assert attribute in coordinator, attribute
    for name in ("_on_partitions_assigned", "_on_partitions_revoked"):
        assert callable(getattr(faust.App, name, None)), name


def test_our_transport_is_registered_under_its_scheme() -> None:
    assert TRANSPORTS.by_name(faust_private.SCHEME) is faust_private.Transport
    assert faust_private.Transport.Consumer is faust_private.SafeCommitConsumer
