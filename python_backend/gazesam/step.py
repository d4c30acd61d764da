"""A pipeline step: one Python-backend Triton model, as a plain function over numpy arrays.

A step's inputs are the global tensors named by its function's parameters (after ``settings``, and the
stream ``state`` for stateful steps); its outputs are the global names it declares. Their dtypes and
shapes come from the model set's tensor table (:attr:`gazesam.networks.ModelSet.tensor_specs`), so a
step never respells a contract.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .contracts import TensorSpec

StepFn = Callable[..., dict[str, np.ndarray]]


@dataclass(frozen=True)
class Step:
    """One Python-backend model: its function, the global tensors it writes, and its stream behaviour."""

    name: str
    run: StepFn  # run(settings, **inputs), or run(settings, state, **inputs) -> {output name: array}
    output_names: tuple[str, ...]
    stream_state: Callable[[Any], Any] | None = None  # builds a stream's fresh state; None = stateless
    admits_streams: bool = False  # the ensembles' first step: admits streams (gazesam.admission)
    passed_on: tuple[str, ...] = ()  # outputs written only for an ensemble whose request lacks them
    inputs: tuple[TensorSpec, ...] = ()  # resolved by bind()
    outputs: tuple[TensorSpec, ...] = ()

    @property
    def input_names(self) -> tuple[str, ...]:
        """The global tensors this step reads: its function's parameters after settings (and state)."""
        skip = 2 if self.stream_state is not None else 1
        return tuple(list(inspect.signature(self.run).parameters)[skip:])

    @property
    def optional_input_names(self) -> tuple[str, ...]:
        """Inputs a request may leave out (parameters defaulting to None): each ensemble maps the ones it has."""
        parameters = inspect.signature(self.run).parameters
        return tuple(n for n in self.input_names if parameters[n].default is None)

    @property
    def sequence_batched(self) -> bool:
        """True for a step served under Triton's sequence batcher: it keeps per-stream state."""
        return self.stream_state is not None

    def bind(self, specs: Mapping[str, TensorSpec]) -> Step:
        """This step with its input and output specs looked up in ``specs`` (KeyError naming a missing one)."""
        missing = [n for n in self.input_names + self.output_names if n not in specs]
        if missing:
            raise KeyError(f"step {self.name}: no tensor spec for {missing}")
        return replace(
            self,
            inputs=tuple(specs[n] for n in self.input_names),
            outputs=tuple(specs[n] for n in self.output_names),
        )

    def __call__(self, settings: Any, inputs: dict[str, np.ndarray], state: Any = None) -> dict[str, np.ndarray]:
        if self.stream_state is None:
            return self.run(settings, **inputs)
        return self.run(settings, state, **inputs)
