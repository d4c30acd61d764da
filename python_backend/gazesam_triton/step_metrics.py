"""The pipeline's metrics (:mod:`gazesam.pipeline_metrics`) as Python-backend metric families.

Triton exports them on its metrics endpoint (``/metrics``, port 8002 by default) beside its own. Each
step's process registers only the families it reports; a family of the same name in several processes
is one family on ``/metrics`` (each step reports its own label sets).
"""

from __future__ import annotations

from collections.abc import Iterable

import triton_python_backend_utils as pb_utils

from gazesam.pipeline_metrics import MetricKind, MetricUpdate, used_specs


def _kind(kind: MetricKind):
    # Looked up when a model initializes: the stub adds MetricFamily to pb_utils after importing model.py.
    return {MetricKind.COUNTER: pb_utils.MetricFamily.COUNTER, MetricKind.GAUGE: pb_utils.MetricFamily.GAUGE}[kind]


class StepMetrics:
    """Applies :class:`MetricUpdate` values; created with the step's initial (zero) updates."""

    def __init__(self, initial: list[MetricUpdate]):
        self._families = {
            spec.name: pb_utils.MetricFamily(name=spec.name, description=spec.description, kind=_kind(spec.kind))
            for spec in used_specs(initial)
        }
        self._metrics: dict[tuple, object] = {}
        self._gauges: dict[tuple, float] = {}  # the value each gauge was last set to
        self.apply(initial)

    def apply(self, updates: Iterable[MetricUpdate]) -> None:
        for update in updates:
            key = (update.spec.name, update.labels)
            if key not in self._metrics:
                self._metrics[key] = self._families[update.spec.name].Metric(labels=dict(update.labels))
            metric = self._metrics[key]
            if update.spec.kind is MetricKind.COUNTER:
                metric.increment(update.value)
            elif self._gauges.get(key) != update.value:  # each call is a round trip to the server process
                metric.set(update.value)
                self._gauges[key] = update.value
