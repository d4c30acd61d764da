"""EfficientViT-SAM stand-ins: the L0 image encoder and a box-prompt mask decoder."""

from __future__ import annotations

import math

import numpy as np

from gazesam.contracts import NetworkContract

from .graph_builder import GraphBuilder

SAM_DECODER_BOX_FRAME = 1024  # decoder box prompts are in a 1024-longest-side frame
SAM_DECODER_IOU_CENTRE = 0.85  # iou_predictions = sigmoid(logit(0.85) + 0.8·tanh(s))


def _lite_mla(g: GraphBuilder, x: str, channels: int, side: int, head_dim: int) -> str:
    """EfficientViT multi-scale ReLU linear attention (one 5×5 aggregation scale), residual. [B,C,s,s] → same."""
    heads = channels // head_dim
    total = heads * head_dim
    qkv = g.conv(x, channels, 3 * total, 1, bias=False)
    agg = g.conv(g.conv(qkv, 3 * total, 3 * total, 5, groups=3 * total, bias=False),
                 3 * total, 3 * total, 1, groups=3 * heads, bias=False)
    multi = g.concat([qkv, agg], axis=1)  # [B, 6·total, s, s]
    multi = g.transpose(g.reshape(multi, [0, 2 * heads, 3 * head_dim, side * side]), [0, 1, 3, 2])  # [B,2h,HW,3d]
    q, k, v = g.split(multi, [head_dim] * 3, axis=3)
    q, k = g.relu(q), g.relu(k)
    kv = g.op("MatMul", [g.transpose(k, [0, 1, 3, 2]), v])  # [B,2h,d,d]
    num = g.op("MatMul", [q, kv])  # [B,2h,HW,d]
    k_sum = g.op("ReduceSum", [k, g.ints([2])], keepdims=1)  # [B,2h,1,d]
    den = g.op("ReduceSum", [g.mul(q, k_sum), g.ints([3])], keepdims=1)  # [B,2h,HW,1]
    ctx = g.op("Div", [num, g.add(den, g.const(1e-6))])
    ctx = g.reshape(g.transpose(ctx, [0, 1, 3, 2]), [0, 2 * total, side, side])
    return g.add(x, g.conv(ctx, 2 * total, channels, 1, gain=0.5))


def _mbconv(g: GraphBuilder, x: str, cin: int, cout: int, expand: int, stride: int, residual: bool) -> str:
    """Inverted residual: 1×1 expand, GELU, 3×3 depthwise (stride), GELU, 1×1 project."""
    mid = cin * expand
    y = g.conv(x, cin, mid, 1, act="gelu")
    y = g.conv(y, mid, mid, 3, stride=stride, groups=mid, act="gelu")
    y = g.conv(y, mid, cout, 1, gain=0.3 if residual else 1.0)
    return g.add(x, y) if residual else y


def _fused_mbconv(g: GraphBuilder, x: str, cin: int, cout: int, expand: int, stride: int, residual: bool) -> str:
    """Fused MBConv: 3×3 expand (stride), GELU, 1×1 project."""
    y = g.conv(x, cin, cin * expand, 3, stride=stride, act="gelu")
    y = g.conv(y, cin * expand, cout, 1, gain=0.3 if residual else 1.0)
    return g.add(x, y) if residual else y


