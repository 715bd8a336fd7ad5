# Shared helpers for the Whisper CTranslate2 -> whisper.cpp ggml conversion
# and its checker: CTranslate2 model.bin reader, expected ggml tensor list.
import struct

import numpy as np

# CTranslate2 binary format (specs/model_spec.py, binary version 6):
# u32 version, str spec name, u32 revision, u32 n_vars, then per variable
# str name, u8 rank, u32 dims[rank], u8 dtype, u32 nbytes, raw data;
# then u32 n_aliases and (str alias, str target) pairs. str = u16 len+1, utf8, NUL.
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}

GGML_MAGIC = 0x67676D6C
GGML_F32, GGML_F16 = 0, 1
# Quantised types (ggml_type ids) and file types (ggml_ftype), as whisper.cpp's
# examples/quantize writes them: the header's ftype is
# GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + ggml_ftype.
GGML_Q5_0, GGML_Q8_0 = 6, 8
GGML_QNT_VERSION, GGML_QNT_VERSION_FACTOR = 2, 1000
QTYPES = {"q8_0": (GGML_Q8_0, 7), "q5_0": (GGML_Q5_0, 8)}  # name: (ggml_type, ggml_ftype)
QTYPE_BY_FTYPE = {ft: (name, t) for name, (t, ft) in QTYPES.items()}
# Block of 32 values: q8_0 {f16 d; i8 qs[32]}, q5_0 {f16 d; u8 qh[4]; u8 qs[16]}
BLOCK_BYTES = {GGML_Q8_0: 34, GGML_Q5_0: 22}
# 2-D tensors whisper.cpp's quantize leaves alone (its to_skip list)
QUANT_SKIP = ("encoder.conv1.bias", "encoder.conv2.bias",
              "encoder.positional_embedding", "decoder.positional_embedding")


def tensor_nbytes(ttype, ne):
    n = 1
    for x in ne:
        n *= x
    if ttype in BLOCK_BYTES:
        return n // 32 * BLOCK_BYTES[ttype]
    return n * {GGML_F32: 4, GGML_F16: 2}[ttype]


