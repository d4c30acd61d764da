"""Bounded exponential back-off: how long to wait before each retry of a request the server did not answer.

    Backoff(retries=4, first_wait_s=0.5, max_wait_s=3).waits()   # [0.5, 1.0, 2.0, 3.0]
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``retries`` waits, doubling from ``first_wait_s`` and capped at ``max_wait_s`` (seconds)."""

    retries: int
    first_wait_s: float = 0.5
    max_wait_s: float = 10.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, not {self.retries}")
        if not 0 < self.first_wait_s <= self.max_wait_s:
            raise ValueError(f"need 0 < first wait ({self.first_wait_s}) <= max wait ({self.max_wait_s})")

    def waits(self) -> list[float]:
        """The wait before retry 1, 2, ..., ``retries``, in seconds."""
        return [min(self.first_wait_s * 2.0**i, self.max_wait_s) for i in range(self.retries)]

    @property
    def total_wait_s(self) -> float:
        """How long the server may stay away before a request is given up."""
        return sum(self.waits())
