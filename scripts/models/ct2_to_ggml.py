# Converts a CTranslate2 (faster-whisper) Whisper model.bin into the ggml file
# whisper.cpp / whisper-rs load, with the layout of whisper.cpp's
# models/convert-pt-to-ggml.py (f16 weights; 1-D, conv biases, pos. emb. f32).
# Usage: ct2_to_ggml.py --assets WHISPER_ASSETS_DIR --out OUT.bin MODEL.bin[.part1 PART2 ...]
import argparse
import base64
import os
import re
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from whisper_ggml import GGML_F16, GGML_F32, GGML_MAGIC, HPARAM_NAMES, expected_tensors, read_ct2  # noqa: E402


def n_layers(v, side):
    idx = {int(m.group(1)) for k in v if (m := re.match(rf"{side}/layer_(\d+)/", k))}
    if idx != set(range(len(idx))):
        raise ValueError(f"{side}: non-contiguous layer indices {sorted(idx)}")
    return len(idx)


def split_rows(a, parts):
    if a.shape[0] % parts:
        raise ValueError(f"cannot split {a.shape} into {parts}")
    return np.split(a, parts, axis=0)


def zero_bias(b, what):
    if np.any(b != 0):
        raise ValueError(f"{what}: key projection bias is not zero (max |b| = {np.abs(b).max()})")