def dequantize(ttype, raw, n):
    """float32 values of a q8_0 / q5_0 tensor's raw bytes (ggml's dequantize_row_*)."""
    if ttype == GGML_Q8_0:
        b = np.frombuffer(raw, dtype=[("d", "<f2"), ("qs", "i1", (32,))], count=n // 32)
        return (b["d"].astype(np.float32)[:, None] * b["qs"].astype(np.float32)).reshape(-1)
    if ttype == GGML_Q5_0:
        b = np.frombuffer(raw, dtype=[("d", "<f2"), ("qh", "<u4"), ("qs", "u1", (16,))], count=n // 32)
        lo = np.concatenate([b["qs"] & 0x0F, b["qs"] >> 4], axis=1).astype(np.int32)
        hi = ((b["qh"][:, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int32) << 4
        return (b["d"].astype(np.float32)[:, None] * ((lo | hi) - 16).astype(np.float32)).reshape(-1)
    raise ValueError(f"not a quantised type: {ttype}")


def read_ct2(buf):
    """Parse a CTranslate2 model.bin held in `buf` (bytes); return (meta, {name: ndarray})."""
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, buf, off)
        off += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal off
        n = take("H")
        s = bytes(buf[off:off + n - 1]).decode("utf-8")
        off += n
        return s

    version = take("I")
    if version != 6:
        raise ValueError(f"unsupported CTranslate2 binary version {version} (want 6)")
    spec, revision = string(), take("I")
    if spec != "WhisperSpec":
        raise ValueError(f"not a Whisper model: spec {spec!r}")
    variables = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype_id, nbytes = take("B"), take("I")
        if dtype_id not in CT2_DTYPES:
            raise ValueError(f"{name}: unsupported CTranslate2 dtype id {dtype_id}")
        arr = np.frombuffer(buf, dtype=CT2_DTYPES[dtype_id], count=nbytes // np.dtype(CT2_DTYPES[dtype_id]).itemsize, offset=off)
        variables[name] = arr.reshape(shape)
        off += nbytes
    for _ in range(take("I")):
        alias, target = string(), string()
        variables.setdefault(alias, variables[target])
    if off != len(buf):
        raise ValueError(f"trailing bytes in CTranslate2 model: parsed {off} of {len(buf)}")
    return {"spec": spec, "revision": revision}, variables


def expected_tensors(hp):
    """Ordered {name: (numpy shape, ggml type)} whisper.cpp expects for hparams `hp`
    (same names, shapes and types as convert-pt-to-ggml.py writes for an f16 model;
    for a quantised ftype, the 2-D f16 weights have the quantised type)."""
    t = _expected_f16(hp)
    if hp["ftype"] == 1:
        return t
    _, qtype = QTYPE_BY_FTYPE[hp["ftype"] % GGML_QNT_VERSION_FACTOR]
    return {k: (shape, qtype if ty == GGML_F16 and len(shape) == 2 else ty) for k, (shape, ty) in t.items()}


def _expected_f16(hp):
    na, nt = hp["n_audio_state"], hp["n_text_state"]
    t = {}

    def block(prefix, n, cross):
        t[f"{prefix}.attn.query.weight"] = ((n, n), GGML_F16)
        t[f"{prefix}.attn.query.bias"] = ((n,), GGML_F32)
        t[f"{prefix}.attn.key.weight"] = ((n, n), GGML_F16)
        t[f"{prefix}.attn.value.weight"] = ((n, n), GGML_F16)
        t[f"{prefix}.attn.value.bias"] = ((n,), GGML_F32)
        t[f"{prefix}.attn.out.weight"] = ((n, n), GGML_F16)
        t[f"{prefix}.attn.out.bias"] = ((n,), GGML_F32)
        t[f"{prefix}.attn_ln.weight"] = ((n,), GGML_F32)
        t[f"{prefix}.attn_ln.bias"] = ((n,), GGML_F32)
        if cross:
            t[f"{prefix}.cross_attn.query.weight"] = ((n, n), GGML_F16)
            t[f"{prefix}.cross_attn.query.bias"] = ((n,), GGML_F32)
            t[f"{prefix}.cross_attn.key.weight"] = ((n, n), GGML_F16)
            t[f"{prefix}.cross_attn.value.weight"] = ((n, n), GGML_F16)
            t[f"{prefix}.cross_attn.value.bias"] = ((n,), GGML_F32)
            t[f"{prefix}.cross_attn.out.weight"] = ((n, n), GGML_F16)
            t[f"{prefix}.cross_attn.out.bias"] = ((n,), GGML_F32)
            t[f"{prefix}.cross_attn_ln.weight"] = ((n,), GGML_F32)
            t[f"{prefix}.cross_attn_ln.bias"] = ((n,), GGML_F32)
        t[f"{prefix}.mlp.0.weight"] = ((4 * n, n), GGML_F16)
        t[f"{prefix}.mlp.0.bias"] = ((4 * n,), GGML_F32)
        t[f"{prefix}.mlp.2.weight"] = ((n, 4 * n), GGML_F16)
        t[f"{prefix}.mlp.2.bias"] = ((n,), GGML_F32)
        t[f"{prefix}.mlp_ln.weight"] = ((n,), GGML_F32)
        t[f"{prefix}.mlp_ln.bias"] = ((n,), GGML_F32)

    t["encoder.positional_embedding"] = ((hp["n_audio_ctx"], na), GGML_F32)
    t["encoder.conv1.weight"] = ((na, hp["n_mels"], 3), GGML_F16)
    t["encoder.conv1.bias"] = ((na, 1), GGML_F32)
    t["encoder.conv2.weight"] = ((na, na, 3), GGML_F16)
    t["encoder.conv2.bias"] = ((na, 1), GGML_F32)
    for i in range(hp["n_audio_layer"]):
        block(f"encoder.blocks.{i}", na, cross=False)
    t["encoder.ln_post.weight"] = ((na,), GGML_F32)
    t["encoder.ln_post.bias"] = ((na,), GGML_F32)
    t["decoder.positional_embedding"] = ((hp["n_text_ctx"], nt), GGML_F32)
    t["decoder.token_embedding.weight"] = ((hp["n_vocab"], nt), GGML_F16)
    for i in range(hp["n_text_layer"]):
        block(f"decoder.blocks.{i}", nt, cross=True)
    t["decoder.ln.weight"] = ((nt,), GGML_F32)
    t["decoder.ln.bias"] = ((nt,), GGML_F32)
    return t


HPARAM_NAMES = ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
                "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype")
