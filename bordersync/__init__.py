"""bordersync core: settings, topic catalogue, border configuration, codecs and the embedded stack.

Everything else (``producers``, ``streams``, ``consumers``) depends on this package and never on
each other, so the core stays small and free of processing logic.
"""

__version__ = "0.1.0"