def convert(v):
    """Map CTranslate2 WhisperSpec variables onto OpenAI state-dict names; return (hparams, tensors)."""
    hp = {
        "n_vocab": v["decoder/embeddings/weight"].shape[0],
        "n_audio_ctx": v["encoder/position_encodings/encodings"].shape[0],
        "n_audio_state": v["encoder/position_encodings/encodings"].shape[1],
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_layers(v, "encoder"),
        "n_text_ctx": v["decoder/position_encodings/encodings"].shape[0],
        "n_text_state": v["decoder/position_encodings/encodings"].shape[1],
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_layers(v, "decoder"),
        "n_mels": v["encoder/conv1/weight"].shape[1],
        "ftype": 1,
    }
    out = {}

    def lin(dst, src, bias=True):
        out[f"{dst}.weight"] = v[f"{src}/weight"]
        if bias:
            out[f"{dst}.bias"] = v[f"{src}/bias"]

    def ln(dst, src):
        out[f"{dst}.weight"] = v[f"{src}/gamma"]
        out[f"{dst}.bias"] = v[f"{src}/beta"]

    def self_attn(dst, src):
        # linear_0 = fused [q; k; v], linear_1 = out; k has no bias (zeros in the fused bias)
        q, k, val = split_rows(v[f"{src}/linear_0/weight"], 3)
        qb, kb, vb = split_rows(v[f"{src}/linear_0/bias"], 3)
        zero_bias(kb, src)
        out.update({f"{dst}.query.weight": q, f"{dst}.query.bias": qb, f"{dst}.key.weight": k,
                    f"{dst}.value.weight": val, f"{dst}.value.bias": vb})
        lin(f"{dst}.out", f"{src}/linear_1")

    def cross_attn(dst, src):
        # linear_0 = q, linear_1 = fused [k; v], linear_2 = out
        lin(f"{dst}.query", f"{src}/linear_0")
        k, val = split_rows(v[f"{src}/linear_1/weight"], 2)
        kb, vb = split_rows(v[f"{src}/linear_1/bias"], 2)
        zero_bias(kb, src)
        out.update({f"{dst}.key.weight": k, f"{dst}.value.weight": val, f"{dst}.value.bias": vb})
        lin(f"{dst}.out", f"{src}/linear_2")

    def block(dst, src, cross):
        self_attn(f"{dst}.attn", f"{src}/self_attention")
        ln(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        if cross:
            cross_attn(f"{dst}.cross_attn", f"{src}/attention")
            ln(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        lin(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        lin(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        ln(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    out["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    lin("encoder.conv1", "encoder/conv1")
    lin("encoder.conv2", "encoder/conv2")
    for i in range(hp["n_audio_layer"]):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    ln("encoder.ln_post", "encoder/layer_norm")
    out["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    out["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    for i in range(hp["n_text_layer"]):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    ln("decoder.ln", "decoder/layer_norm")
    # CTranslate2's output projection is tied to the token embedding (alias); whisper.cpp reuses it too.
    proj = v.get("decoder/projection/weight")
    if proj is not None and not np.array_equal(proj, v["decoder/embeddings/weight"]):
        raise ValueError("decoder projection differs from token embedding; whisper.cpp cannot represent that")
    return hp, out


def load_vocab(assets, n_vocab):
    # Same rule as convert-pt-to-ggml.py: multilingual models use multilingual.tiktoken
    # (50257 ranks), English-only ones gpt2.tiktoken (50256 ranks) + "<|endoftext|>" as 50256,
    # which is what the published ggml-*.en.bin files carry (converted from vocab.json).
    multilingual = n_vocab >= 51865
    path = os.path.join(assets, "multilingual.tiktoken" if multilingual else "gpt2.tiktoken")
    tokens = []
    with open(path, "rb") as f:
        for rank, line in enumerate(l for l in f.read().splitlines() if l):
            tok, r = line.split()
            if int(r) != rank:
                raise ValueError(f"{path}: rank {r} out of order")
            tokens.append(base64.b64decode(tok))
    if not multilingual:
        tokens.append(b"<|endoftext|>")
    return tokens


def write_ggml(path, hp, mel, tokens, tensors):
    expect = expected_tensors(hp)
    if list(tensors) != list(expect):
        missing, extra = set(expect) - set(tensors), set(tensors) - set(expect)
        raise ValueError(f"tensor set mismatch: missing {sorted(missing)[:5]} extra {sorted(extra)[:5]}")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<i", GGML_MAGIC))
        f.write(struct.pack("<11i", *(hp[k] for k in HPARAM_NAMES)))
        f.write(struct.pack("<ii", *mel.shape))
        f.write(np.ascontiguousarray(mel, dtype="<f4").tobytes())
        f.write(struct.pack("<i", len(tokens)))
        for t in tokens:
            f.write(struct.pack("<i", len(t)))
            f.write(t)
        for name, data in tensors.items():
            shape, ttype = expect[name]
            data = np.asarray(data).reshape(shape)
            data = data.astype("<f2" if ttype == GGML_F16 else "<f4")
            if not np.all(np.isfinite(data)):
                raise ValueError(f"{name}: non-finite values")
            raw = name.encode("utf-8")
            f.write(struct.pack("<iii", len(shape), len(raw), ttype))
            f.write(struct.pack(f"<{len(shape)}i", *reversed(shape)))
            f.write(raw)
            f.write(data.tobytes())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--assets", required=True, help="openai-whisper's whisper/assets directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("model", nargs="+", help="CTranslate2 model.bin, or its parts in order")
    a = ap.parse_args()
    buf = b"".join(open(p, "rb").read() for p in a.model)
    meta, v = read_ct2(buf)
    hp, tensors = convert(v)
    with np.load(os.path.join(a.assets, "mel_filters.npz")) as f:
        mel = f[f"mel_{hp['n_mels']}"]
    if mel.shape != (hp["n_mels"], 201):
        raise ValueError(f"mel filters shape {mel.shape}")
    tokens = load_vocab(a.assets, hp["n_vocab"])
    write_ggml(a.out, hp, mel, tokens, tensors)
    print(f"ct2_to_ggml: {a.out}: {meta['spec']} rev {meta['revision']}, "
          + ", ".join(f"{k}={hp[k]}" for k in HPARAM_NAMES[:-1])
          + f", {len(tensors)} tensors, {len(tokens)} vocab entries, {os.path.getsize(a.out)} bytes")


if __name__ == "__main__":
    main()
