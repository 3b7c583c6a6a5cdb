"""The benchmark suite (``bordersync bench``): ``run`` drives it, one module per part measured
(``codec``, ``producers``, ``streams``, ``processor``, ``consumers``), ``load`` and ``refs`` feed
it, and ``doc`` records the results in docs/performance.md (``python -m tooling.bench.doc``)."""
