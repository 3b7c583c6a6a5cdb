"""``bordersync streams worker``: one Faust worker running every processor."""

from __future__ import annotations

import logging

from faust.worker import Worker

from bordersync import logs
from bordersync.settings import Settings
from streams import gctune, ingest
from streams.app import create_app


class QuietWorker(Worker):
    """Faust's worker with our logging kept.

    Faust replaces the root handlers with its own and, for its terminal spinner, sets the root
    logger to DEBUG: every ``log.debug`` in aiokafka (one per record sent) then builds a
    LogRecord that only the spinner looks at — about a fifth of the worker's CPU under load
    (docs/streams.md, "Faust engine overhead"). This hook runs right after Faust configures the
    root logger; we put back our JSON handler and level and drop the spinner.
    """

    def __init__(self, *args: object, settings: Settings, **kwargs: object) -> None:
        self._settings = settings
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        logs.setup(self._settings.log_level, self._settings.log_json)
        # The batch-cut timer (every stream_batch_seconds, 10 ms) overruns its interval whenever
        # a batch takes longer than that, which is normal under load: not worth a warning each.
        logging.getLogger("mode.timers").setLevel(logging.ERROR)


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
    worker = QuietWorker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False,
                         settings=settings)
    worker.execute_from_commandline()  # handles SIGINT/SIGTERM, exits the process
    return 0