def build_sam_encoder(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """EfficientViT-SAM-L0 image encoder: ``input_image`` [B,3,512,512] → ``image_embeddings`` [B,256,64,64].

    full follows EfficientViT-L0 (widths 32-64-128-256-512, depths 1-1-1-4-4, GELU, BN folded):
    conv stem + ResBlock; stages 1–2 fused-MBConv (×16 expand when downsampling, ×4 after); stage 3 MBConv;
    stage 4 MBConv (×24) then 4 EfficientViT blocks (multi-scale ReLU linear attention with one 5×5 aggregation
    scale + MBConv ×6). SAM neck: 1×1 convs of stages 4/3/2 to 256, bilinear to 64×64 (upstream: bicubic), sum,
    4 fused-MBConv (×1), 1×1 to 256, LayerNorm over channels. tiny: the same with widths 8-…-128, depths
    0-0-0-1-1, smaller expansions and a 32-wide neck.
    """
    if size == "full":
        widths, depths = (32, 64, 128, 256, 512), (1, 1, 1, 4, 4)
        exp_down, exp, exp_down4, exp_att, head_width, head_depth = 16, 4, 24, 6, 256, 4
    else:
        widths, depths = (8, 16, 32, 64, 128), (0, 0, 0, 1, 1)
        exp_down, exp, exp_down4, exp_att, head_width, head_depth = 4, 2, 4, 2, 32, 1
    side = c.inputs[0].shape[2] // 2
    x = g.conv(c.inputs[0].name, 3, widths[0], 3, stride=2, act="gelu")
    for _ in range(depths[0]):  # ResBlock
        x = g.add(x, g.conv(g.conv(x, widths[0], widths[0], 3, act="gelu"), widths[0], widths[0], 3, gain=0.3))
    cin = widths[0]
    stages = {}
    for stage in (1, 2, 3):
        block = _fused_mbconv if stage <= 2 else _mbconv
        x = block(g, x, cin, widths[stage], exp_down, 2, residual=False)
        side //= 2
        cin = widths[stage]
        for _ in range(depths[stage]):
            x = block(g, x, cin, cin, exp, 1, residual=True)
        stages[stage] = (x, cin, side)
    x = _mbconv(g, x, cin, widths[4], exp_down4, 2, residual=False)
    side //= 2
    cin = widths[4]
    for _ in range(depths[4]):
        x = _lite_mla(g, x, cin, side, head_dim=32)
        x = _mbconv(g, x, cin, cin, exp_att, 1, residual=True)
    stages[4] = (x, cin, side)

    out_side = c.outputs[0].shape[2]
    merged = None
    for stage in (4, 3, 2):
        feat, ch, s = stages[stage]
        y = g.conv(feat, ch, head_width, 1)
        if s != out_side:
            y = g.resize(y, scales=[1, 1, out_side / s, out_side / s])
        merged = y if merged is None else g.add(merged, y)
    for _ in range(head_depth):
        merged = _fused_mbconv(g, merged, head_width, head_width, 1, 1, residual=True)
    out_ch = c.outputs[0].shape[1]
    y = g.conv(merged, head_width, out_ch, 1)
    g.layernorm2d(y, out_ch, out=c.outputs[0].name)
    return (f"EfficientViT-SAM-L0-like encoder: widths {list(widths)}, depths {list(depths)}, LiteMLA in stage 4, "
            f"SAM neck {head_depth}×fused-MBConv at width {head_width}.")


def build_sam_decoder(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """Box-prompt mask decoder: ``image_embeddings`` [1,256,64,64], ``boxes`` [N,1,4] (1024 frame) →
    ``low_res_masks`` [N,1,256,256], ``iou_predictions`` [N,1].

    Prompt-driven so the pipeline has something to segment:

    * each box → random-Fourier positional encoding of its two corners (+ a corner embedding each), one
      cross-attention from the two corner tokens to the image embedding, MLP, LayerNorm → ``hidden`` [N,H];
    * mask logits = ``box prior`` + 0.5·``mix``. The box prior is ``clip(1.5·d, −3, 3)`` with ``d`` the signed
      distance (in 256-grid pixels) from each pixel centre to the box mapped onto the grid (x/4, y/4): positive
      inside, negative outside, so a mask roughly fills its box. ``mix`` is the SAM-style product of a
      per-box hypernetwork vector with the upscaled embedding, normalised to unit variance per mask;
    * iou = ``sigmoid(logit(0.85) + 0.8·tanh(s))``, ``s`` a random projection of ``hidden`` (≈ N(0,1) over
      boxes): centred on 0.85, roughly three quarters above a 0.78 gate.

    full upscales the embedding with two stride-2 transposed convs (256→64→32 channels) like SAM; tiny uses a
    1×1 conv to 8 channels and a bilinear ×4 resize.
    """
    emb, boxes = (s.name for s in c.inputs)
    masks_out, iou_out = (s.name for s in c.outputs)
    emb_ch, emb_side = c.inputs[0].shape[1], c.inputs[0].shape[2]
    mask_side = c.outputs[0].shape[2]
    dim, hidden = (256, 256) if size == "full" else (32, 32)
    n_freq = dim // 2

    # --- prompt tokens ---------------------------------------------------------------------------
    corners = g.reshape(g.scale(g.add(boxes, g.const(0.5)), 1.0 / SAM_DECODER_BOX_FRAME), [-1, 2, 2])  # [N,2,2]
    centred = g.add(g.scale(corners, 2.0), g.const(-1.0))
    proj = g.scale(g.op("MatMul", [centred, g.weight((2, n_freq), std=1.0, base="pe_gauss")]), 2.0 * math.pi)
    tokens = g.concat([g.op("Sin", [proj]), g.op("Cos", [proj])], axis=2)  # [N,2,dim]
    tokens = g.add(tokens, g.weight((1, 2, dim), std=0.5, base="corner_embed"))

    # --- one cross-attention from the corner tokens to the image ----------------------------------
    image = g.transpose(g.reshape(emb, [1, emb_ch, emb_side * emb_side]), [0, 2, 1])  # [1,HW,C]
    keys = g.transpose(g.linear(image, emb_ch, dim, bias=False), [0, 2, 1])  # [1,dim,HW]
    values = g.linear(image, emb_ch, dim, bias=False)  # [1,HW,dim]
    query = g.linear(tokens, dim, dim, bias=False)  # [N,2,dim]
    attn = g.op("Softmax", [g.scale(g.op("MatMul", [query, keys]), 1.0 / math.sqrt(dim))], axis=-1)
    tokens = g.layernorm(g.add(tokens, g.op("MatMul", [attn, values])), dim)  # [N,2,dim]
    h = g.linear(g.reshape(tokens, [-1, 2 * dim]), 2 * dim, hidden)
    pooled = g.reshape(g.op("ReduceMean", [emb], axes=[2, 3], keepdims=0), [1, emb_ch])
    h = g.add(h, g.linear(pooled, emb_ch, hidden, bias=False))
    h = g.layernorm(g.relu(h), hidden)  # [N,H]

    # --- mask logits ------------------------------------------------------------------------------
    if size == "full":
        up = g.gelu(g.conv_transpose(emb, emb_ch, 64, 2, 2))
        up = g.gelu(g.conv_transpose(up, 64, 32, 2, 2))
        up_ch = 32
    else:
        up_ch = 8
        up = g.resize(g.conv(emb, emb_ch, up_ch, 1, act="gelu"), sizes=[1, up_ch, mask_side, mask_side])
    up = g.reshape(up, [up_ch, mask_side * mask_side])
    mix = g.op("MatMul", [g.linear(h, hidden, up_ch), up])  # [N, 256²]
    mix = g.op("LayerNormalization", [mix, g.const(np.full(mask_side * mask_side, 0.5)),
                                      g.const(np.zeros(mask_side * mask_side))], axis=-1, epsilon=1e-5)
    mix = g.reshape(mix, [-1, 1, mask_side, mask_side])

    grid_scale = mask_side / SAM_DECODER_BOX_FRAME  # 1024 frame → 256 grid
    centres = np.arange(mask_side, dtype=np.float32) + 0.5
    coords = g.reshape(g.scale(boxes, grid_scale), [-1, 4, 1, 1])  # [N,4,1,1]
    x1, y1, x2, y2 = g.split(coords, [1, 1, 1, 1], axis=1)  # each [N,1,1,1]
    xs = g.const(centres.reshape(1, 1, 1, mask_side))
    ys = g.const(centres.reshape(1, 1, mask_side, 1))
    dx = g.op("Min", [g.op("Sub", [xs, x1]), g.op("Sub", [x2, xs])])  # [N,1,1,256]
    dy = g.op("Min", [g.op("Sub", [ys, y1]), g.op("Sub", [y2, ys])])  # [N,1,256,1]
    prior = g.op("Clip", [g.scale(g.op("Min", [dx, dy]), 1.5), g.const(-3.0), g.const(3.0)])  # [N,1,256,256]
    g.add(prior, mix, out=masks_out)

    # --- IoU --------------------------------------------------------------------------------------
    s = g.linear(h, hidden, 1, std=1.0 / math.sqrt(hidden), bias=False)  # [N,1]
    centre = math.log(SAM_DECODER_IOU_CENTRE / (1.0 - SAM_DECODER_IOU_CENTRE))
    g.sigmoid(g.add(g.scale(g.op("Tanh", [s]), 0.8), g.const(centre)), out=iou_out)
    return (f"box-prompt decoder stand-in: Fourier box tokens, 1 cross-attention (dim {dim}), box-prior mask "
            f"logits + 0.5·embedding mix, iou centred on {SAM_DECODER_IOU_CENTRE}.")
