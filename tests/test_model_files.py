"""Contract checks on model files: wrong names, shapes and dtypes are rejected with a message that
names the tensor; missing and corrupt files say how to get a good one."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from gazesam.contracts import FACE, GAZE, YOLOX
from gazesam.model_files import ContractError, ModelFileError, load_checked, read_provenance

from conftest import shared_path


def identity_model(path, in_name, in_type, in_shape, out_name, out_shape):
    graph = helper.make_graph(
        [helper.make_node("Identity", [in_name], [out_name])],
        "g",
        [helper.make_tensor_value_info(in_name, in_type, in_shape)],
        [helper.make_tensor_value_info(out_name, in_type, out_shape)],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_real_files_meet_their_contracts():
    assert load_checked(shared_path("models", "face_detection.onnx"), FACE)
    assert load_checked(shared_path("models", "yolox_nano.onnx"), YOLOX)
    assert not read_provenance(shared_path("models", "face_detection.onnx")).standin


@pytest.mark.parametrize(
    "in_name, in_type, in_shape, out_name, message",
    [
        ("image", TensorProto.FLOAT, [1, 3, 448, 448], "gaze_yaw_pitch",
         r"input tensor\(s\) \['input'\] missing.*\['image'\]"),
        ("input", TensorProto.FLOAT, [1, 3, 224, 224], "gaze_yaw_pitch",
         r"input 'input' has shape \[1, 3, 224, 224\].*\[1, 3, 448, 448\]"),
        ("input", TensorProto.UINT8, [1, 3, 448, 448], "gaze_yaw_pitch",
         r"input 'input' has dtype uint8, the contract wants float32"),
        ("input", TensorProto.FLOAT, [1, 3, 448, 448], "angles",
         r"output tensor\(s\) \['gaze_yaw_pitch'\] missing"),
    ],
    ids=["wrong-input-name", "wrong-shape", "wrong-dtype", "wrong-output-name"],
)
def test_mismatch_names_the_tensor_and_the_difference(tmp_path, in_name, in_type, in_shape, out_name, message):
    path = identity_model(tmp_path / "m.onnx", in_name, in_type, in_shape, out_name, [1, 2])
    with pytest.raises(ContractError, match=message):
        load_checked(path, GAZE)


def test_dynamic_axis_where_the_contract_is_static_is_rejected(tmp_path):
    path = identity_model(tmp_path / "m.onnx", "input", TensorProto.FLOAT, ["n", 3, 448, 448], "gaze_yaw_pitch", [1, 2])
    with pytest.raises(ContractError, match=r"\[-1, 3, 448, 448\]"):
        load_checked(path, GAZE)


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelFileError, match=r"missing.*build_engines fetch.*build_engines standins"):
        load_checked(tmp_path / "gaze_estimation.onnx", GAZE)


def test_corrupt_file_says_what_to_do(tmp_path):
    path = tmp_path / "gaze_estimation.onnx"
    path.write_bytes(b"\x00not an onnx file" * 10)
    with pytest.raises(ModelFileError, match=r"not a readable ONNX file.*fetch"):
        load_checked(path, GAZE)
