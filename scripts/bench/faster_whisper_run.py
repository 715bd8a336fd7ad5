# Transcribes each channel of a recording with faster-whisper (CTranslate2)
# the way a user would: decode, its Silero VAD on each channel, Whisper with
# default decoding (beam 5, temperature fallback), one CPU thread. Prints one
# JSON line: the CPU seconds and wall time of loading and of transcribing,
# and the text per channel. Run by scripts/bench/compare_asr.py inside the
# faster-whisper venv.
# Usage: faster_whisper_run.py MODEL_DIR AUDIO LANGUAGE [COMPUTE_TYPE] [THREADS]
import json
import sys
import time


def main():
    model_dir, audio, language = sys.argv[1:4]
    compute_type = sys.argv[4] if len(sys.argv) > 4 else "int8"
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    c0, w0 = time.process_time(), time.perf_counter()
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    model = WhisperModel(model_dir, device="cpu", compute_type=compute_type,
                         cpu_threads=threads, num_workers=1, local_files_only=True)
    c1, w1 = time.process_time(), time.perf_counter()
    channels = decode_audio(audio, sampling_rate=16000, split_stereo=True)
    texts = []
    for pcm in channels:
        segments, _info = model.transcribe(pcm, language=language, vad_filter=True)
        texts.append("".join(s.text for s in segments).strip())  # the generator does the work
    c2, w2 = time.process_time(), time.perf_counter()
    print(json.dumps({"engine": "faster-whisper", "compute_type": compute_type, "threads": threads,
                      "load_cpu_s": c1 - c0, "load_wall_s": w1 - w0,
                      "transcribe_cpu_s": c2 - c1, "transcribe_wall_s": w2 - w1,
                      "audio_s": len(channels[0]) / 16000, "texts": texts}, ensure_ascii=False))


if __name__ == "__main__":
    main()
