"""Object detectors: YOLOX grid decode (in the served graph) and its NMS (the family hook), YOLO-NAS rows
(marked in the graph by ``num``, mapped back by the hook; bug §6.2.7), colour order, Detections."""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_path

from build_engines.output_graphs import counted_rows, grid_decode
from gazesam.contracts import YOLO_NAS_ORT, YOLO_NAS_SERVED, YOLO_NAS_TRT, YOLOX, YOLOX_SERVED
from gazesam.detector import (
    YOLOX_INPUT,
    Detections,
    filter_classes,
    preprocess_yolo_nas,
    preprocess_yolox,
    yolo_nas_detections,
    yolo_nas_resize,
    yolox_detections,
    yolox_resize,
)
from gazesam.onnx_network import OnnxNetwork
from gazesam.settings import coco_class_names, load_settings
from onnx_parts import run_nodes

REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"  # the offline set: the real YOLOX
ROWS = YOLOX.output("output").shape[1]  # 3549 = 52*52 + 26*26 + 13*13
CHAIR, CUP = 56, 41


def decode_yolox(output: np.ndarray, frame_hw, score_threshold: float, nms_iou: float) -> Detections:
    """The served graph's grid decode of a raw YOLOX output, then the family's detections hook."""
    names = [s.name for s in YOLOX_SERVED.outputs]
    candidates = run_nodes(lambda g: grid_decode(g, "output", YOLOX_INPUT.rule.input_hw, YOLOX_SERVED.outputs),
                           {"output": output}, names)
    return yolox_detections(*(candidates[n] for n in names), frame_hw, score_threshold, nms_iou)


def parse_yolo_nas(num, boxes, scores, classes, frame_hw) -> Detections:
    """The served graph's row marking of YOLO-NAS's NMS outputs, then the family's detections hook."""
    names = [s.name for s in YOLO_NAS_SERVED.outputs]
    feeds = {"num": np.asarray(num), "boxes": np.asarray(boxes, np.float32), "scores": np.asarray(scores, np.float32),
             "classes": np.asarray(classes)}
    rows = run_nodes(lambda g: counted_rows(g, "num", "boxes", "scores", "classes", YOLO_NAS_SERVED.outputs), feeds, names)
    return yolo_nas_detections(*(rows[n] for n in names), frame_hw, 0.25, 0.45)


def _blue(hw=(480, 640)) -> np.ndarray:
    frame = np.zeros(hw + (3,), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    return frame


# --- Detections ----------------------------------------------------------------------------------


def test_detections_container():
    dets = Detections(np.arange(12).reshape(3, 4), [0.1, 0.2, 0.3], [1, 2, 3])
    assert len(dets) == 3 and dets.boxes.dtype == np.float32 and dets.classes.dtype == np.int32
    picked = dets.take(np.array([2, 0]))
    np.testing.assert_array_equal(picked.classes, [3, 1])
    np.testing.assert_array_equal(picked.boxes[0], [8, 9, 10, 11])
    assert len(dets.take(np.array([False, True, False]))) == 1
    assert len(Detections.empty()) == 0 and Detections.empty().boxes.shape == (0, 4)
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 4)), [0.1], [1])


def test_filter_classes():
    dets = Detections(np.zeros((3, 4)), [0.9, 0.8, 0.7], [0, CUP, CHAIR])
    np.testing.assert_array_equal(filter_classes(dets, frozenset({CUP, CHAIR})).classes, [CUP, CHAIR])
    assert len(filter_classes(dets, frozenset())) == 0


# --- YOLOX ---------------------------------------------------------------------------------------


def test_preprocess_yolox_letterbox_bgr():
    tensor = preprocess_yolox(_blue())
    assert tensor.shape == YOLOX.input("images").shape and tensor.dtype == np.float32
    # r = min(416/480, 416/640) = 0.65 -> content 416 x 312 at the top-left, pad 114 below.
    assert yolox_resize((480, 640)).scale_xy == pytest.approx((0.65, 0.65))
    assert (tensor[0, 0, :312] == 255).all() and (tensor[0, 2, :312] == 0).all()  # BGR kept, 0..255
    assert (tensor[0, :, 312:] == 114).all()


def _yolox_row(x, y, w, h, obj, class_scores: dict[int, float]) -> np.ndarray:
    row = np.zeros(85, np.float32)
    row[:5] = x, y, w, h, obj
    for cls, p in class_scores.items():
        row[5 + cls] = p
    return row


