"""Operations tooling: the local dev stack (Kafka, Redis, TLS CA), the demo, benchmarks, soak runs
with fault injection and the traffic simulator. Shipped in the wheel for the ``dev``, ``demo``,
``bench``, ``soak`` and ``simulate`` commands; no role and no core vocabulary module imports it
(only ``bordersync.cli``, lazily, to add its commands). See tests/unit/test_layering.py.
"""
