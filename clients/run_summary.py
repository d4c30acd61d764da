"""What happened to a stream's frames: counts, statuses, errors, server trouble, latency, throughput."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from clients.stream_sender import SendOutcome, SenderStats

_ERRORS_SHOWN = 3


@dataclass
class RunSummary:
    """One stream's (or, combined, several streams') frames; ``failed`` frames were written unannotated."""

    frames: int = 0
    failed: int = 0
    statuses: Counter = field(default_factory=Counter)  # Status name -> frames
    errors: Counter = field(default_factory=Counter)  # error message -> frames
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    server: SenderStats = field(default_factory=SenderStats)
    stopped_because: str | None = None  # why the stream ended early (a camera stalled), if it did

    def record(self, outcome: SendOutcome) -> None:
        self.frames += 1
        if outcome.result is None:
            self.failed += 1
            self.errors[outcome.error or "unknown error"] += 1
        else:
            self.statuses[outcome.result.status.name] += 1
            self.latencies_ms.append(outcome.latency_ms)

    @classmethod
    def combine(cls, summaries: list["RunSummary"], wall_s: float) -> "RunSummary":
        """The totals of several streams that ran over ``wall_s`` seconds together."""
        total = cls(wall_s=wall_s)
        for s in summaries:
            total.frames += s.frames
            total.failed += s.failed
            total.statuses.update(s.statuses)
            total.errors.update(s.errors)
            total.latencies_ms.extend(s.latencies_ms)
            total.server.add(s.server)
        return total

    def lines(self) -> list[str]:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        unannotated = ", written unannotated" if self.failed else ""
        lines = [
            f"frames: {self.frames} (processed {self.frames - self.failed}, failed {self.failed}{unannotated})",
            f"status: {statuses or 'none'}",
        ]
        s = self.server
        if s.retries or s.stream_restarts or s.unreachable_frames:
            lines.append(f"server trouble: {s.retries} retries, {s.reconnects} reconnects, stream restarted "
                         f"{s.stream_restarts} time(s), {s.unreachable_frames} frame(s) given up (server unreachable)")
        if s.slot_wait_s:
            lines.append(f"waited {s.slot_wait_s:.1f} s for a stream slot (the server was full)")
        for message, count in self.errors.most_common(_ERRORS_SHOWN):
            lines.append(f"error on {count} frame(s): {message}")
        if self.stopped_because:
            lines.append(f"stopped early: {self.stopped_because}")
        lines += [
            f"latency ms: p50 {np.percentile(lat, 50):.1f}  p95 {np.percentile(lat, 95):.1f}  mean {lat.mean():.1f}",
            f"throughput: {self.frames / max(self.wall_s, 1e-9):.2f} frames/s over {self.wall_s:.1f} s",
        ]
        return lines

    def as_dict(self) -> dict:
        """A JSON-ready form (for ``--results-json``)."""
        return {
            "frames": self.frames,
            "processed": self.frames - self.failed,
            "failed": self.failed,
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
            "retries": self.server.retries,
            "reconnects": self.server.reconnects,
            "stream_restarts": self.server.stream_restarts,
            "unreachable_frames": self.server.unreachable_frames,
            "slot_wait_s": self.server.slot_wait_s,
            "stopped_because": self.stopped_because,
            "wall_s": self.wall_s,
        }
