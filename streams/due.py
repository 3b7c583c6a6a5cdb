"""A time index of vehicles for the batch engine's sweep: only what is due gets looked at.

Entries are (due, plate) in a heap with lazy deletion: rescheduling a plate pushes a new entry
and leaves the old one to be skipped when it surfaces. The heap is rebuilt when stale entries
outnumber live ones, so memory stays proportional to the vehicles held.
"""

from __future__ import annotations

import heapq
from collections import Counter


class DueIndex:
    def __init__(self) -> None:
        self._due: dict[str, int] = {}  # plate -> due time, epoch ms
        self._heap: list[tuple[int, str]] = []
        self._pending: dict[str, tuple[str, ...]] = {}
        self._interned: dict[tuple[str, ...], tuple[str, ...]] = {}  # few distinct: share them
        self.pending = Counter[str]()  # crossing -> pending events, kept by deltas

    def __len__(self) -> int:
        return len(self._due)

    def set(self, plate: str, due: int | None, pending: tuple[str, ...] = ()) -> None:
        """Schedule ``plate`` (None: nothing due, forget it) and record its pending crossings."""
        self._set_pending(plate, pending)
        if due is None:
            self._due.pop(plate, None)
            return
        if self._due.get(plate) == due:
            return
        self._due[plate] = due
        heapq.heappush(self._heap, (due, plate))
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._heap = [(t, p) for p, t in self._due.items()]
            heapq.heapify(self._heap)

    def remove(self, plate: str) -> None:
        self.set(plate, None)

    def pop_due(self, now: int, limit: int | None = None) -> list[str]:
        """Plates due at ``now`` (at most ``limit``), unscheduled until ``set`` again."""
        out: list[str] = []
        heap, due = self._heap, self._due
        while heap and heap[0][0] <= now and (limit is None or len(out) < limit):
            t, plate = heapq.heappop(heap)
            if due.get(plate) == t:
                del due[plate]
                out.append(plate)
        return out

    def _set_pending(self, plate: str, pending: tuple[str, ...]) -> None:
        old = self._pending.pop(plate, ())
        if old == pending:
            if pending:
                self._pending[plate] = old
            return
        self.pending.subtract(old)
        self.pending.update(pending)
        if pending:
            self._pending[plate] = self._interned.setdefault(pending, pending)
