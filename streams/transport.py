"""A Faust transport whose consumer does not sit in Tansu's fetch sleep.

Faust fixes aiokafka's ``fetch_max_wait_ms`` at 1500; Tansu sleeps about half of the max wait
on every fetch that has nothing new, so each hop would cost ~750 ms. We lower it after the
consumer is built and before it starts (aiokafka reads it in ``start()``).
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka


class FastFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms = 10

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


class FastFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> FastFetchConsumerThread:
        return FastFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)


class FastFetchTransport(faust_aiokafka.Transport):
    Consumer = FastFetchConsumer


def make_transport_class(fetch_max_wait_ms: int) -> type[FastFetchTransport]:
    thread = type("Thread", (FastFetchConsumerThread,), {"fetch_max_wait_ms": fetch_max_wait_ms})

    class _Consumer(FastFetchConsumer):
        def _new_consumer_thread(self) -> FastFetchConsumerThread:
            return thread(self, loop=self.loop, beacon=self.beacon)  # type: ignore[no-any-return]

    return type("Transport", (FastFetchTransport,), {"Consumer": _Consumer})
