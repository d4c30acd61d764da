"""The Helm chart (deploy/helm/gazesam), rendered by a real Helm binary (``make deploy-check`` installs the
pinned v3.17.2 into .venv/bin) and checked against the schemas of what reads it: Kubernetes' own JSON
schemas (strict: an unknown field is an error) at the oldest and newest versions the chart supports, the
Prometheus Operator's ServiceMonitor schema, and Envoy's API protos for the proxy's bootstrap."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from google.protobuf import json_format

from gazesam.contracts import ENSEMBLE, JPEG_ENSEMBLE, STREAM_ID_HEADER
from gazesam.pipeline_metrics import ACTIVE_STREAMS

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "gazesam"
ADAPTER_VALUES = ROOT / "deploy" / "prometheus-adapter" / "values.yaml"
HELM = Path(sys.prefix) / "bin" / "helm"
KUBERNETES_VERSIONS = ("1.25.0", "1.37.0")  # Chart.yaml's kubeVersion floor, and the newest schemas
VALUE_SETS = {
    "defaults": [],
    "no proxy, fixed replicas": ["--set", "proxy.enabled=false", "--set", "autoscaling.enabled=false"],
    "engine cache on a claim, extra args": ["--set", "engineCache.persistentVolumeClaim=engines",
                                            "--set", "triton.extraArgs={--log-verbose=1}"],
}


def helm(*args: str) -> subprocess.CompletedProcess:
    if not HELM.is_file():
        pytest.fail(f"{HELM} is missing: run 'make deploy-check' (installs the pinned Helm binary)")
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)


@lru_cache(maxsize=None)
def render(*args: str) -> tuple[dict, ...]:
    """The chart rendered as release ``demo`` in namespace ``video`` with ``args``: every manifest."""
    result = helm("template", "demo", str(CHART), "--namespace", "video", *args)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def one(manifests: tuple[dict, ...], kind: str, suffix: str = "") -> dict:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"].endswith(suffix)]
    return found


def triton_container(manifests) -> dict:
    return one(manifests, "Deployment", "-triton")["spec"]["template"]["spec"]["containers"][0]


def envoy_bootstrap(manifests) -> dict:
    return yaml.safe_load(one(manifests, "ConfigMap", "-proxy")["data"]["envoy.yaml"])


def assert_servicemonitor_valid(manifest: dict) -> None:
    """Parsed by the ServiceMonitor CRD's models; the round trip keeps every field (none unknown or retyped)."""
    from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

    model = ServiceMonitor.model_validate(manifest)
    assert model.model_dump(by_alias=True, exclude_none=True, mode="json") == manifest


def test_the_chart_lints_clean():
    result = helm("lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(name):
    manifests = render(*VALUE_SETS[name], "--api-versions", "monitoring.coreos.com/v1")
    kinds = [m["kind"] for m in manifests]
    assert {"Deployment", "Service", "PodDisruptionBudget", "ServiceMonitor"} <= set(kinds), kinds
    for manifest in manifests:
        if manifest["kind"] == "ServiceMonitor":
            assert_servicemonitor_valid(manifest)
            continue
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)


