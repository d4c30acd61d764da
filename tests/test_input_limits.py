"""Input size limits (gazesam.input_limits): what the Python-backend models check before reading a tensor."""

from __future__ import annotations

import numpy as np
import pytest

from gazesam.contracts import (
    DEPTH,
    ENSEMBLE,
    FRAME_IMAGE,
    JPEG_ENSEMBLE,
    MAX_FRAME_SIDE,
    MAX_JPEG_BYTES,
    MAX_PROMPTS,
    PROMPT_MASKS,
    SAM_DECODER,
)
from gazesam.input_limits import (
    ENCODED_FRAME_LIMITS,
    FRAME_LIMITS,
    MAX_FRAME_BYTES,
    NETWORK_TENSOR_LIMITS,
    PROMPT_MASK_LIMITS,
    STEP_TENSOR_LIMITS,
    InputLimitError,
    InputLimits,
    check_input_dtype,
    check_input_shape,
    limits_for,
)
from gazesam.networks import model_set
from gazesam.steps import python_steps

FRAME = ENSEMBLE.inputs[0]
BOXES = SAM_DECODER.input("boxes")


def step_input(step: str, name: str):
    return next(spec for spec in python_steps(model_set("standin"))[step].inputs if spec.name == name)


def test_each_tensor_gets_the_limits_of_its_kind():
    assert limits_for(FRAME) == FRAME_LIMITS
    assert limits_for(FRAME_IMAGE) == FRAME_LIMITS  # what a served frame network takes
    assert limits_for(JPEG_ENSEMBLE.inputs[0]) == ENCODED_FRAME_LIMITS
    assert limits_for(BOXES) == NETWORK_TENSOR_LIMITS
    assert limits_for(step_input("mask_select", "PROMPT_MASKS")) == PROMPT_MASK_LIMITS  # the decoder's masks
    assert limits_for(PROMPT_MASKS) == PROMPT_MASK_LIMITS
    assert limits_for(step_input("mask_select", "MASK_IOU")) == NETWORK_TENSOR_LIMITS
    assert limits_for(step_input("mask_select", "PROMPT_BOXES")) == STEP_TENSOR_LIMITS


def test_the_largest_documented_frame_is_accepted():
    check_input_shape(FRAME, (MAX_FRAME_SIDE, MAX_FRAME_SIDE, 3))
    assert MAX_FRAME_BYTES == MAX_FRAME_SIDE * MAX_FRAME_SIDE * 3


@pytest.mark.parametrize(
    "shape, message",
    [
        ((MAX_FRAME_SIDE + 1, MAX_FRAME_SIDE, 3), "bytes, over the limit 44236800"),
        ((64, 2**40, 3), "axis 1 exceeds the limit"),
        ((2**31, 2**31, 3), "axis 0 exceeds the limit"),
        ((64, 64), "got rank 2"),
        ((1, 64, 64, 3), "got rank 4"),
        ((64, 64, 4), "axis 2 must be 3"),
        ((64, -1, 3), "negative axis 1"),
    ],
)
def test_frames_that_cannot_be_served_are_rejected_from_their_shape(shape, message):
    with pytest.raises(InputLimitError, match=message):
        check_input_shape(FRAME, shape)


def test_frames_within_the_byte_limit_are_left_to_frame_check():
    """frame_check answers these with its own message (sides 32..3840); they are no memory risk."""
    check_input_shape(FRAME, (0, 0, 3))
    check_input_shape(FRAME, (40, 4000, 3))


def test_encoded_frames_are_bounded_by_the_jpeg_byte_limit():
    jpeg = JPEG_ENSEMBLE.inputs[0]
    check_input_shape(jpeg, (MAX_JPEG_BYTES,))
    with pytest.raises(InputLimitError, match=f"exceeds the limit {MAX_JPEG_BYTES}"):
        check_input_shape(jpeg, (MAX_JPEG_BYTES + 1,))


def test_step_tensors_are_bounded_per_axis_and_in_bytes():
    det_boxes = step_input("mask_select", "PROMPT_BOXES")  # float32 (-1, 4)
    check_input_shape(det_boxes, (MAX_FRAME_SIDE, 4))
    with pytest.raises(InputLimitError, match=f"axis 0 exceeds the limit {MAX_FRAME_SIDE}"):
        check_input_shape(det_boxes, (MAX_FRAME_SIDE + 1, 4))
    with pytest.raises(InputLimitError, match="bytes, over the limit 1000"):
        check_input_shape(det_boxes, (MAX_FRAME_SIDE, 4), InputLimits(max_dynamic_axis=MAX_FRAME_SIDE, max_bytes=1000))


def test_network_tensors_are_capped_at_the_prompt_budget():
    check_input_shape(BOXES, (MAX_PROMPTS, 1, 4))
    # a million boxes is 16 MB in, but the decoder would answer with a million 256x256 float masks (262 GB)
    with pytest.raises(InputLimitError, match=f"axis 0 exceeds the limit {MAX_PROMPTS}"):
        check_input_shape(BOXES, (1_000_000, 1, 4))
    # the decoder's frame-sized masks: every prompt's mask of the largest frame, no more
    masks = step_input("mask_select", "PROMPT_MASKS")
    check_input_shape(masks, (MAX_PROMPTS, MAX_FRAME_SIDE, MAX_FRAME_SIDE))
    with pytest.raises(InputLimitError, match="over the limit"):
        check_input_shape(masks, (MAX_PROMPTS + 1, MAX_FRAME_SIDE, MAX_FRAME_SIDE))
    with pytest.raises(InputLimitError, match=f"axis 1 exceeds the limit {MAX_FRAME_SIDE}"):
        check_input_shape(masks, (1, MAX_FRAME_SIDE + 1, 4))


def test_static_network_inputs_must_match_exactly():
    spec = DEPTH.input("input")
    check_input_shape(spec, spec.shape)
    with pytest.raises(InputLimitError, match="axis 2 must be 518"):
        check_input_shape(spec, (1, 3, 5180, 518))


def test_dtype_must_be_the_contracts():
    check_input_dtype(FRAME, np.dtype(np.uint8))
    with pytest.raises(InputLimitError, match="'FRAME' must be uint8; got float32"):
        check_input_dtype(FRAME, np.dtype(np.float32))
