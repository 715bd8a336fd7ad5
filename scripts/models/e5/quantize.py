# Fuses the BERT graph built by build_onnx.py (ONNX Runtime's transformer
# optimiser: attention, SkipLayerNorm, BiasGelu) and quantises every MatMul to
# int8, per channel (dynamic activations), as ../shared/docs/recipes/e5 does.
# Usage: quantize.py IN.onnx OUT.onnx
import os
import sys

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model


def main():
    src, out = sys.argv[1], sys.argv[2]
    fused = out + ".fused.onnx"
    m = optimize_model(src, model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    m.save_model_to_file(fused)
    quantize_dynamic(fused, out, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                     per_channel=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    os.remove(fused)


if __name__ == "__main__":
    main()
