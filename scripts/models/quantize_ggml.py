# Quantises a whisper.cpp ggml model file (f16, as ct2_to_ggml.py writes it)
# to q8_0 or q5_0 exactly as whisper.cpp's examples/quantize does:
#   - header ftype becomes GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + ftype
#     (2 * 1000 + 7 for q8_0, + 8 for q5_0); mel filters and vocabulary copied;
#   - every 2-D tensor is quantised except encoder.conv1.bias,
#     encoder.conv2.bias and both positional embeddings (whisper.cpp's to_skip
#     list); 1-D and 3-D tensors (conv weights) are copied as they are;
#   - blocks of 32 along a row, ggml-quants.c quantize_row_q8_0_ref /
#     quantize_row_q5_0_ref arithmetic in float32 (fp16 values widened first):
#       q8_0 {f16 d; i8 qs[32]}:        d = amax/127, q = roundf(x/d)
#       q5_0 {f16 d; u8 qh[4]; u8 qs[16]}: d = max/-16 (max = signed value of
#            largest magnitude, first one), q = min(31, (int)(x/d + 16.5)),
#            low nibbles j | j+16 << 4, fifth bits in qh (bit j and j+16).
# Usage: quantize_ggml.py IN.bin OUT.bin {q8_0|q5_0}
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from whisper_ggml import (GGML_F16, GGML_F32, GGML_MAGIC, GGML_QNT_VERSION, GGML_QNT_VERSION_FACTOR,  # noqa: E402
                          QTYPES, QUANT_SKIP, tensor_nbytes)

QK = 32


def roundf(x):
    """C roundf (half away from zero) of float32 values, exactly (via float64)."""
    a = np.floor(np.abs(x).astype(np.float64) + 0.5)
    return np.copysign(a, x)


def quantize_q8_0(x):
    x = x.reshape(-1, QK).astype(np.float32)
    amax = np.max(np.abs(x), axis=1)
    d = amax / np.float32(127)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    q = roundf(x * inv[:, None]).astype(np.int8)
    out = np.empty(len(x), dtype=[("d", "<f2"), ("qs", "i1", (QK,))])
    out["d"] = d.astype(np.float16)
    out["qs"] = q
    return out.tobytes()


def quantize_q5_0(x):
    x = x.reshape(-1, QK).astype(np.float32)
    ax = np.abs(x)
    amax = ax.max(axis=1)
    mx = x[np.arange(len(x)), np.argmax(ax, axis=1)]  # first value of largest magnitude
    mx = np.where(amax > 0, mx, np.float32(0)).astype(np.float32)  # C keeps +0.0 when nothing beats 0
    d = (mx / np.float32(-16)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    t = (x * inv[:, None]).astype(np.float32) + np.float32(16.5)
    xi = np.minimum(31, np.trunc(t)).astype(np.uint8)  # (int8_t) cast: truncation; t >= 0 here
    lo, hi = xi[:, :QK // 2], xi[:, QK // 2:]
    qs = (lo & 0x0F) | ((hi & 0x0F) << 4)
    bits = np.concatenate([(lo >> 4) & 1, (hi >> 4) & 1], axis=1).astype(np.uint32)
    qh = (bits << np.arange(QK, dtype=np.uint32)).sum(axis=1, dtype=np.uint32)
    out = np.empty(len(x), dtype=[("d", "<f2"), ("qh", "<u4"), ("qs", "u1", (QK // 2,))])
    out["d"] = d.astype(np.float16)
    out["qh"] = qh
    out["qs"] = qs
    return out.tobytes()


QUANTIZE = {"q8_0": quantize_q8_0, "q5_0": quantize_q5_0}


def quantize_file(src, dst, qname):
    qtype, ftype = QTYPES[qname]
    buf = memoryview(open(src, "rb").read())
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, buf, off)
        off += struct.calcsize("<" + fmt)
        return v

    (magic,) = take("i")
    hp = list(take("11i"))
    if magic != GGML_MAGIC or hp[10] != 1:
        raise SystemExit(f"quantize_ggml: {src}: not an f16 ggml Whisper model (magic {magic:#x}, ftype {hp[10]})")
    n_mel, n_fft = take("2i")
    off += 4 * n_mel * n_fft
    (n_tok,) = take("i")
    for _ in range(n_tok):
        (n,) = take("i")
        off += n
    tmp = dst + ".tmp"
    n_q = n_copy = 0
    with open(tmp, "wb") as f:
        f.write(struct.pack("<i", magic))
        f.write(struct.pack("<11i", *hp[:10], GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + ftype))
        f.write(buf[4 + 44:off])  # mel filters and vocabulary, verbatim
        while off < len(buf):
            n_dims, name_len, ttype = take("3i")
            ne = take(f"{n_dims}i")
            name = bytes(buf[off:off + name_len])
            off += name_len
            n = int(np.prod(ne))
            nbytes = tensor_nbytes(ttype, ne)
            data = buf[off:off + nbytes]
            off += nbytes
            quant = n_dims == 2 and name.decode() not in QUANT_SKIP
            if quant:
                if ttype not in (GGML_F16, GGML_F32) or ne[0] % QK:
                    raise SystemExit(f"quantize_ggml: {name.decode()}: cannot quantise type {ttype} shape {ne}")
                x = np.frombuffer(data, "<f2" if ttype == GGML_F16 else "<f4", n).astype(np.float32)
                data = QUANTIZE[qname](x)
                ttype = qtype
                n_q += 1
            else:
                n_copy += 1
            f.write(struct.pack(f"<3i{n_dims}i", n_dims, name_len, ttype, *ne))
            f.write(name)
            f.write(data)
    os.replace(tmp, dst)
    print(f"quantize_ggml: {dst}: {qname} (ftype {GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + ftype}), "
          f"{n_q} tensors quantised, {n_copy} copied, {os.path.getsize(dst)} bytes")


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in QUANTIZE:
        raise SystemExit("usage: quantize_ggml.py IN.bin OUT.bin {q8_0|q5_0}")
    quantize_file(*sys.argv[1:])


if __name__ == "__main__":
    main()
