"""Stand-in networks (build_engines.standins) and the MAC counter (build_engines.macs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from build_engines.graph_ops import register_trt_plugin_schemas
from build_engines.macs import TOLERANCE, count_macs, depth_anything_vitb_macs, standins_with_macs
from build_engines.standins import NETWORKS, SEED_KEY, STANDIN_DOC, build_standin, write_standin
from build_engines.standins.yolo_nas import (
    NMS_MAX_OUTPUT,
    NMS_SCORE_THRESHOLD,
    PAD_BOX,
    PAD_CLASS,
    PAD_SCORE,
)
from gazesam.contracts import MAX_PROMPTS, NetworkContract
from gazesam.model_files import NETWORK_KEY, STANDIN_KEY, STANDIN_SIZE_KEY, load_checked, provenance_of
from gazesam.networks import all_networks

RUNNABLE = tuple(n for n in NETWORKS if n != "yolo_nas_trt")  # EfficientNMS_TRT exists only in TensorRT


def contract(network: str) -> NetworkContract:
    """The contract of the registry network whose stand-in builder is ``network``."""
    (found,) = {n.own_contract for n in all_networks() if n.standin == network}
    return found


def test_every_registry_standin_has_a_builder_and_every_builder_a_network() -> None:
    assert {n.standin for n in all_networks() if n.standin is not None} == set(NETWORKS)


@pytest.fixture(scope="module")
def tiny_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("standins")
    return {net: write_standin(net, "tiny", root / f"{net}.onnx") for net in NETWORKS}


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` box prompts [n,1,4] (x1,y1,x2,y2) inside the 1024 frame."""
    xy = rng.uniform(0, 700, size=(n, 1, 2))
    wh = rng.uniform(40, 320, size=(n, 1, 2))
    return np.concatenate([xy, xy + wh], axis=-1).astype(np.float32)


def random_feeds(network: str, rng: np.random.Generator, dynamic: int = 1) -> dict[str, np.ndarray]:
    feeds = {}
    for spec in contract(network).inputs:
        shape = tuple(dynamic if d == -1 else d for d in spec.shape)
        if spec.name == "boxes":
            feeds[spec.name] = random_boxes(rng, dynamic)
        elif spec.dtype == "uint8":
            feeds[spec.name] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        elif network in ("face", "yolox"):  # raw 0–255 pixels
            feeds[spec.name] = rng.uniform(0, 255, size=shape).astype(np.float32)
        else:
            feeds[spec.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


# --- contract, metadata, checker --------------------------------------------------------------------


@pytest.mark.parametrize("network", NETWORKS)
def test_tiny_standin_passes_contract_check_and_is_marked(network: str, tiny_paths: dict[str, Path]) -> None:
    model = load_checked(tiny_paths[network], contract(network))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta[STANDIN_KEY] == "true"
    assert meta[STANDIN_SIZE_KEY] == "tiny"
    assert meta[NETWORK_KEY] == network
    assert meta[SEED_KEY] == "0"
    assert STANDIN_DOC in model.doc_string
    assert STANDIN_DOC in model.graph.doc_string
    prov = provenance_of(model)
    assert prov.standin and prov.size == "tiny"
    assert model.opset_import[0].version == 17


@pytest.mark.parametrize("network", NETWORKS)
def test_tiny_standin_passes_full_onnx_check(network: str, tiny_paths: dict[str, Path]) -> None:
    register_trt_plugin_schemas()  # yolo_nas_trt's EfficientNMS_TRT; harmless for the others
    onnx.checker.check_model(onnx.load(str(tiny_paths[network])), full_check=True)


def test_trt_flavour_ends_in_efficient_nms_plugin(tiny_paths: dict[str, Path]) -> None:
    model = onnx.load(str(tiny_paths["yolo_nas_trt"]))
    last = model.graph.node[-1]
    assert last.op_type == "EfficientNMS_TRT" and last.domain == ""
    attrs = {a.name: helper.get_attribute_value(a) for a in last.attribute}
    assert attrs == {
        "background_class": -1,
        "box_coding": 0,
        "iou_threshold": pytest.approx(0.7),
        "max_output_boxes": 1000,
        "plugin_version": b"1",
        "score_activation": 0,
        "score_threshold": pytest.approx(0.25),
    }
    assert list(last.output) == [s.name for s in contract("yolo_nas_trt").outputs]


def test_unknown_network_or_size_is_rejected() -> None:
    with pytest.raises(ValueError):
        build_standin("detector")
    with pytest.raises(ValueError):
        build_standin("gaze", "medium")


# --- running ------------------------------------------------------------------------------------------


def check_outputs(network: str, outputs: list[np.ndarray], dynamic: int) -> None:
    specs = contract(network).outputs
    assert len(outputs) == len(specs)
    for spec, value in zip(specs, outputs):
        assert value.dtype == spec.np_dtype, spec.name
        assert spec.accepts_shape(value.shape), (spec.name, value.shape)
        expected = tuple(dynamic if d == -1 else d for d in spec.shape)
        assert value.shape == expected, spec.name
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), spec.name


