"""The pytorch profile's runtime on a GPU, checked without one: constants are placed by their use, a CPU replay
tagging every value host/device finds the operators that would mix devices (it does on a purpose-built graph,
and on none of the served networks), every offline family and YOLO-NAS's NMS run in PyTorch as in ONNX
Runtime, and an instance that must run on CUDA refuses to start on a machine without it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from build_engines.manifest import choose_model_file
from gazesam.networks import family, model_set
from gazesam.onnx_network import OnnxNetwork

from conftest import shared_path

torch = pytest.importorskip("torch", reason="PyTorch is not installed: 'make pytorch' (requirements-pytorch.txt)")
onnx_torch = pytest.importorskip("gazesam.onnx_torch")
onnx_torch_placement = pytest.importorskip("gazesam.onnx_torch_placement")
torch_network = pytest.importorskip("gazesam.torch_network")
OnnxTorchGraph, unsupported_nodes = onnx_torch.OnnxTorchGraph, onnx_torch.unsupported_nodes
DEVICE, HOST, placement_problems = onnx_torch_placement.DEVICE, onnx_torch_placement.HOST, onnx_torch_placement.placement_problems
CudaUnavailable, torch_device = torch_network.CudaUnavailable, torch_network.torch_device

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def _graph(tmp_path: Path, nodes, inputs, outputs, constants) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(v, n) for n, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "g.onnx"
    onnx.save(model, str(path))
    return path


def test_float_shape_arithmetic_stays_on_the_host_and_masks_go_to_the_device(tmp_path):
    """Shape -> Cast(float) -> Mul(0.5) -> Cast -> Resize sizes, and Where with a non-scalar bool constant:
    the old rule (int/bool constants on the CPU, floats on the device) fails both on a GPU."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["sf", "half"], ["hf"]),
        helper.make_node("Cast", ["hf"], ["sizes"], to=TensorProto.INT64),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["r"], mode="linear"),
        helper.make_node("Where", ["mask", "r", "zero"], ["y"]),
    ]
    constants = {"half": np.array([1, 1, 0.5, 0.5], np.float32), "mask": np.eye(4, dtype=bool).reshape(1, 1, 4, 4),
                 "zero": np.zeros(1, np.float32)}
    graph = OnnxTorchGraph(_graph(tmp_path, nodes, [x], [y], constants))
    assert "half" in graph.host_values  # only shape arithmetic uses it
    assert "mask" not in graph.host_values and "zero" not in graph.host_values  # computed with on the device
    feeds = {"x": np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)}
    outputs, problems = graph.checked_run(**feeds)
    assert problems == []
    np.testing.assert_allclose(outputs["y"], _ort(graph, feeds)["y"], atol=1e-5)


