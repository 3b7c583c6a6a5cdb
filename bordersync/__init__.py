"""bordersync core: the shared vocabulary (settings, border configuration, topic catalogue, events,
plates, endpoints, Kafka client settings, logs, metrics, CLI plumbing), with serialization in
``bordersync.wire`` and security in ``bordersync.security``.

The roles (``producers``, ``streams``, ``consumers``) depend on this package and never on each
other; operations tooling lives in ``tooling``, which neither the roles nor the core import (bar
``bordersync.cli``, lazily, to add its commands). tests/unit/test_layering.py holds it so.
"""

__version__ = "0.1.0"
