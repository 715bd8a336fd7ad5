//! Speech recognition speed on a dual-channel call of over a minute,
//! synthesised with espeak-ng (scripts/synth-call.sh, 8 kHz µ-law WAV as
//! telephony records it): the real-time factor of the whole call path
//! (`Engine::process`: decode, voice activity detection, Whisper per
//! channel, turns, analysers, scorecard) and of plain whisper.cpp on the
//! same two channels (whole signal, no voice activity detection), plus
//! the process's peak memory. Run: `scripts/bench-asr.sh` (or `cargo bench
//! --bench asr`); `CALLQA_BENCH_RUNS` sets the runs per figure (3),
//! `CALLQA_ASR_MODEL` the model (ggml-base.bin).
//! The floors: ≥ 5× real time for base, ≤ 1 GiB peak memory.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use callqa::decode::{decode_file, DecodeOptions};
use callqa::domain::{ChannelMap, Language, LanguageChoice};
use callqa::intake::{bare_recording, BareRecording};
use callqa::pipeline::{Engine, EngineOptions};
use callqa::transcribe::{AsrOptions, Transcriber};

const SCRIPT: &str = "\
agent\t0.6\ten-us\tThank you for calling Acme support, this is Anna speaking. How can I help you today?
customer\t+0.7\ten-gb\tHi. I ordered a coffee machine two weeks ago and it arrived broken, the glass jug was cracked.
agent\t+0.6\ten-us\tI am sorry to hear that. Could you give me your order number please?
customer\t+0.7\ten-gb\tYes, it is on the email. The order was placed on the third of November.
agent\t+0.5\ten-us\tThank you. Let me have a look at your order.
customer\t+8\ten-gb\tHello? Are you still there? I have been waiting for a while now.
agent\t-1.5\ten-us\tYes, I am here. I can see the order. I will arrange a replacement for you.
customer\t+0.7\ten-gb\tWill I have to send the broken one back first?
agent\t+0.6\ten-us\tNo, the courier will collect it when they deliver the new machine.
customer\t+0.7\ten-gb\tThat is good. When will it arrive?
agent\t+0.6\ten-us\tIt will be sent out tomorrow and should arrive on Thursday.
customer\t+0.7\ten-gb\tPerfect, thank you very much for your help.
agent\t+0.6\ten-us\tYou are welcome. Is there anything else I can help you with today?
customer\t+0.7\ten-gb\tNo, that is all. Goodbye.
agent\t+0.5\ten-us\tThank you for calling Acme. Have a nice day.
";

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let runs: usize = std::env::var("CALLQA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let mut asr = AsrOptions::default();
    if let Ok(m) = std::env::var("CALLQA_ASR_MODEL") {
        asr.model = m.into();
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("call.tsv");
    std::fs::write(&script, SCRIPT).expect("write script");
    let wav = dir.path().join("call.wav");
    let ok = Command::new(repo.join("scripts/synth-call.sh"))
        .arg(&script)
        .arg(&wav)
        .args(["--rate", "8000", "--encoding", "mu-law"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/synth-call.sh (needs espeak-ng and sox: scripts/setup.sh --test)");
    assert!(ok.success(), "scripts/synth-call.sh failed");
    let audio = decode_file(&wav, &DecodeOptions::default()).expect("decode");
    let secs = audio.duration;
    assert!(
        secs >= 60.0,
        "the bench call must last at least 60 s, not {secs:.1}"
    );

    // One job at a time, all cores to it (workers = 1).
    let engine = Engine::load(&EngineOptions {
        rules_dir: repo.join("rules"),
        models_dir: repo.join("models"),
        rules_only: true,
        workers: 1,
        asr: asr.clone(),
    })
    .expect("engine loads (scripts/fetch-models.sh)");
    let job = bare_recording(
        &wav,
        &BareRecording {
            agent: "bench".into(),
            language: LanguageChoice::Fixed(Language::En),
            channels: ChannelMap::Default,
        },
    )
    .expect("job");
    // Warm-up: loads the model.
    let first = engine.process(&job).expect("call scored");
    let mut path_times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let r = engine.process(&job).expect("call scored");
        path_times.push(t.elapsed().as_secs_f64());
        assert_eq!(r.turns.len(), first.turns.len());
    }

    let t = Transcriber::load(&repo.join("models"), &asr, 1).expect("model loads");
    let mut plain_times = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        for ch in &audio.channels {
            t.transcribe_plain(ch, Language::En).expect("plain whisper");
        }
        plain_times.push(t0.elapsed().as_secs_f64());
    }

    let (path, plain) = (median(path_times), median(plain_times));
    println!("call: {secs:.1} s, 2 channels, 8 kHz mu-law; model {}; {cores} cores; {runs} runs (median)", asr.model.display());
    println!(
        "turns: {}, flags: {}",
        first.turns.len(),
        first.analysis.flags.len()
    );
    println!(
        "whole call path (decode + VAD + Whisper per channel + rules + score): {path:.2} s = {:.1}x real time",
        secs / path
    );
    println!(
        "plain whisper.cpp on both whole channels (no VAD):                   {plain:.2} s = {:.1}x real time",
        secs / plain
    );
    println!("peak memory (VmHWM): {:.0} MiB", peak_rss_mib());
}
