"""Serialization: the record codec (JSON and Avro), the Avro schema catalogue, registry and
evolution rules, and the ``schemas`` commands."""
