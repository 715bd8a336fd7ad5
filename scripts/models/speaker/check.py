"""Checks models/speaker-ge2e.onnx against the checkpoint it came from: ONNX
Runtime's embeddings equal a plain numpy LSTM with torch's semantics (gates
i, f, g, o; b_ih + b_hh) run on the original weights, for a seeded batch of
160-frame mel windows and a shorter one; embeddings are unit length and
non-negative. Run by fetch-models.sh once after conversion.
Usage: check.py pretrained.pt model.onnx
"""
import sys

import numpy as np
import onnxruntime as ort

from loadpt import load


def fail(msg):
    sys.exit(f"speaker check: FAILED: {msg}")


def reference(sd, x):
    """Resemblyzer's VoiceEncoder.forward in float64 numpy. x: [B, T, 40]."""
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))
    for l in range(3):
        wi = sd[f"lstm.weight_ih_l{l}"].astype(np.float64)
        wh = sd[f"lstm.weight_hh_l{l}"].astype(np.float64)
        b = sd[f"lstm.bias_ih_l{l}"].astype(np.float64) + sd[f"lstm.bias_hh_l{l}"]
        hh = np.zeros((x.shape[0], wh.shape[1]))
        c = np.zeros_like(hh)
        ys = []
        for t in range(x.shape[1]):
            i, f, g, o = np.split(x[:, t] @ wi.T + hh @ wh.T + b, 4, axis=1)
            c = sig(f) * c + sig(i) * np.tanh(g)
            hh = sig(o) * np.tanh(c)
            ys.append(hh)
        x = np.stack(ys, axis=1)
    r = np.maximum(hh @ sd["linear.weight"].T.astype(np.float64) + sd["linear.bias"], 0.0)
    return r / np.linalg.norm(r, axis=1, keepdims=True)


def main():
    sd = load(sys.argv[1])["model_state"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(sys.argv[2], so, providers=["CPUExecutionProvider"])
    if [(i.name, i.shape) for i in s.get_inputs()] != [("mels", ["batch", "frames", 40])]:
        fail(f"inputs {[(i.name, i.shape) for i in s.get_inputs()]}")
    if [(o.name, o.shape) for o in s.get_outputs()] != [("embedding", ["batch", 256])]:
        fail(f"outputs {[(o.name, o.shape) for o in s.get_outputs()]}")
    rng = np.random.default_rng(42)
    worst = 0.0
    for batch, frames in ((3, 160), (1, 57)):
        # mel power values span decades, like speech: log-uniform 1e-6 .. 10
        mels = (10.0 ** rng.uniform(-6, 1, (batch, frames, 40))).astype(np.float32)
        (e,) = s.run(["embedding"], {"mels": mels})
        ref = reference(sd, mels.astype(np.float64))
        if e.shape != (batch, 256):
            fail(f"embedding shape {e.shape}")
        if not np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5) or e.min() < 0:
            fail("embeddings are not non-negative unit vectors")
        worst = max(worst, float(np.abs(e - ref).max()))
    if worst > 1e-4:
        fail(f"ONNX and numpy reference differ by {worst:.2e}")
    print(f"speaker check: OK (ONNX vs numpy LSTM max |diff| {worst:.1e})")


if __name__ == "__main__":
    main()