@pytest.mark.parametrize("network", [n for n in RUNNABLE if n != "sam_decoder"])
def test_tiny_standin_runs_with_contract_outputs(network: str, tiny_paths: dict[str, Path]) -> None:
    rng = np.random.default_rng(7)
    outputs = session(tiny_paths[network]).run(None, random_feeds(network, rng))
    check_outputs(network, outputs, dynamic=1)


def test_tiny_sam_encoder_has_a_dynamic_batch(tiny_paths: dict[str, Path]) -> None:
    rng = np.random.default_rng(7)
    feeds = random_feeds("sam_encoder", rng, dynamic=2)
    (embeddings,) = session(tiny_paths["sam_encoder"]).run(None, feeds)
    check_outputs("sam_encoder", [embeddings], dynamic=2)
    single = session(tiny_paths["sam_encoder"]).run(None, {k: v[1:] for k, v in feeds.items()})[0]
    np.testing.assert_allclose(embeddings[1:], single, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("num_boxes", [1, MAX_PROMPTS])
def test_tiny_sam_decoder_runs_for_1_to_10_boxes(num_boxes: int, tiny_paths: dict[str, Path]) -> None:
    rng = np.random.default_rng(num_boxes)
    outputs = session(tiny_paths["sam_decoder"]).run(None, random_feeds("sam_decoder", rng, dynamic=num_boxes))
    check_outputs("sam_decoder", outputs, dynamic=num_boxes)
    iou = outputs[1]
    assert ((iou > 0) & (iou < 1)).all()


def test_gaze_output_is_an_angle_in_l2cs_range(tiny_paths: dict[str, Path]) -> None:
    (yaw_pitch,) = session(tiny_paths["gaze"]).run(None, random_feeds("gaze", np.random.default_rng(3)))
    assert (yaw_pitch >= np.deg2rad(-180)).all() and (yaw_pitch <= np.deg2rad(176)).all()


def test_face_and_yolox_standins_score_low(tiny_paths: dict[str, Path]) -> None:
    rng = np.random.default_rng(5)
    (faces,) = session(tiny_paths["face"]).run(None, random_feeds("face", rng))
    assert (faces[0, :, 4] * faces[0, :, 5]).max() < 0.5  # upstream face threshold: no faces
    (dets,) = session(tiny_paths["yolox"]).run(None, random_feeds("yolox", rng))
    assert np.median(dets[0, :, 4]) < 0.1


# --- determinism ----------------------------------------------------------------------------------------


def weights_of(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}


@pytest.mark.parametrize("network", NETWORKS)
def test_same_seed_is_byte_identical_and_other_seed_differs(network: str) -> None:
    first = build_standin(network, "tiny", seed=0)
    again = build_standin(network, "tiny", seed=0)
    other = build_standin(network, "tiny", seed=1)
    assert first.SerializeToString() == again.SerializeToString()
    a, b = weights_of(first), weights_of(other)
    assert a.keys() == b.keys()  # same graph
    changed = [name for name in a if not np.array_equal(a[name], b[name])]
    assert changed, "a different seed must change the weights"
    assert {p.key: p.value for p in other.metadata_props}[SEED_KEY] == "1"


# --- behaviour the pipeline relies on ----------------------------------------------------------------------


def test_sam_decoder_masks_follow_the_box_prompt(tiny_paths: dict[str, Path]) -> None:
    rng = np.random.default_rng(11)
    boxes = np.array([[[100, 200, 500, 600]], [[600, 40, 1000, 300]], [[30, 700, 330, 1010]]], dtype=np.float32)
    embeddings = rng.standard_normal((1, 256, 64, 64)).astype(np.float32)
    masks, _ = session(tiny_paths["sam_decoder"]).run(None, {"image_embeddings": embeddings, "boxes": boxes})
    centres = np.arange(256) + 0.5
    for mask, (x1, y1, x2, y2) in zip(masks[:, 0], boxes[:, 0] / 4.0):
        inside = (centres[None, :] > x1) & (centres[None, :] < x2) & (centres[:, None] > y1) & (centres[:, None] < y2)
        assert (mask[inside] > 0).mean() > 0.8
        assert (mask[~inside] < 0).mean() > 0.8


def test_yolo_nas_ort_pads_rows_beyond_num_predictions(tiny_paths: dict[str, Path]) -> None:
    sess = session(tiny_paths["yolo_nas_ort"])
    counts = []
    for seed in (0, 1):
        feeds = random_feeds("yolo_nas_ort", np.random.default_rng(seed))
        num, boxes, scores, classes = sess.run(None, feeds)
        n = int(num[0, 0])
        counts.append(n)
        assert 0 <= n <= NMS_MAX_OUTPUT
        real_scores = scores[0, :n]
        assert (real_scores > NMS_SCORE_THRESHOLD).all()
        assert (np.diff(real_scores) <= 0).all()  # best first
        assert ((classes[0, :n] >= 0) & (classes[0, :n] < 80)).all()
        assert (boxes[0, :n, 2] >= boxes[0, :n, 0]).all() and (boxes[0, :n, 3] >= boxes[0, :n, 1]).all()
        assert (boxes[0, n:] == PAD_BOX).all()
        assert (scores[0, n:] == PAD_SCORE).all()
        assert (classes[0, n:] == PAD_CLASS).all()
    assert max(counts) > 0, "the stand-in should detect something on a random image"
    assert max(counts) < NMS_MAX_OUTPUT, "padding must be exercised"


# --- MACs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("network", ["gaze", "depth", "sam_encoder", "yolo_nas_ort", "yolo_nas_trt"])
def test_full_standin_macs_match_upstream(network: str) -> None:
    model = build_standin(network, "full", with_weights=False)
    assert sum(len(init.raw_data) for init in model.graph.initializer) < 10_000_000  # shape-only: no weights
    upstream = standins_with_macs()[network]
    assert upstream is not None and upstream.source
    ratio = count_macs(model) / (upstream.gmacs * 1e9)
    assert abs(ratio - 1.0) <= TOLERANCE, f"{network}: {ratio:.2f}× upstream"


def test_registry_depth_figure_is_the_analytic_count() -> None:
    assert standins_with_macs()["depth"].gmacs == pytest.approx(sum(depth_anything_vitb_macs(518).values()) / 1e9,
                                                                abs=0.005)


def single_node_model(node: onnx.NodeProto, inputs: list, outputs: list, inits: list | None = None) -> onnx.ModelProto:
    graph = helper.make_graph([node], "one", inputs, outputs, initializer=inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_count_macs_of_a_single_conv() -> None:
    weight = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    model = single_node_model(node, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    assert count_macs(model) == 8 * 32 * 32 * (3 * 3 * 3)  # outputs × (Cin·k²) = 221184

    # grouped, strided, weight as an input, dynamic batch counted as 1
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2],
                            group=2)
    model = single_node_model(
        node,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 16, 16]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [6, 2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    assert count_macs(model) == 6 * 8 * 8 * (2 * 3 * 3)  # 6912


def test_count_macs_of_a_single_matmul() -> None:
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    model = single_node_model(
        node,
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 5, 7]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [7, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    assert count_macs(model) == 2 * 5 * 3 * 7  # 210

    model = single_node_model(
        node,
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 5, 7]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [7, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    assert count_macs(model) == 5 * 3 * 7  # dynamic axis → 1


def test_count_macs_of_gemm_and_conv_transpose() -> None:
    gemm = helper.make_node("Gemm", ["a", "b"], ["y"], transB=1)
    model = single_node_model(
        gemm,
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [4, 6]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    assert count_macs(model) == 4 * 5 * 6
    deconv = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    model = single_node_model(
        deconv,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 10, 10]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [16, 4, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    assert count_macs(model) == 16 * 10 * 10 * 4 * 2 * 2  # input elements × Cout·k²
