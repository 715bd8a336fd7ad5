#!/usr/bin/env python3
"""callqa's call path against faster-whisper on the same dual-channel
8 kHz mu-law calls, in one run (scripts/bench-asr.sh runs it).

For each call: sox converts it to a stereo 8 kHz G.711 mu-law WAV (as
telephony records it); then, back to back and alternating, `callqa analyze
--rules-only` (decode, VAD, Whisper per channel, rules, score; one ASR
thread, one job) and faster-whisper (its VAD per channel, CTranslate2,
one thread) each run as a child process. CPU seconds (user + system, from
the child's rusage), wall time and peak memory are per whole process; the
faster-whisper line also gives its transcription alone (without Python
start-up and model load). Figures are medians over the runs, with the load
average before and after, since other work on a shared machine skews them.

RTF = seconds of processing / seconds of audio (lower is faster);
speed = audio / processing ("x real time").

Usage: compare_asr.py --callqa BIN --models DIR --fw-python PY --fw-model DIR
                      [--runs N] [--compute-type int8] NAME=PATH:LANG ...
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(cmd, env=None):
    """Run cmd as a child; return (rc, stdout, stderr, cpu_s, wall_s, peak_rss_mib) from its rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss / 1024)


def duration(path):
    out = subprocess.run(["soxi", "-D", path], capture_output=True, text=True, check=True).stdout
    return float(out)


def callqa_once(a, wav, lang):
    # callqa's default threads ([asr] threads = 0: one per window, or every
    # core for a lone job's dominant window); CALLQA_ASR_THREADS set in the
    # environment overrides it (1 gives the old one-thread-per-window split).
    env = dict(os.environ, CALLQA_ASR_MODEL=a.model, RUST_LOG="warn")
    cmd = [a.callqa, "analyze", wav, "--language", lang, "--rules-only", "--no-store", "--json",
           "--concurrency", "1", "--models", a.models]
    rc, out, err, cpu, wall, rss = run(cmd, env)
    if rc != 0:
        sys.exit(f"compare_asr: callqa failed ({rc}):\n{err[-2000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    by = {}
    for t in res.get("turns", []):
        by.setdefault(t.get("speaker", "?"), []).append(t.get("text", ""))
    texts = [" ".join(by[k]) for k in sorted(by)]
    return {"cpu": cpu, "wall": wall, "rss": rss, "texts": texts}


def fw_once(a, wav, lang):
    cmd = [a.fw_python, os.path.join(HERE, "faster_whisper_run.py"), a.fw_model, wav, lang, a.compute_type, "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    rc, out, err, cpu, wall, rss = run(cmd, env)
    if rc != 0:
        sys.exit(f"compare_asr: faster-whisper failed ({rc}):\n{err[-2000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    return {"cpu": cpu, "wall": wall, "rss": rss, "tcpu": res["transcribe_cpu_s"], "twall": res["transcribe_wall_s"],
            "texts": res["texts"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--callqa", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--model", default="ggml-base.bin", help="callqa's Whisper model (CALLQA_ASR_MODEL)")
    ap.add_argument("--fw-python", required=True)
    ap.add_argument("--fw-model", required=True)
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("calls", nargs="+", help="NAME=PATH:LANG")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="callqa-compare-")
    summary = []
    for spec in a.calls:
        name, rest = spec.split("=", 1)
        src, lang = rest.rsplit(":", 1)
        wav = os.path.join(tmp, name + ".wav")
        subprocess.run(["sox", "-D", "-q", src, "-r", "8000", "-c", "2", "-e", "mu-law", "-b", "8", wav], check=True)
        dur = duration(wav)
        la0 = loadavg()
        cq, fw = [], []
        for _ in range(max(1, a.runs)):
            cq.append(callqa_once(a, wav, lang))
            fw.append(fw_once(a, wav, lang))
        la1 = loadavg()
        med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
        c_cpu, c_wall, c_rss = med(cq, "cpu"), med(cq, "wall"), max(x["rss"] for x in cq)
        f_cpu, f_wall, f_tcpu, f_rss = med(fw, "cpu"), med(fw, "wall"), med(fw, "tcpu"), max(x["rss"] for x in fw)
        print(f"\n{name}: {dur:.1f} s, 2 channels, 8 kHz G.711 mu-law, language {lang}; "
              f"{len(cq)} run(s) each, medians; load average before {la0}, after {la1}")
        threads = os.environ.get("CALLQA_ASR_THREADS", "default")
        print(f"  callqa analyze --rules-only ({os.path.basename(a.model)}, ASR threads {threads}): "
              f"CPU {c_cpu:6.2f} s  wall {c_wall:6.2f} s  RTF(CPU) {c_cpu / dur:.3f}  "
              f"= {dur / c_cpu:5.2f}x real time per CPU-second, {dur / c_wall:5.2f}x by wall; peak {c_rss:.0f} MiB")
        print(f"  faster-whisper ({a.compute_type}, 1 thread, VAD):            "
              f"CPU {f_cpu:6.2f} s  wall {f_wall:6.2f} s  RTF(CPU) {f_cpu / dur:.3f}  "
              f"= {dur / f_cpu:5.2f}x real time per CPU-second, {dur / f_wall:5.2f}x by wall; peak {f_rss:.0f} MiB "
              f"(transcription alone: CPU {f_tcpu:.2f} s, RTF {f_tcpu / dur:.3f})")
        print(f"  ratio callqa / faster-whisper: CPU {c_cpu / f_cpu:.2f}x, wall {c_wall / f_wall:.2f}x "
              f"(> 1: callqa is slower)")
        for label, r in (("callqa", cq[-1]), ("faster-whisper", fw[-1])):
            for i, t in enumerate(r["texts"]):
                print(f"    {label:14} ch{i}: {t[:110]}{'…' if len(t) > 110 else ''}")
        summary.append({"call": name, "audio_s": dur, "callqa_cpu_s": c_cpu, "callqa_wall_s": c_wall,
                        "fw_cpu_s": f_cpu, "fw_wall_s": f_wall, "fw_transcribe_cpu_s": f_tcpu,
                        "cpu_ratio": c_cpu / f_cpu, "callqa_peak_mib": c_rss, "fw_peak_mib": f_rss, "loadavg_before": la0, "loadavg_after": la1})
    print("\nsummary: " + json.dumps(summary))


if __name__ == "__main__":
    main()