def test_decode_yolox_one_anchor_to_known_box():
    # Stride 32, cell (5, 6): row 52*52 + 26*26 + 6*13 + 5 = 3463.
    # cx = (0.5 + 5) * 32 = 176, cy = (0.5 + 6) * 32 = 208, w = 3 * 32 = 96, h = 2 * 32 = 64
    # -> input box (128, 176, 224, 240); ratio 0.5 (832x624 frame) -> frame box (256, 352, 448, 480).
    # score = 0.9 * 0.8 = 0.72, class = argmax = chair.
    output = np.zeros((1, ROWS, 85), np.float32)
    output[0, 3463] = _yolox_row(0.5, 0.5, math.log(3), math.log(2), 0.9, {CHAIR: 0.8, CUP: 0.1})
    dets = decode_yolox(output, (624, 832), 0.25, 0.45)  # r = 0.5
    assert len(dets) == 1
    np.testing.assert_allclose(dets.boxes[0], [256, 352, 448, 480], rtol=1e-5)
    assert dets.scores[0] == pytest.approx(0.72) and dets.classes[0] == CHAIR


def test_decode_yolox_class_aware_nms_threshold_and_clip():
    output = np.zeros((1, ROWS, 85), np.float32)
    chair = _yolox_row(0.5, 0.5, math.log(3), math.log(2), 0.9, {CHAIR: 0.8})  # 0.72, as above
    output[0, 3463] = chair
    # Stride 16, cell (11, 13): row 2704 + 13*26 + 11 = 3053; cx = 11*16 = 176, cy = 13*16 = 208,
    # w = 6*16 = 96, h = 4*16 = 64: the same box. As a cup (0.5*0.9 = 0.45) it survives (other class) ...
    output[0, 3053] = _yolox_row(0.0, 0.0, math.log(6), math.log(4), 0.5, {CUP: 0.9})
    # ... as a chair (stride 8, cell (22, 26): row 26*52 + 22 = 1374; cx = 22*8 = 176, cy = 26*8 = 208,
    # w = 12*8 = 96, h = 8*8 = 64; 0.6*0.9 = 0.54) it is suppressed by the 0.72 chair.
    output[0, 1374] = _yolox_row(0.0, 0.0, math.log(12), math.log(8), 0.6, {CHAIR: 0.9})
    # Below threshold: 0.5 * 0.5 = 0.25, not > 0.25.
    output[0, 0] = _yolox_row(0.5, 0.5, 0.0, 0.0, 0.5, {CUP: 0.5})
    # Stride 32, cell (12, 12), last row 3548: cx = 12.5*32 = 400, cy = 400, w = h = 4*32 = 128
    # -> (336, 336, 464, 464) / 0.5 = (672, 672, 928, 928) -> clipped to (672, 623, 831, 623).
    output[0, ROWS - 1] = _yolox_row(0.5, 0.5, math.log(4), math.log(4), 0.8, {0: 0.5})  # 0.4
    dets = decode_yolox(output, (624, 832), 0.25, 0.45)  # r = 0.5
    np.testing.assert_allclose(dets.scores, [0.72, 0.45, 0.4], rtol=1e-5)
    np.testing.assert_array_equal(dets.classes, [CHAIR, CUP, 0])
    np.testing.assert_allclose(dets.boxes[1], [256, 352, 448, 480], rtol=1e-5)
    np.testing.assert_allclose(dets.boxes[2], [672, 623, 831, 623], rtol=1e-5)


def test_decode_yolox_nothing_found():
    dets = decode_yolox(np.zeros((1, ROWS, 85), np.float32), (624, 832), 0.25, 0.45)
    assert len(dets) == 0 and dets.boxes.shape == (0, 4)


@pytest.mark.parametrize(
    "photo, expected",
    [
        ("office_team_laptop.jpg", {"laptop", "person"}),  # five people around a laptop
        ("kitchen_table_cups.jpg", {"person", "cup", "bottle"}),  # woman at a table with cups and jars
        ("counter_laptop_phone.jpg", {"person", "laptop"}),
        ("office_plant_shelf.jpg", {"person", "potted plant"}),
    ],
)
def test_real_yolox_on_a_real_photo(photo, expected):
    """The served YOLOX (letterbox and grid decode in its graph) and the hook find what the photo shows."""
    network = OnnxNetwork(REPOSITORY / "object_detector" / "1" / "model.onnx", YOLOX_SERVED)
    frame = cv2.imread(str(shared_path("media", "images", photo)))
    out = network(frame=frame, frame_hw=np.array(frame.shape[:2], np.int32))
    s = load_settings().detector
    dets = yolox_detections(out["boxes_xyxy"], out["box_scores"], out["box_classes"], frame.shape[:2],
                            s.score_threshold, s.nms_iou)
    names = [coco_class_names()[c] for c in dets.classes]
    assert expected <= set(names), names
    assert (np.diff(dets.scores) <= 0).all()
    assert (dets.boxes[:, 2] <= frame.shape[1] - 1).all() and (dets.boxes >= 0).all()


