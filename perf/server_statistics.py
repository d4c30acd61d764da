"""Reading a running Triton server's statistics and ensemble layout over gRPC or HTTP (tritonclient)."""

from __future__ import annotations

import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from perf.model_stats import ModelCounters, snapshot_from_json


class ServerStatistics:
    """``ServerStatistics("127.0.0.1:8001", "grpc").snapshot()`` -> model name -> cumulative counters."""

    def __init__(self, url: str, protocol: str = "grpc"):
        if protocol not in ("grpc", "http"):
            raise ValueError(f"protocol must be grpc or http, not {protocol!r}")
        self.protocol = protocol
        module = grpcclient if protocol == "grpc" else httpclient
        self._client = module.InferenceServerClient(url)

    def snapshot(self) -> dict[str, ModelCounters]:
        if self.protocol == "grpc":
            return snapshot_from_json(self._client.get_inference_statistics(as_json=True))
        return snapshot_from_json(self._client.get_inference_statistics())

    def model_config(self, model: str) -> dict:
        if self.protocol == "grpc":
            return self._client.get_model_config(model, as_json=True)["config"]
        return self._client.get_model_config(model)

    def composing_models(self, ensemble: str) -> list[str]:
        """The ensemble's step models in its config's order (each once)."""
        steps = self.model_config(ensemble).get("ensemble_scheduling", {}).get("step", [])
        if not steps:
            raise ValueError(f"{ensemble!r} is not an ensemble on this server (its config has no steps)")
        return list(dict.fromkeys(step["model_name"] for step in steps))

    def standin_models(self, models: list[str]) -> dict[str, str]:
        """Models whose config parameter ``provenance`` says they are not real networks -> that label."""
        labels = {}
        for model in models:
            parameters = self.model_config(model).get("parameters", {})
            label = parameters.get("provenance", {}).get("string_value")
            if label is not None and label != "real":
                labels[model] = label
        return labels

    def is_ready(self, model: str) -> bool:
        return bool(self._client.is_model_ready(model))

    def close(self) -> None:
        self._client.close()