def test_a_strict_schema_catches_a_misspelt_field():
    deployment = json.loads(json.dumps(one(render(), "Deployment", "-triton")))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    probe["httpGett"] = probe.pop("httpGet")
    with pytest.raises(kubernetes_validate.ValidationError, match="httpGett"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_without_the_prometheus_operator_api_no_servicemonitor_is_rendered():
    assert "ServiceMonitor" not in [m["kind"] for m in render()]


def test_the_proxy_parses_against_envoys_api_and_hashes_every_route_on_the_clients_header():
    from envoy.config.bootstrap.v3 import bootstrap_pb2
    from envoy.config.cluster.v3 import cluster_pb2
    from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401 (registers its @type)
    from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2
    from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2  # noqa: F401

    bootstrap = json_format.ParseDict(envoy_bootstrap(render()), bootstrap_pb2.Bootstrap())
    clusters = {c.name: c for c in bootstrap.static_resources.clusters}
    assert set(clusters) == {"triton_grpc", "triton_http"}
    for cluster in clusters.values():
        assert cluster.lb_policy == cluster_pb2.Cluster.RING_HASH
        assert cluster.type == cluster_pb2.Cluster.STRICT_DNS
        assert cluster.common_lb_config.healthy_panic_threshold.value == 0
        (endpoint,) = cluster.load_assignment.endpoints[0].lb_endpoints
        assert endpoint.endpoint.address.socket_address.address == "demo-gazesam-triton.video.svc.cluster.local"
        assert cluster.health_checks[0].http_health_check.path == f"/v2/models/{ENSEMBLE.key}/ready"
    for listener in bootstrap.static_resources.listeners:
        manager = http_connection_manager_pb2.HttpConnectionManager()
        listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
        for route in manager.route_config.virtual_hosts[0].routes:
            assert [p.header.header_name for p in route.route.hash_policy] == [STREAM_ID_HEADER]
            assert route.route.cluster == f"triton_{listener.name}"


def test_envoys_api_catches_a_misspelt_field():
    from envoy.config.bootstrap.v3 import bootstrap_pb2

    config = envoy_bootstrap(render())
    config["static_resources"]["clusters"][0]["ring_hash_lb_config"]["maximum_ring_sizes"] = 1
    with pytest.raises(json_format.ParseError, match="maximum_ring_sizes"):
        json_format.ParseDict(config, bootstrap_pb2.Bootstrap())


def test_probes_check_liveness_readiness_of_the_server_and_its_ensembles_and_allow_long_starts():
    container = triton_container(render())
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/v2/health/ready"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600, "too short for engine builds"
    command = container["readinessProbe"]["exec"]["command"]
    assert command[:3] == ["python3", "-m", "gazesam_triton.health_probe"]
    assert {arg.split("=", 1)[1] for arg in command if arg.startswith("--model=")} == {ENSEMBLE.key,
                                                                                      JPEG_ENSEMBLE.key}


def test_termination_outlasts_the_pre_stop_wait_plus_tritons_exit_timeout():
    pod = one(render(), "Deployment", "-triton")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    exit_timeout = int(next(a for a in container["args"] if a.startswith("--exit-timeout-secs=")).split("=")[1])
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + exit_timeout


def test_a_grace_period_too_short_for_tritons_exit_is_refused_with_the_reason():
    result = helm("template", "demo", str(CHART), "--set", "termination.gracePeriodSeconds=35")
    assert result.returncode != 0
    assert "must exceed termination.preStopSleepSeconds + triton.exitTimeoutSeconds (40)" in result.stderr


def test_pods_get_a_gpu_shared_memory_the_models_read_only_and_the_engine_cache_path(tmp_path):
    manifests = render()
    container = triton_container(manifests)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    volumes = {v["name"]: v for v in one(manifests, "Deployment", "-triton")["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["dshm"]["mountPath"] == "/dev/shm" and volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert mounts["models"]["readOnly"] and volumes["models"]["persistentVolumeClaim"]["readOnly"]
    # The repository the chart serves is generated with the cache folder the chart mounts (deploy/README.md).
    mount = mounts["engine-cache"]["mountPath"]
    out = tmp_path / "model_repository_onnx"
    subprocess.run([sys.executable, "-m", "build_engines", "--models-dir", str(ROOT / "models"), "repository",
                    "--models", "standin", "--profile", "onnx", "--onnx-tensorrt", "--ort-trt-cache", mount,
                    "--out", str(out)], check=True, capture_output=True)
    config = (out / "depth_estimator" / "config.pbtxt").read_text()
    assert re.search(r'"trt_engine_cache_path" value: "([^"]+)"', config)[1] == mount
    args = container["args"]
    assert "--model-control-mode=none" in args and "--model-repository=/models/model_repository_onnx" in args


def test_every_selector_picks_the_pods_it_means():
    manifests = render("--api-versions", "monitoring.coreos.com/v1")
    pods = {m["metadata"]["name"]: m["spec"]["template"]["metadata"]["labels"]
            for m in manifests if m["kind"] == "Deployment"}

    def picks(selector: dict) -> set[str]:
        return {name for name, labels in pods.items() if selector.items() <= labels.items()}

    triton, proxy = {"demo-gazesam-triton"}, {"demo-gazesam-proxy"}
    assert picks(one(manifests, "Service", "-triton")["spec"]["selector"]) == triton
    assert picks(one(manifests, "Service", "demo-gazesam")["spec"]["selector"]) == proxy
    assert picks(one(manifests, "PodDisruptionBudget", "-triton")["spec"]["selector"]["matchLabels"]) == triton
    assert picks(one(manifests, "ServiceMonitor")["spec"]["selector"]["matchLabels"]) == triton
    assert one(manifests, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == "demo-gazesam-triton"
    unproxied = render("--set", "proxy.enabled=false")
    assert one(unproxied, "Service", "demo-gazesam")["spec"]["selector"]["app.kubernetes.io/component"] == "triton"


def test_the_autoscaler_scales_on_the_gauge_the_prometheus_adapter_serves():
    hpa = one(render(), "HorizontalPodAutoscaler")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == ACTIVE_STREAMS.name
    assert "replicas" not in one(render(), "Deployment", "-triton")["spec"], "the HPA owns the replica count"
    rules = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"]
    served = {rule["name"]["as"]: rule for rule in rules}
    assert ACTIVE_STREAMS.name in served[metric["pods"]["metric"]["name"]]["seriesQuery"]


def test_the_dashboard_is_shipped_in_its_configmap_and_covers_what_operators_watch():
    dashboard = json.loads((CHART / "dashboards" / "gazesam.json").read_text())
    shipped = json.loads(one(render(), "ConfigMap", "-dashboard")["data"]["gazesam.json"])
    assert shipped == dashboard
    expressions = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for metric in ("gazesam_active_streams", "gazesam_streams_refused_total", "gazesam_frames_total",
                   "gazesam_held_masks", "gazesam_step_failures_total", "nv_inference_queue_duration_us",
                   "nv_inference_compute_infer_duration_us", "nv_inference_request_failure", "nv_gpu_utilization",
                   "nv_gpu_memory_used_bytes"):
        assert metric in expressions, f"no panel shows {metric}"
