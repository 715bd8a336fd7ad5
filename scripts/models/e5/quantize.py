# Fuses the BERT graph built by build_onnx.py (ONNX Runtime's transformer
# optimiser: attention, SkipLayerNorm, BiasGelu) and quantises every MatMul to
# int8, per channel (dynamic activations), as ../shared/docs/recipes/e5 does,
# with 7-bit weights (reduce_range): ONNX Runtime multiplies uint8 activations
# by int8 weights with AVX2's vpmaddubsw where the CPU has no VNNI, and full
# 8-bit weights saturate its int16 sums there (on an AVX2-only EPYC the
# cancel-my-subscription pair of check_e5.py fell to 0.880 against 0.856 for
# an unrelated pair; unquantised MatMuls
# (the intermediate e5-embq.onnx) give 0.887 / 0.848, 7-bit weights 0.884 / 0.845).
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
                     per_channel=True, reduce_range=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    os.remove(fused)


if __name__ == "__main__":
    main()
