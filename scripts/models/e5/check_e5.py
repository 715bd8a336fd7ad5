# Checks the converted multilingual-e5-small (models/e5/): unit-length 384-d
# embeddings for "query: "-prefixed texts, en/zh translation pairs closer than
# unrelated pairs. Run by fetch-models.sh once after conversion.
# Usage: check_e5.py DIR   (DIR holds model.onnx, tokenizer.json)
import os
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

PAIRS = [("I want a refund", "我要退款"), ("The weather is nice today", "今天天气很好"),
         ("I would like to cancel my subscription", "我想取消我的订阅")]


def main():
    d = sys.argv[1]
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(os.path.join(d, "model.onnx"), so, providers=["CPUExecutionProvider"])
    texts = [t for p in PAIRS for t in p]
    enc = tok.encode_batch(["query: " + t for t in texts])
    n = max(len(e.ids) for e in enc)
    ids = np.full((len(texts), n), 1, np.int64)
    mask = np.zeros((len(texts), n), np.int64)
    for i, e in enumerate(enc):
        ids[i, :len(e.ids)] = e.ids
        mask[i, :len(e.ids)] = 1
    (v,) = s.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
    if v.shape != (len(texts), 384) or not np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-3):
        sys.exit(f"check_e5: FAILED: shape {v.shape} or norms {np.linalg.norm(v, axis=1)}")
    sims = v @ v.T
    for i in range(len(PAIRS)):
        pair = sims[2 * i, 2 * i + 1]
        others = [sims[2 * i, 2 * j + 1] for j in range(len(PAIRS)) if j != i]
        if pair < max(others) + 0.03:
            sys.exit(f"check_e5: FAILED: {PAIRS[i]} cosine {pair:.3f}, unrelated up to {max(others):.3f}")
        print(f"check_e5: {PAIRS[i][0]!r} / {PAIRS[i][1]!r} cosine {pair:.3f} (unrelated ≤ {max(others):.3f})")


if __name__ == "__main__":
    main()
