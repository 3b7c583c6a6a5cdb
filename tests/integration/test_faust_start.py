"""The Faust worker's start against a cluster that cannot create topics right now.

Soak seed 21 (2026-11-30 15:47:54): both Faust workers, restarted while one of the three Kafka
nodes had just been SIGKILLed, exited with code 1 at start. Faust's LeaderAssignor (and each
table) declared its topic on start: aiokafka sent CreateTopics to the node the metadata named
controller — the dead one — and ``NodeNotReadyError`` ended mode's Worker. Which node the
metadata names is the broker's random pick, so the test makes every CreateTopics request fail
the same way instead of waiting for the pick to land on a dead node: deterministic.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bordersync.settings import Settings
from tests.conftest import settings_env
from tests.helpers import crossing
from tests.integration.streams_support import Reader, pair_ids, publish

# The worker, in a process whose aiokafka client cannot reach the node it sends CreateTopics to
# (exactly the soak's error; every other request goes through untouched).
WORKER = """
import sys
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import NodeNotReadyError

send = AIOKafkaClient.send

async def refuse_create_topics(self, node_id, request, **kwargs):
    if type(request).__name__.startswith("CreateTopicsRequest"):
        raise NodeNotReadyError(
            f"Attempt to send a request to node which is not ready (node id {node_id}).")
    return await send(self, node_id, request, **kwargs)

AIOKafkaClient.send = refuse_create_topics
from bordersync.cli import main
sys.exit(main(["streams", "worker"]))
"""


def test_faust_worker_exited_at_start_when_the_controller_node_was_down(
        settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"stream_engine": "faust"})
    now = datetime.now(UTC).replace(microsecond=0)
    publish(settings, [
        crossing(event_id="x1", plate="SK 1 AB", event_time=(now - timedelta(minutes=30)).isoformat()),
        crossing(event_id="n1", plate="SK 1 AB", admin="AL", post="ALQTH01", direction="ENTRY",
                 terminal_id="al-1", event_time=(now - timedelta(minutes=10)).isoformat()),
    ])
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-c", WORKER], env=settings_env(settings),
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    reader = Reader(settings, ["matched"])
    try:
        # Done when the pair is out — or when the worker has already given up.
        reader.wait(lambda g: worker.poll() is not None or bool(g["matched"]), 120,
                    "the pair, or the worker's exit")
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        assert pair_ids(reader.got) == {("x1", "n1")}
    finally:
        reader.close()
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, log.read_text(errors="replace")[-3000:]
