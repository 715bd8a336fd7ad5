"""muggle-speech 0.1.1 on callqa's scored Mandarin clips (try-muggle-speech.sh).

The front end (pre-emphasis, 25 ms Hamming frames every 10 ms at 22,050 Hz,
40 mel bands in dB, mean-normalised) and the greedy encoder/decoder loop are
the package's own (muggle_speech/__init__.py), without its import-time
dependencies; audio is resampled to 22,050 Hz with scipy's polyphase filter
instead of resampy. One ONNX Runtime thread. Usage: muggle_run.py PKG_DIR EVAL_DIR
"""
import os
import re
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import onnxruntime as ort
from scipy.signal import resample_poly

PKG, EVAL = sys.argv[1], sys.argv[2]
scope = {}
exec(open(os.path.join(PKG, "label_map.py"), encoding="utf-8").read(), scope)
LABELS = scope["label_map"]
so = ort.SessionOptions()
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
ENC = ort.InferenceSession(os.path.join(PKG, "encoder.onnx"), so)
DEC = ort.InferenceSession(os.path.join(PKG, "decoder.onnx"), so)
SR = 22050


def read(path):
    raw = subprocess.run(["sox", path, "-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-"],
                         capture_output=True, check=True).stdout
    rate = int(subprocess.run(["soxi", "-r", path], capture_output=True, text=True, check=True).stdout)
    return np.frombuffer(raw, dtype=np.int16) / 32768.0, rate


def fbank(sig, sr):
    e = np.append(sig[0], sig[1:] - 0.97 * sig[:-1])
    fl, fs = int(round(0.025 * sr)), int(round(0.01 * sr))
    n = int(np.ceil(float(abs(len(e) - fl)) / fs))
    pad = np.append(e, np.zeros(n * fs + fl - len(e)))
    idx = np.tile(np.arange(fl), (n, 1)) + np.tile(np.arange(0, n * fs, fs), (fl, 1)).T
    frames = pad[idx.astype(np.int32)] * np.hamming(fl)
    nfft, nfilt = 512, 40
    power = (1.0 / nfft) * np.abs(np.fft.rfft(frames, nfft)) ** 2
    high = 2595 * np.log10(1 + (sr / 2) / 700)
    hz = 700 * (10 ** (np.linspace(0, high, nfilt + 2) / 2595) - 1)
    b = np.floor((nfft + 1) * hz / sr)
    bank = np.zeros((nfilt, nfft // 2 + 1))
    for m in range(1, nfilt + 1):
        lo, c, hi = int(b[m - 1]), int(b[m]), int(b[m + 1])
        for k in range(lo, c):
            bank[m - 1, k] = (k - b[m - 1]) / (b[m] - b[m - 1])
        for k in range(c, hi):
            bank[m - 1, k] = (b[m + 1] - k) / (b[m + 1] - b[m])
    f = power @ bank.T
    f = 20 * np.log10(np.where(f == 0, np.finfo(float).eps, f))
    f -= f.mean(axis=0) + 1e-8
    f = f.astype(np.float32)
    return ((f - f.mean()) / f.std())[None]


def recognise(sig, rate):
    r = Fraction(SR, rate)
    x = fbank(resample_poly(sig, r.numerator, r.denominator), SR)
    preds, states, mask, scores, ending = ENC.run(None, {"inputs": x})
    for _ in range(100):
        preds, scores, ending = DEC.run(None, {"preds": preds, "beam_enc_states": states,
                                               "beam_enc_mask": mask, "scores.1": scores,
                                               "ending_flag": ending})
        if ending.sum() == 1:
            break
    out = []
    for i in preds.reshape(-1).tolist()[1:]:
        if i == 0:
            break
        out.append(LABELS[int(i)])
    return "".join(out)


def errors(ref, hyp):
    keep = lambda s: re.sub(r"[^\u4e00-\u9fff0-9]", "", s)
    ref, hyp = keep(ref), keep(hyp)
    d = list(range(len(hyp) + 1))
    for i, a in enumerate(ref, 1):
        prev, d[0] = d[:], i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (a != h))
    return d[len(hyp)], len(ref)


refs = [line.rstrip("\n").split("\t") for line in open(os.path.join(EVAL, "refs.tsv"), encoding="utf-8")]
refs = [(r[0], r[2]) for r in refs if len(r) >= 3 and r[1] == "zh"]
print("model: muggle-speech 0.1.1 (greedy, 1 thread)")
for cond, folder in (("16k", "16k"), ("tel", "tel8k")):
    tot_e = tot_n = 0
    for clip, ref in refs:
        sig, rate = read(os.path.join(EVAL, folder, clip + ".wav"))
        t = time.process_time()
        hyp = recognise(sig, rate)
        cpu = time.process_time() - t
        e, n = errors(ref, hyp)
        tot_e, tot_n = tot_e + e, tot_n + n
        print(f"{cond}\t{clip}\tCER {100 * e / n:.1f} % ({e}/{n})\t{cpu:.2f} CPU-s for {len(sig) / rate:.1f} s\t{hyp}")
    print(f"{cond}\toverall\tCER {100 * tot_e / tot_n:.1f} % ({tot_e}/{tot_n})")
