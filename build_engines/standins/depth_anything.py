"""Depth-Anything v1 stand-in: a DINOv2-style ViT encoder and a DPT head."""

from __future__ import annotations

from gazesam.contracts import NetworkContract

from .graph_builder import GraphBuilder


def build_depth(g: GraphBuilder, size: str, c: NetworkContract) -> str:
    """Depth-Anything v1: DINOv2 ViT → DPT head → ``output`` [1,1,518,518] (ReLU, relative inverse depth).

    full: ViT-B/14 (37×37 patches + cls, 12 blocks, dim 768, 12 heads, MLP 3072, pre-LN, GELU), the last four
    blocks reassembled at out_channels [96,192,384,768] (×4 deconv, ×2 deconv, ×1, ×½ conv), 3×3 to 128
    features, four RefineNet fusion blocks, 3×3 128→64, bilinear to 518², 3×3 64→32, ReLU, 1×1 32→1, ReLU.
    tiny: same structure with patch 37 (14×14 tokens), dim 32, 2 blocks and 8 features.
    """
    if size == "full":
        patch, dim, depth, heads, mlp = 14, 768, 12, 12, 3072
        hooks, out_ch, features, head_hidden = (8, 9, 10, 11), (96, 192, 384, 768), 128, 32
    else:
        patch, dim, depth, heads, mlp = 37, 32, 2, 2, 64
        hooks, out_ch, features, head_hidden = (0, 1, 1, 1), (8, 8, 16, 16), 8, 8
    height, width = c.inputs[0].shape[2:]
    grid = height // patch
    tokens = grid * grid + 1

    # --- ViT encoder -----------------------------------------------------------------------------
    x = g.conv(c.inputs[0].name, 3, dim, patch, stride=patch, pad=0)  # [1,dim,G,G]
    x = g.transpose(g.reshape(x, [1, dim, grid * grid]), [0, 2, 1])  # [1,G²,dim]
    x = g.concat([g.weight((1, 1, dim), std=0.02, base="cls"), x], axis=1)  # [1,T,dim]
    x = g.add(x, g.weight((1, tokens, dim), std=0.02, base="pos"))
    final_norm = g.ln_params(dim)
    hooked = []
    for i in range(depth):
        x = g.add(x, g.attention(g.layernorm(x, dim), dim, heads))
        h = g.linear(g.gelu(g.linear(g.layernorm(x, dim), dim, mlp)), mlp, dim)
        x = g.add(x, h)
        hooked += [x] * hooks.count(i)
    maps = []
    for t in hooked:  # final norm, drop the cls token, back to a [1,dim,G,G] map
        t = g.op("Slice", [g.layernorm(t, dim, final_norm), g.ints([1]), g.ints([tokens]), g.ints([1])])
        maps.append(g.reshape(g.transpose(t, [0, 2, 1]), [1, dim, grid, grid]))

    # --- DPT head --------------------------------------------------------------------------------
    layers = [g.conv(m, dim, oc, 1) for m, oc in zip(maps, out_ch)]
    layers[0] = g.conv_transpose(layers[0], out_ch[0], out_ch[0], 4, 4)  # 4G
    layers[1] = g.conv_transpose(layers[1], out_ch[1], out_ch[1], 2, 2)  # 2G
    layers[3] = g.conv(layers[3], out_ch[3], out_ch[3], 3, stride=2)  # ⌈G/2⌉
    sides = [4 * grid, 2 * grid, grid, (grid - 1) // 2 + 1]
    rn = [g.conv(l, oc, features, 3, bias=False) for l, oc in zip(layers, out_ch)]

    def rcu(t: str) -> str:  # residual conv unit
        u = g.conv(g.relu(t), features, features, 3)
        u = g.conv(g.relu(u), features, features, 3, gain=0.5)
        return g.add(u, t)

    def fusion(t: str, skip: str | None, side: int) -> str:
        if skip is not None:
            t = g.add(t, rcu(skip))
        t = g.resize(rcu(t), sizes=[1, features, side, side], align_corners=True)
        return g.conv(t, features, features, 1)

    path = fusion(rn[3], None, sides[2])
    path = fusion(path, rn[2], sides[1])
    path = fusion(path, rn[1], sides[0])
    path = fusion(path, rn[0], 2 * sides[0])
    y = g.conv(path, features, features // 2, 3)
    y = g.resize(y, sizes=[1, features // 2, height, width], align_corners=True)
    y = g.conv(y, features // 2, head_hidden, 3, act="relu")
    g.conv(y, head_hidden, 1, 1, act="relu", out=c.outputs[0].name)
    return (f"Depth-Anything v1: ViT (patch {patch}, dim {dim}, {depth} blocks, {heads} heads, MLP {mlp}) + DPT head "
            f"(out_channels {list(out_ch)}, features {features}).")
