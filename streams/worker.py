"""``bordersync streams worker``: one Faust worker running every processor."""

from __future__ import annotations

from faust.worker import Worker

from bordersync.settings import Settings
from streams import gctune, ingest
from streams.app import create_app


def run_worker(settings: Settings) -> int:
    gctune.tune()
    if settings.stream_engine == "batch":
        from streams.engine import run_engine

        if settings.metrics_port:
            from bordersync.metrics import serve

            serve(settings.metrics_port, role="streams-worker")
        return run_engine(settings)
    app = create_app(settings)
    ingest.register(app, settings)
    if settings.metrics_port:
        from bordersync.metrics import serve

        serve(settings.metrics_port, role="streams-worker")
    worker = Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()  # handles SIGINT/SIGTERM, exits the process
    return 0
