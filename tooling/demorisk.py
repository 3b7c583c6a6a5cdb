"""The demo's joint risk management: both administrations' keys, the example profiles proposed by
their owner and countersigned by the other side (so they take effect), and the tally of the
worker's ``risk`` records by channel for the live line and the final summary."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync.settings import Settings
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError

PARTIES = ("MK", "AL")


def enable(settings: Settings) -> Settings:
    """Sign the example profiles with both sides' keys and publish them; the settings with the
    risk stage on. Keys are made on first use in the demo's private home."""
    from bordersync.security.keys import KeyStore
    from streams.risk import feed
    from streams.risk.profiles import countersign, propose
    from tooling.riskmeasure import EXAMPLE_PROFILES

    store = KeyStore.from_settings(settings)
    trust = store.trust()
    for admin in PARTIES:
        if store.active(admin, trust) is None:
            store.generate(admin)
    now = datetime.now(UTC)
    for doc in EXAMPLE_PROFILES:
        full = {**doc, "version": 1, "parties": list(PARTIES),
                "valid_from": (now - timedelta(days=1)).isoformat(),
                "valid_until": (now + timedelta(days=30)).isoformat()}
        owner = str(doc["owner"])
        other = next(p for p in PARTIES if p != owner)
        record = countersign(propose(full, store.signer(owner)), store.signer(other))
        feed.publish(settings, feed.PROFILES, f"{doc['id']}@1", json.dumps(record).encode())
    return settings.model_copy(update={"risk_enabled": True})


class RiskTally:
    """Assessments by channel; the green-lane share is GREEN over every assessment."""

    def __init__(self) -> None:
        self.channels: Counter[str] = Counter()

    def count(self, value: bytes | None) -> None:
        decoded = codec.decode("risk", value)
        if not isinstance(decoded, DecodeError):
            self.channels[str(decoded.get("channel"))] += 1

    def line(self) -> str:
        if not self.channels:
            return "risk: -"
        parts = " ".join(f"{k}={v}" for k, v in sorted(self.channels.items()))
        return f"risk: {parts} green-lane={self.green_share():.0%}"

    def green_share(self) -> float:
        total = sum(self.channels.values())
        return self.channels["GREEN"] / total if total else 0.0

    def summary(self) -> dict[str, Any]:
        return {"assessments": sum(self.channels.values()),
                "channels": dict(sorted(self.channels.items())),
                "green_lane_share": round(self.green_share(), 3)}