def _ort(graph: OnnxTorchGraph, feeds):
    import onnxruntime as ort

    session = ort.InferenceSession(str(graph.path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def test_the_replay_names_the_operators_the_old_placement_rule_would_break(tmp_path):
    """The rule before this one (integer/bool constants and shapes on the CPU, float constants on the device),
    replayed on a graph adding a shape to an activation and masking with a non-scalar bool constant: both
    operators are named, so the check can fail; the plan the runtime uses has no problem."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
             helper.make_node("Tile", ["sf", "four"], ["sf4"]), helper.make_node("Add", ["x", "sf4"], ["a"]),
             helper.make_node("Where", ["mask", "a", "x"], ["y"])]
    constants = {"four": np.array([4], np.int64), "mask": np.array([True, False, True, False])}
    graph = OnnxTorchGraph(_graph(tmp_path, nodes, [x], [y], constants))
    outputs, problems = graph.checked_run(x=np.ones(4, np.float32))
    assert problems == [] and outputs["y"].tolist() == [5.0, 1.0, 5.0, 1.0]
    old_rule_host = frozenset({"four", "mask", "s"})
    nodes_ = graph._graph_nodes
    arrays = {"x": np.ones(4, np.float32), "s": np.array([4]), "sf": np.array([4.0], np.float32),
              "sf4": np.full(4, 4.0, np.float32), "a": np.full(4, 5.0, np.float32), **constants}
    tags = {"x": DEVICE, "four": HOST, "mask": HOST}
    old = placement_problems(nodes_, tags, arrays, old_rule_host)
    assert [line.split(":")[0] for line in old] == ["Add node ''", "Where node ''"]


def _served_networks():
    for name in ("offline", "standin"):
        chosen = model_set(name)
        for network in chosen.networks:
            yield f"{name}-{network.key}", chosen, network
    nas = model_set("standin", "detector=yolo_nas_ort")
    yield "standin-yolo_nas_ort", nas, nas.network("detector")


FRAME_HW = (720, 1280)
ABSOLUTE_TOLERANCE = {"nearness": 1.0}
"""Depth's nearness is scaled per frame to 0-255: FastDepth's own float differences between the runtimes
(1-2% deep in the network) move a few of its values by up to half a level."""


def served_feeds(contract) -> dict[str, np.ndarray]:
    """Inputs a served network can meet: a real 1280x720 photo and its size, a face box, landmarks and head
    angles, boxes (point prompts) on the frame; any other tensor random, its free axes 2.

    At a camera's size every network scales the frame down; scaled up by a simple ratio, many pixels land
    on exact halves, where the two runtimes' last-bit differences round one grey level apart."""
    rng = np.random.default_rng(0)
    (h, w), feeds = FRAME_HW, {}
    for spec in contract.inputs:
        shape = [2 if d == -1 else d for d in spec.shape]
        if spec.name == "frame":
            value = cv2.resize(cv2.imread(str(shared_path("media", "images", "office_team_laptop.jpg"))), (w, h))
        elif spec.name == "frame_hw":
            value = np.array(FRAME_HW)
        elif spec.name in ("face_box", "boxes"):
            value = np.broadcast_to(np.array([400.0, 150.0, 640.0, 420.0]), shape)
        elif spec.name in ("landmarks_xy", "point_coords"):
            value = rng.uniform(0, min(h, w), shape)
        elif spec.name.startswith("head_"):
            value = rng.uniform(-0.3, 0.3, shape)
        else:
            value = rng.standard_normal(shape)
        feeds[spec.name] = np.ascontiguousarray(value).astype(spec.np_dtype)
    return feeds


@pytest.mark.parametrize("label,chosen,network", list(_served_networks()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_served_network_runs_in_pytorch_as_in_onnx_runtime_with_consistent_placement(label, chosen, network):
    path = choose_model_file(MODELS, network, chosen, "tiny")
    assert unsupported_nodes(path) == []
    feeds = served_feeds(network.contract)
    outputs, problems = OnnxTorchGraph(path).checked_run(**feeds)
    assert problems == [], label
    for name, value in OnnxNetwork(path, network.contract)(**feeds).items():
        atol = ABSOLUTE_TOLERANCE.get(name, 1e-3 * max(1.0, float(np.abs(value).max())))
        np.testing.assert_allclose(outputs[name], value, rtol=1e-3, atol=atol, err_msg=f"{label}.{name}")


def test_tensorrt_plugins_are_named_as_unsupported():
    nas_trt = family("detector", "yolo_nas_trt").networks[0]
    path = choose_model_file(MODELS, nas_trt, model_set("standin", "detector=yolo_nas_trt"), "tiny")
    assert any("EfficientNMS_TRT" in line for line in unsupported_nodes(path))


def test_a_gpu_instance_refuses_to_serve_on_the_cpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal needs one without")
    with pytest.raises(CudaUnavailable, match="refusing to serve on the CPU"):
        torch_device("GPU", 0, require_cuda=True)
    with pytest.raises(CudaUnavailable):
        torch_device("CPU", 0, require_cuda=True)
    assert torch_device("CPU", 0, require_cuda=False) == "cpu"
