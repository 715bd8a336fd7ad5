"""Writes Resemblyzer's GE2E speaker encoder as an ONNX graph, without torch.

The network (resemblyzer/voice_encoder.py, Resemblyzer 0.1.4):
    nn.LSTM(40, 256, num_layers=3, batch_first=True) -> final hidden state of
    the last layer -> nn.Linear(256, 256) -> ReLU -> divide by its L2 norm.

The graph:
    input  `mels`      float32 [batch, frames, 40]  (mel power spectrogram, see README.md)
    output `embedding` float32 [batch, 256]         (non-negative, unit length)
    Transpose to [frames, batch, 40] -> 3 x LSTM (hidden 256) -> Squeeze(Y_h)
    -> Gemm(linear) -> Relu -> ReduceL2 -> Div; opset 18, IR version 8.
torch packs the LSTM gates as i, f, g, o; ONNX wants i, o, f, c, so every
weight and bias block is reordered. ONNX's B is [Wb; Rb] = [bias_ih; bias_hh].

Deterministic: the same pretrained.pt gives the same bytes, so
models/SHA256SUMS pins the output.
Usage: export_onnx.py pretrained.pt out.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from loadpt import load

N_MELS, HIDDEN, LAYERS, EMBED = 40, 256, 3, 256


def torch_to_onnx_gates(w):
    """torch gate blocks i, f, g, o (along axis 0) -> ONNX i, o, f, c."""
    i, f, g, o = np.split(w, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def build(sd):
    inits, nodes = [], []

    def init(name, arr):
        inits.append(nh.from_array(np.ascontiguousarray(arr), name))

    nodes.append(h.make_node("Transpose", ["mels"], ["x0"], perm=[1, 0, 2]))  # [T, B, 40]
    x = "x0"
    for l in range(LAYERS):
        W = torch_to_onnx_gates(sd[f"lstm.weight_ih_l{l}"])[None]
        R = torch_to_onnx_gates(sd[f"lstm.weight_hh_l{l}"])[None]
        B = np.concatenate([torch_to_onnx_gates(sd[f"lstm.bias_ih_l{l}"]),
                            torch_to_onnx_gates(sd[f"lstm.bias_hh_l{l}"])])[None]
        for n, a in (("W", W), ("R", R), ("B", B)):
            init(f"{n}{l}", a.astype(np.float32))
        # Y [T, 1, B, H], Y_h [1, B, H]
        nodes.append(h.make_node("LSTM", [x, f"W{l}", f"R{l}", f"B{l}"], [f"y{l}", f"yh{l}"],
                                 hidden_size=HIDDEN))
        if l < LAYERS - 1:
            init(f"ax1_{l}", np.array([1], np.int64))
            nodes.append(h.make_node("Squeeze", [f"y{l}", f"ax1_{l}"], [f"x{l + 1}"]))  # [T, B, H]
            x = f"x{l + 1}"
    init("ax0", np.array([0], np.int64))
    init("LW", sd["linear.weight"].astype(np.float32))
    init("LB", sd["linear.bias"].astype(np.float32))
    init("ax1", np.array([1], np.int64))
    last = f"yh{LAYERS - 1}"
    nodes += [
        h.make_node("Squeeze", [last, "ax0"], ["hid"]),                 # [B, H]
        h.make_node("Gemm", ["hid", "LW", "LB"], ["lin"], transB=1),    # hid @ LW.T + LB
        h.make_node("Relu", ["lin"], ["rel"]),
        h.make_node("ReduceL2", ["rel", "ax1"], ["nrm"], keepdims=1),
        h.make_node("Div", ["rel", "nrm"], ["embedding"]),
    ]
    graph = h.make_graph(
        nodes, "resemblyzer_ge2e",
        [h.make_tensor_value_info("mels", TP.FLOAT, ["batch", "frames", N_MELS])],
        [h.make_tensor_value_info("embedding", TP.FLOAT, ["batch", EMBED])],
        inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)],
                         producer_name="resemblyzer-0.1.4-export")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    src, out = sys.argv[1], sys.argv[2]
    sd = load(src)["model_state"]
    for l in range(LAYERS):
        assert sd[f"lstm.weight_ih_l{l}"].shape == (4 * HIDDEN, N_MELS if l == 0 else HIDDEN)
        assert sd[f"lstm.weight_hh_l{l}"].shape == (4 * HIDDEN, HIDDEN)
    assert sd["linear.weight"].shape == (EMBED, HIDDEN)
    onnx.save(build(sd), out)


if __name__ == "__main__":
    main()
