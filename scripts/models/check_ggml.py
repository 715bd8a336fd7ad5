# Walks a whisper.cpp ggml model file and checks it is what whisper.cpp expects:
# magic, hparams, 80x201 mel filters, vocabulary, and every tensor's name, shape
# and type (no missing, extra or duplicate tensors, no trailing bytes).
# Usage: check_ggml.py FILE [--size BYTES] [--n-vocab N --n-state N --n-layer N]
import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from whisper_ggml import GGML_F16, GGML_F32, GGML_MAGIC, HPARAM_NAMES, expected_tensors  # noqa: E402


def fail(path, msg):
    sys.exit(f"check_ggml: {path}: {msg}")


def check(path, size=None, n_vocab=None, n_state=None, n_layer=None):
    buf = memoryview(open(path, "rb").read())
    if size is not None and len(buf) != size:
        fail(path, f"size {len(buf)} bytes, expected {size}")
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, buf, off)
        off += struct.calcsize("<" + fmt)
        return v

    (magic,) = take("i")
    if magic != GGML_MAGIC:
        fail(path, f"bad magic {magic:#x}")
    hp = dict(zip(HPARAM_NAMES, take("11i")))
    if hp["ftype"] != 1:
        fail(path, f"ftype {hp['ftype']}, expected 1 (f16)")
    for key, want in (("n_vocab", n_vocab), ("n_audio_state", n_state), ("n_text_state", n_state),
                      ("n_audio_layer", n_layer), ("n_text_layer", n_layer)):
        if want is not None and hp[key] != want:
            fail(path, f"{key} = {hp[key]}, expected {want}")
    mel_rows, mel_cols = take("2i")
    if (mel_rows, mel_cols) != (hp["n_mels"], 201):
        fail(path, f"mel filters {mel_rows}x{mel_cols}, expected {hp['n_mels']}x201")
    mel = np.frombuffer(buf, "<f4", mel_rows * mel_cols, off)
    off += mel.nbytes
    if not np.all(np.isfinite(mel)) or mel.min() < 0 or mel.max() <= 0:
        fail(path, "mel filters look wrong")
    (n_tok,) = take("i")
    tokens = []
    for _ in range(n_tok):
        (n,) = take("i")
        tokens.append(bytes(buf[off:off + n]))
        off += n
    multilingual = hp["n_vocab"] >= 51865
    want_tok = 50257  # multilingual: 50257 BPE ranks; .en: 50256 ranks + <|endoftext|>
    if n_tok != want_tok or len(set(tokens)) != n_tok:
        fail(path, f"{n_tok} vocabulary entries ({len(set(tokens))} distinct), expected {want_tok}")
    if not multilingual and tokens[50256] != b"<|endoftext|>":
        fail(path, f"English-only vocabulary must end with <|endoftext|>, got {tokens[50256]!r}")
    expect = expected_tensors(hp)
    seen = set()
    while off < len(buf):
        n_dims, name_len, ttype = take("3i")
        ne = take(f"{n_dims}i")
        name = bytes(buf[off:off + name_len]).decode("utf-8")
        off += name_len
        shape = tuple(reversed(ne))
        if name not in expect:
            fail(path, f"unexpected tensor {name}")
        if name in seen:
            fail(path, f"duplicate tensor {name}")
        seen.add(name)
        want_shape, want_type = expect[name]
        if shape != tuple(want_shape) or ttype != want_type:
            fail(path, f"{name}: shape {shape} type {ttype}, expected {tuple(want_shape)} type {want_type}")
        itemsize = 2 if ttype == GGML_F16 else 4
        nbytes = int(np.prod(shape)) * itemsize
        if off + nbytes > len(buf):
            fail(path, f"{name}: truncated")
        data = np.frombuffer(buf, "<f2" if ttype == GGML_F16 else "<f4", int(np.prod(shape)), off)
        if not np.all(np.isfinite(data)) or not np.any(data):
            fail(path, f"{name}: non-finite or all-zero data")
        off += nbytes
    missing = [n for n in expect if n not in seen]
    if missing:
        fail(path, f"{len(missing)} tensors missing, e.g. {missing[:3]}")
    n16 = sum(1 for t in expect.values() if t[1] == GGML_F16)
    print(f"check_ggml: {os.path.basename(path)} OK: {len(buf)} bytes, "
          f"{'multilingual' if multilingual else 'English-only'}, n_vocab {hp['n_vocab']}, "
          f"state {hp['n_audio_state']}, layers {hp['n_audio_layer']}+{hp['n_text_layer']}, "
          f"heads {hp['n_audio_head']}, {len(seen)} tensors ({n16} f16, {len(seen) - n16} f32)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--size", type=int)
    ap.add_argument("--n-vocab", type=int)
    ap.add_argument("--n-state", type=int)
    ap.add_argument("--n-layer", type=int)
    a = ap.parse_args()
    check(a.file, a.size, a.n_vocab, a.n_state, a.n_layer)


if __name__ == "__main__":
    main()
