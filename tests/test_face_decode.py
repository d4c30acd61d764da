"""Face detector: pre-processing, grid decode (the served graph's) and NMS (``decode_faces``) on synthetic
outputs, and the real served network on real photos."""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHARED_DIR, shared_path

from build_engines.output_graphs import grid_decode
from gazesam import face
from gazesam.contracts import FACE, FACE_SERVED, spatial_size
from gazesam.face import face_resize, preprocess_face
from gazesam.onnx_network import OnnxNetwork
from gazesam.settings import load_settings
from onnx_parts import run_nodes

REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"

FACE_HW = spatial_size(FACE.input("full_image"))  # (160, 128)
ANCHORS = FACE.output("bbox_det").shape[1]  # 420 = 20*16 + 10*8 + 5*4


def _anchor_index(stride: int, gx: int, gy: int) -> int:
    """Row of grid cell (gx, gy) at ``stride``: strides 8, 16, 32 in order, row-major, x fastest."""
    index = 0
    for s in (8, 16, 32):
        cols = FACE_HW[1] // s
        if s == stride:
            return index + gy * cols + gx
        index += (FACE_HW[0] // s) * cols
    raise ValueError(stride)


def decode_faces(raw: np.ndarray, frame_hw, score_threshold: float, nms_iou: float) -> np.ndarray:
    """The served graph's grid decode of a raw [1, 420, 6] output, then ``face.decode_faces``."""
    names = [s.name for s in FACE_SERVED.outputs]
    out = run_nodes(lambda g: grid_decode(g, "bbox_det", FACE_HW, FACE_SERVED.outputs), {"bbox_det": raw}, names)
    return face.decode_faces(*(out[n] for n in names), frame_hw, score_threshold, nms_iou)


def _raw_with(*anchors):
    """A [1, 420, 6] output, all zero except the given (index, x, y, w, h, obj, cls) rows."""
    raw = np.zeros((1, ANCHORS, 6), np.float32)
    for index, *values in anchors:
        raw[0, index] = values
    return raw


def test_preprocess_face_layout():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    tensor = preprocess_face(frame)
    assert tensor.shape == FACE.input("full_image").shape and tensor.dtype == np.float32
    assert face_resize((480, 640)).scale_xy == pytest.approx((0.2, 0.2))
    # BGR kept, raw 0..255: channel 0 (blue) is 255 in the 96 x 128 content, pad is 114.
    assert (tensor[0, 0, :96] == 255).all() and (tensor[0, 2, :96] == 0).all()
    assert (tensor[0, :, 96:] == 114).all()


def test_anchor_count_matches_contract():
    assert _anchor_index(32, 3, 4) == ANCHORS - 1  # last cell of the last (5 x 4) grid


def test_decode_one_anchor_to_known_box():
    # Stride 16, cell (3, 4): index 320 + 4*8 + 3 = 355.
    # cx = (0.5 + 3) * 16 = 56, cy = (0.25 + 4) * 16 = 68, w = e^ln2 * 16 = 32, h = e^ln1.5 * 16 = 24
    # -> input box (40, 56, 72, 80); / ratio 0.2 -> frame box (200, 280, 360, 400); score 0.9 * 0.8.
    index = _anchor_index(16, 3, 4)
    assert index == 355
    raw = _raw_with((index, 0.5, 0.25, math.log(2), math.log(1.5), 0.9, 0.8))
    faces = decode_faces(raw, (480, 640), 0.5, 0.45)  # r = 0.2
    assert faces.dtype == np.float32 and faces.shape == (1, 5)
    np.testing.assert_allclose(faces[0], [200, 280, 360, 400, 0.72], rtol=1e-5)


def test_decode_nms_sorting_threshold_and_clipping():
    strong = (_anchor_index(16, 3, 4), 0.5, 0.25, math.log(2), math.log(1.5), 0.9, 0.8)  # 0.72, as above
    # Stride 8, cell (7, 8) = row 8*16 + 7 = 135: cx = (0.0625+7)*8 = 56.5, cy = (0.5+8)*8 = 68,
    # w = 4*8 = 32, h = 3*8 = 24 -> (40.5, 56, 72.5, 80). Inclusive IoU with (40, 56, 72, 80):
    # 32.5*25 / (825 + 825 - 812.5) = 0.97 > 0.45 -> suppressed by the stronger box.
    duplicate = (_anchor_index(8, 7, 8), 0.0625, 0.5, math.log(4), math.log(3), 0.8, 0.8)  # 0.64
    # Stride 32, cell (3, 4): cx = (0.9+3)*32 = 124.8, cy = (0.9+4)*32 = 156.8, w = h = 32
    # -> (108.8, 140.8, 140.8, 172.8); / 0.2 -> (544, 704, 704, 864) -> clipped (544, 479, 639, 479).
    edge = (_anchor_index(32, 3, 4), 0.9, 0.9, 0.0, 0.0, 0.8, 0.75)  # 0.6
    weak = (_anchor_index(8, 0, 0), 0.5, 0.5, 0.0, 0.0, 0.7, 0.7)  # 0.49, not > 0.5: dropped
    faces = decode_faces(_raw_with(strong, duplicate, edge, weak), (480, 640), 0.5, 0.45)
    np.testing.assert_allclose(faces[:, 4], [0.72, 0.6], rtol=1e-5)
    np.testing.assert_allclose(faces[0, :4], [200, 280, 360, 400], rtol=1e-5)
    np.testing.assert_allclose(faces[1, :4], [544, 479, 639, 479], rtol=1e-5)


def test_decode_nothing_found():
    faces = decode_faces(np.zeros((1, ANCHORS, 6), np.float32), (480, 640), 0.5, 0.45)
    assert faces.shape == (0, 5) and faces.dtype == np.float32


# --- the real detector on real photos ------------------------------------------------------------


def _photos() -> list[str]:
    folder = SHARED_DIR / "media" / "images"
    return sorted(p.name for p in folder.glob("*.jpg")) or ["<no photos in ../shared/media/images>"]


@pytest.fixture(scope="module")
def face_session():
    """The served face detector (letterbox and grid decode in its graph)."""
    return OnnxNetwork(REPOSITORY / "face_detector" / "1" / "model.onnx", FACE_SERVED)


def _detect(network, frame: np.ndarray) -> np.ndarray:
    settings = load_settings().face
    out = network(frame=frame, frame_hw=np.array(frame.shape[:2], np.int32))
    return face.decode_faces(out["boxes_xyxy"], out["box_scores"], frame.shape[:2], settings.score_threshold,
                             settings.nms_iou)


@pytest.mark.parametrize("photo", _photos())
def test_real_detector_finds_a_face(face_session, photo):
    frame = cv2.imread(str(shared_path("media", "images", photo)))
    assert frame is not None, photo
    height, width = frame.shape[:2]
    faces = _detect(face_session, frame)
    assert len(faces) >= 1, f"no face in {photo}"
    assert (np.diff(faces[:, 4]) <= 0).all()  # sorted by score
    assert 0.5 < faces[0, 4] <= 1.0
    x1, y1, x2, y2 = faces[0, :4]
    assert 0 <= x1 < x2 <= width - 1 and 0 <= y1 < y2 <= height - 1
    # A face is neither a speck nor the whole picture.
    assert 0.02 * min(height, width) < x2 - x1 < 0.8 * width


def test_real_detector_centres_the_webcam_face(face_session):
    frame = cv2.imread(str(shared_path("media", "images", "webcam_man_bookshelf.jpg")))
    faces = _detect(face_session, frame)
    assert len(faces) == 1  # one frontal man
    centre_x = (faces[0, 0] + faces[0, 2]) / 2
    width = frame.shape[1]
    assert width / 3 <= centre_x <= 2 * width / 3