# --- YOLO-NAS ------------------------------------------------------------------------------------


def test_preprocess_yolo_nas_rgb_longest_636_centred():
    tensor = preprocess_yolo_nas(_blue())
    assert tensor.shape == YOLO_NAS_ORT.input("input").shape and tensor.dtype == np.uint8
    # 640x480: s = 636/640 = 0.99375 -> 636 x int(477.0 + 0.5) = 477; pad_x = (640-636)//2 = 2,
    # pad_y = (640-477)//2 = 81.
    resize = yolo_nas_resize((480, 640))
    assert resize.scale_xy == pytest.approx((0.99375, 0.99375)) and resize.offset_xy == (2, 81)
    content = tensor[0, :, 81 : 81 + 477, 2 : 2 + 636]
    assert (content[2] == 255).all() and (content[0] == 0).all()  # RGB: blue is channel 2
    assert (tensor[0, :, :81] == 114).all() and (tensor[0, :, 81 + 477 :] == 114).all()
    assert (tensor[0, :, :, :2] == 114).all() and (tensor[0, :, :, 638:] == 114).all()


def _nas_outputs(num_dtype, class_dtype, pad_value):
    """K = 1000 rows; 3 valid, then padding (plus one confident box that only `num` excludes).

    For a 1200x960 frame: scale 636/1200 = 0.53, content 636 x 509, offset (2, 65).
    """
    k = YOLO_NAS_ORT.output("pred_boxes").shape[1]
    boxes = np.full((1, k, 4), pad_value, np.float32)
    scores = np.full((1, k), pad_value, np.float32)
    classes = np.full((1, k), pad_value, class_dtype)
    boxes[0, :4] = [
        [55, 118, 161, 224],  # -> ((55-2)/0.53, (118-65)/0.53, ...) = (100, 100, 300, 300)
        [2, 65, 638, 574],  # -> (0, 0, 1200, 960) -> clipped (0, 0, 1199, 959)
        [0, 0, 1, 1],  # -> (-3.8, -122.6, -1.9, -120.8): in the padding, degenerate once clipped
        [100, 100, 200, 200],  # row 3 is past num: must be ignored whatever it holds
    ]
    scores[0, :4] = [0.6, 0.9, 0.8, 0.99]
    classes[0, :4] = [CUP, 0, CHAIR, CHAIR]
    return np.array([[3]], num_dtype), boxes, scores, classes


@pytest.mark.parametrize(
    "contract, pad_value",
    [(YOLO_NAS_ORT, -1), (YOLO_NAS_TRT, 0)],  # ONNX Runtime export pads with -1, EfficientNMS with 0
)
def test_parse_yolo_nas_uses_num_and_maps_back(contract, pad_value):
    num_dtype = contract.outputs[0].np_dtype
    class_dtype = contract.outputs[3].np_dtype
    num, boxes, scores, classes = _nas_outputs(num_dtype, class_dtype, pad_value)
    dets = parse_yolo_nas(num, boxes, scores, classes, (960, 1200))
    np.testing.assert_allclose(dets.scores, [0.9, 0.6], rtol=1e-6)  # by descending score
    np.testing.assert_array_equal(dets.classes, [0, CUP])
    np.testing.assert_allclose(dets.boxes, [[0, 0, 1199, 959], [100, 100, 300, 300]], atol=1e-3)
    assert dets.classes.dtype == np.int32 and dets.boxes.dtype == np.float32


def test_parse_yolo_nas_num_zero_and_too_large():
    num, boxes, scores, classes = _nas_outputs(np.int64, np.int64, -1)
    assert len(parse_yolo_nas(np.array([[0]]), boxes, scores, classes, (960, 1200))) == 0
    # num beyond K is capped at K; the -1 padding rows map to degenerate boxes and are dropped.
    k = boxes.shape[1]
    dets = parse_yolo_nas(np.array([[k + 5]]), boxes, scores, classes, (960, 1200))
    np.testing.assert_allclose(dets.scores, [0.99, 0.9, 0.6], rtol=1e-6)


def test_parse_then_preprocess_round_trip():
    # A box drawn in frame pixels, pushed through the YOLO-NAS input geometry and back.
    frame_box = np.array([100, 50, 900, 700], np.float32)
    net_box = yolo_nas_resize((720, 1280)).boxes_to_input(frame_box)
    dets = parse_yolo_nas(
        np.array([[1]], np.int32), net_box[None], np.array([[0.5]]), np.array([[3]]), (720, 1280)
    )
    np.testing.assert_allclose(dets.boxes[0], frame_box, atol=1e-3)
