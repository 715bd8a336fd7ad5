# Checks the converted sentence encoder (models/encoder/): (a) tokenizer.json gives
# the same ids as SentencePiece itself, (b) the cut ONNX graph fed those ids gives
# unit-length 512-d embeddings where en/zh translation pairs are close and
# unrelated sentences are not. Run by fetch-models.sh once after conversion.
# Usage: check_encoder.py DIR   (DIR holds model.onnx, tokenizer.json, sentencepiece.model)
import os
import sys

import numpy as np
import onnxruntime as ort
import sentencepiece as spm
from tokenizers import Tokenizer

PAIRS = [  # (English, Chinese) translations
    ("I want a refund", "我要退款"),
    ("The weather is nice today", "今天天气很好"),
    ("I would like to cancel my subscription", "我想取消我的订阅"),
    ("Thank you for your patience", "感谢您的耐心等待"),
    ("My package has not arrived yet", "我的包裹还没有到"),
]
UNRELATED = [
    ("I want a refund", "the weather is nice"),
    ("我要退款", "the weather is nice"),
    ("Thank you for your patience", "我的包裹还没有到"),
    ("I would like to cancel my subscription", "今天天气很好"),
]
TOKENIZER_ONLY = [
    "  Hello,   world!  ", "Hello\tworld\nnew line", "ＡＢＣ１２３ full width", "Café naïve façade",
    "emoji 😀🤖 test", "", "您好，这里是客服中心，请问有什么可以帮您？", "我的订单号是 12345678，还没发货",
    "I'd like to speak to your manager, please.", "Straße русский текст 日本語のテキスト 한국어",
]


def fail(msg):
    sys.exit(f"check_encoder: FAILED: {msg}")


def main():
    d = sys.argv[1]
    sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "sentencepiece.model"))
    tk = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    texts = sorted({t for p in PAIRS + UNRELATED for t in p}) + TOKENIZER_ONLY
    for t in texts:
        want = sp.encode(t, add_bos=True, add_eos=True)
        got = tk.encode(t, add_special_tokens=True).ids
        if got != want:
            fail(f"tokenizer.json ids differ from SentencePiece for {t!r}: {got} vs {want}")
    print(f"check_encoder: tokenizer.json == SentencePiece on {len(texts)} texts (ids wrapped as 1 ... 2)")

    sess = ort.InferenceSession(os.path.join(d, "model.onnx"), providers=["CPUExecutionProvider"])
    ins = [(i.name, i.type) for i in sess.get_inputs()]
    outs = [(o.name, o.type) for o in sess.get_outputs()]
    if ins != [("input_ids", "tensor(int32)"), ("row_splits", "tensor(int64)")] or outs != [("embeddings", "tensor(float)")]:
        fail(f"unexpected graph signature {ins} -> {outs}")

    def embed(batch):
        ids = [tk.encode(t).ids for t in batch]
        flat = np.array([i for x in ids for i in x], dtype=np.int32)
        splits = np.cumsum([0] + [len(x) for x in ids]).astype(np.int64)
        (e,) = sess.run(None, {"input_ids": flat, "row_splits": splits})
        return e

    uniq = sorted({t for p in PAIRS + UNRELATED for t in p})
    emb = embed(uniq)
    if emb.shape != (len(uniq), 512) or not np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-3):
        fail(f"embeddings shape {emb.shape} or norms not 1")
    e = dict(zip(uniq, emb))
    alone = embed([uniq[0]])[0]
    if float(alone @ e[uniq[0]]) < 0.995:
        fail(f"embedding depends too much on batch mates: cos {float(alone @ e[uniq[0]]):.4f}")
    cos = lambda a, b: float(e[a] @ e[b])  # noqa: E731
    pair_cos = [cos(a, b) for a, b in PAIRS]
    unrel_cos = [cos(a, b) for a, b in UNRELATED]
    for (a, b), c in zip(PAIRS, pair_cos):
        print(f"  translation {c:6.3f}  {a} / {b}")
    for (a, b), c in zip(UNRELATED, unrel_cos):
        print(f"  unrelated   {c:6.3f}  {a} / {b}")
    if min(pair_cos) < 0.6 or not 0.70 <= float(np.mean(pair_cos)) <= 0.9:
        fail(f"translation pairs too far apart: {pair_cos}")
    if max(unrel_cos) >= 0.3:
        fail(f"unrelated pairs too close: {unrel_cos}")
    print(f"check_encoder: OK: translation pairs mean cos {np.mean(pair_cos):.3f} "
          f"(min {min(pair_cos):.3f}), unrelated max {max(unrel_cos):.3f}")


if __name__ == "__main__":
    main()
