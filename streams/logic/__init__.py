"""Pure stream logic: no Kafka, no Faust, no clocks. Every function takes ``now`` when it needs it."""
