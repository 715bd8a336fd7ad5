# Walks a whisper.cpp ggml model file and checks it is what whisper.cpp expects:
# magic, hparams, 80x201 mel filters, vocabulary, and every tensor's name, shape
# and type (no missing, extra or duplicate tensors, no trailing bytes).
# A quantised file (q8_0 / q5_0, from quantize_ggml.py) is checked the same way;
# with --reference F16_FILE its dequantised weights are also compared with the
# f16 file's (relative RMS error per tensor) and every other tensor must be
# byte-identical.
# Usage: check_ggml.py FILE [--size BYTES] [--n-vocab N --n-state N --n-layer N]
#                      [--reference F16_FILE [--max-rel-err E]]
import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from whisper_ggml import (GGML_F16, GGML_F32, GGML_MAGIC, GGML_QNT_VERSION, GGML_QNT_VERSION_FACTOR,  # noqa: E402
                          HPARAM_NAMES, QTYPE_BY_FTYPE, dequantize, expected_tensors, tensor_nbytes)


def fail(path, msg):
    sys.exit(f"check_ggml: {path}: {msg}")


def read_tensors(path):
    """{name: (ggml type, raw bytes)} of a ggml file's tensors (no checks)."""
    buf = memoryview(open(path, "rb").read())
    off = 4 + 44
    n_mel, n_fft = struct.unpack_from("<2i", buf, off)
    off += 8 + 4 * n_mel * n_fft
    (n_tok,) = struct.unpack_from("<i", buf, off)
    off += 4
    for _ in range(n_tok):
        off += 4 + struct.unpack_from("<i", buf, off)[0]
    out = {}
    while off < len(buf):
        n_dims, name_len, ttype = struct.unpack_from("<3i", buf, off)
        ne = struct.unpack_from(f"<{n_dims}i", buf, off + 12)
        off += 12 + 4 * n_dims
        name = bytes(buf[off:off + name_len]).decode()
        off += name_len
        nbytes = tensor_nbytes(ttype, ne)
        out[name] = (ttype, buf[off:off + nbytes])
        off += nbytes
    return out


# Default bounds on the relative RMS error of dequantised weights: about
# 4x what the real Whisper base and tiny.en weights show (q8_0 0.008-0.011, q5_0 ~0.06).
MAX_REL_ERR = {"q8_0": 0.03, "q5_0": 0.15}


def compare(path, reference, max_rel_err=None):
    q, ref = read_tensors(path), read_tensors(reference)
    if list(q) != list(ref):
        fail(path, f"tensor names/order differ from {reference}")
    worst, n_q = (0.0, ""), 0
    for name, (ttype, raw) in q.items():
        rtype, rraw = ref[name]
        if ttype in (GGML_F16, GGML_F32):
            if ttype != rtype or bytes(raw) != bytes(rraw):
                fail(path, f"{name}: not byte-identical to {reference}")
            continue
        n_q += 1
        r = np.frombuffer(rraw, "<f2" if rtype == GGML_F16 else "<f4").astype(np.float32)
        x = dequantize(ttype, raw, r.size)
        err = float(np.sqrt(np.mean((x - r) ** 2)) / max(np.sqrt(np.mean(r ** 2)), 1e-30))
        worst = max(worst, (err, name))
    if max_rel_err is None:
        hp = struct.unpack_from("<11i", open(path, "rb").read(48), 4)
        max_rel_err = MAX_REL_ERR[QTYPE_BY_FTYPE[hp[10] % GGML_QNT_VERSION_FACTOR][0]]
    if worst[0] > max_rel_err:
        fail(path, f"{worst[1]}: dequantised relative RMS error {worst[0]:.4f} > {max_rel_err}")
    print(f"check_ggml: {os.path.basename(path)} vs {os.path.basename(reference)}: {n_q} quantised tensors, "
          f"worst relative RMS error {worst[0]:.4f} ({worst[1]}); all other tensors byte-identical")


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
    qver, ftype = divmod(hp["ftype"], GGML_QNT_VERSION_FACTOR)
    if hp["ftype"] != 1 and not (qver == GGML_QNT_VERSION and ftype in QTYPE_BY_FTYPE):
        fail(path, f"ftype {hp['ftype']}, expected 1 (f16) or {GGML_QNT_VERSION}{GGML_QNT_VERSION_FACTOR}+7/8 (q8_0/q5_0)")
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
        nbytes = tensor_nbytes(ttype, ne)
        if off + nbytes > len(buf):
            fail(path, f"{name}: truncated")
        if ttype in (GGML_F16, GGML_F32):
            data = np.frombuffer(buf, "<f2" if ttype == GGML_F16 else "<f4", int(np.prod(shape)), off)
        else:
            data = dequantize(ttype, buf[off:off + nbytes], int(np.prod(shape)))
        if not np.all(np.isfinite(data)) or not np.any(data):
            fail(path, f"{name}: non-finite or all-zero data")
        off += nbytes
    missing = [n for n in expect if n not in seen]
    if missing:
        fail(path, f"{len(missing)} tensors missing, e.g. {missing[:3]}")
    n16 = sum(1 for t in expect.values() if t[1] == GGML_F16)
    nq = sum(1 for t in expect.values() if t[1] not in (GGML_F16, GGML_F32))
    kind = QTYPE_BY_FTYPE[ftype][0] if hp["ftype"] != 1 else "f16"
    print(f"check_ggml: {os.path.basename(path)} OK: {kind}, {len(buf)} bytes, "
          f"{'multilingual' if multilingual else 'English-only'}, n_vocab {hp['n_vocab']}, "
          f"state {hp['n_audio_state']}, layers {hp['n_audio_layer']}+{hp['n_text_layer']}, "
          f"heads {hp['n_audio_head']}, {len(seen)} tensors ({nq} {kind if nq else 'quantised'}, {n16} f16, "
          f"{len(seen) - n16 - nq} f32)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--size", type=int)
    ap.add_argument("--n-vocab", type=int)
    ap.add_argument("--n-state", type=int)
    ap.add_argument("--n-layer", type=int)
    ap.add_argument("--reference", help="the f16 file a quantised FILE was made from")
    ap.add_argument("--max-rel-err", type=float, help="default: 0.03 for q8_0, 0.15 for q5_0")
    a = ap.parse_args()
    check(a.file, a.size, a.n_vocab, a.n_state, a.n_layer)
    if a.reference:
        compare(a.file, a.reference, a.max_rel_err)


if __name__ == "__main__":
    main()
