//! Calls end to end with the real Whisper model: recordings synthesised in
//! the test with espeak-ng and sox (scripts/synth-call.sh), decoded,
//! transcribed per channel, merged into turns, analysed and scored, and
//! stored. Needs models/ggml-base-q8_0.bin (scripts/fetch-models.sh) and
//! espeak-ng + sox (scripts/setup.sh --test); a missing one fails the test
//! with the command that provides it.

mod speech_eval;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use callqa::intake::IntakeOptions;
use callqa::pipeline::{Engine, EngineOptions, Outcome, Pipeline};
use callqa::store::Store;
use callqa::wire::ResultWire;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One scripted utterance as synthesised: speaker, start, end, text.
#[derive(Debug, Clone)]
struct Line {
    speaker: String,
    start: f64,
    end: f64,
    text: String,
}

/// Synthesises `script` (synth-call.sh format) into `out`.
fn synth(script: &str, out: &Path, extra: &[&str]) -> Vec<Line> {
    let dir = out.parent().expect("dir");
    let script_path = dir.join(format!(
        "{}.tsv",
        out.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(&script_path, script).unwrap();
    let o = Command::new(repo().join("scripts/synth-call.sh"))
        .arg(&script_path)
        .arg(out)
        .args(extra)
        .output()
        .expect("run scripts/synth-call.sh");
    assert!(
        o.status.success(),
        "scripts/synth-call.sh failed (run scripts/setup.sh --test for espeak-ng and sox): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Line {
                speaker: f[0].to_owned(),
                start: f[1].parse().unwrap(),
                end: f[2].parse().unwrap(),
                text: f[3].to_owned(),
            }
        })
        .collect()
}

async fn pipeline(dir: &Path) -> Pipeline {
    pipeline_with(dir, None).await
}

/// As [`pipeline`], with `[privacy]` settings (default: text only, no
/// redacted recordings written).
async fn pipeline_with(dir: &Path, privacy: Option<callqa::redact::PrivacyOptions>) -> Pipeline {
    pipeline_on(dir, &repo().join("models"), privacy).await
}

/// As [`pipeline_with`], with the models in `models`.
async fn pipeline_on(
    dir: &Path,
    models: &Path,
    privacy: Option<callqa::redact::PrivacyOptions>,
) -> Pipeline {
    let model = models.join("ggml-base-q8_0.bin");
    assert!(
        model.is_file(),
        "{} is missing: run scripts/fetch-models.sh",
        model.display()
    );
    // Rules only: the text models have their own tests (tests/models.rs);
    // these are about speech.
    let engine = Engine::load(&EngineOptions {
        rules_dir: repo().join("rules"),
        models_dir: models.to_path_buf(),
        rules_only: true,
        workers: 1,
        asr: Default::default(),
    })
    .expect("engine loads");
    let engine = match privacy {
        Some(p) => engine.with_privacy(p),
        None => engine,
    };
    let store = Store::connect(&format!("sqlite://{}", dir.join("calls.db").display()))
        .await
        .expect("store");
    Pipeline::new(
        Arc::new(engine),
        store,
        IntakeOptions {
            recording_roots: vec![dir.to_path_buf()],
        },
        1,
    )
}

fn call_job(id: &str, recording: &str, language: &str, channels: Option<&str>) -> String {
    let channels = channels
        .map(|c| format!(r#", "channels": {c}"#))
        .unwrap_or_default();
    format!(
        r#"{{"id": "{id}", "kind": "call", "language": "{language}",
            "agent": {{"id": "a-007", "name": "Anna", "team": "care"}},
            "recording": {{"path": "{recording}"{channels}}},
            "metadata": {{"channel": "phone"}}}}"#
    )
}

async fn run(p: &Pipeline, json: String) -> Outcome {
    p.run_json("test", json.into_bytes())
        .await
        .expect("no transient error")
}

async fn scored(p: &Pipeline, json: String) -> ResultWire {
    match run(p, json).await {
        Outcome::Done { result, .. } => *result,
        Outcome::Failed(f) => panic!("job rejected: {}", f.reason),
    }
}

/// `file` in `dir`, a mono recording (`"channels": "mixed"`), scored by a
/// pipeline on `dir`.
async fn scored_mono(dir: &Path, id: &str, file: &str, language: &str) -> ResultWire {
    let p = pipeline(dir).await;
    scored(&p, call_job(id, file, language, Some(r#""mixed""#))).await
}

fn flags_of<'a>(r: &'a ResultWire, id: &str) -> Vec<&'a callqa::wire::result::FlagWire> {
    r.flags.iter().filter(|f| f.id.as_str() == id).collect()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate: word-level edit distance over the reference length.
fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (words(reference), words(hypothesis));
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rw != hw))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len().max(1) as f64
}

#[test]
fn word_error_rate_is_edit_distance_over_reference_words() {
    let cases = [
        ("the cat sat", "the cat sat", 0.0),
        ("the cat sat", "The cat, sat.", 0.0),
        ("the cat sat", "the bat sat", 1.0 / 3.0),
        ("the cat sat on", "the cat", 0.5),
        ("a b", "a x b y", 1.0),
    ];
    for (r, h, want) in cases {
        assert!((wer(r, h) - want).abs() < 1e-9, "{r:?} vs {h:?}");
    }
}

// A support call with a 12-second hold in silence and the agent talking
// over the customer for 2 seconds.
const DUAL_CHANNEL_SCRIPT: &str = "\
agent\t0.5\ten-us\tThank you for calling Acme support, my name is Anna. How can I help you today?
customer\t+0.6\ten-gb\tHi, my parcel was supposed to arrive on Monday and it still has not come.
agent\t+0.5\ten-us\tI am sorry to hear that. Let me check the tracking for you.
customer\t+12\ten-gb\tHello? Are you still there? I have been waiting a long time and I really need this parcel before the weekend.
agent\t-2\ten-us\tYes, sorry, the courier has it and it will be delivered tomorrow morning.
customer\t+0.8\ten-gb\tGood, thank you very much for your help.
agent\t+0.6\ten-us\tYou are welcome. Is there anything else I can help you with?
customer\t+0.5\ten-gb\tNo, that is all. Goodbye.
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_channel_call_is_transcribed_attributed_and_timed() {
    let dir = tempfile::tempdir().unwrap();
    let lines = synth(DUAL_CHANNEL_SCRIPT, &dir.path().join("call.wav"), &[]);
    let p = pipeline(dir.path()).await;
    let r = scored(&p, call_job("call-en-1", "call.wav", "en", None)).await;

    assert_eq!(r.attribution, callqa::domain::Attribution::Channels);
    assert_eq!(r.language, callqa::domain::Language::En);

    // Word error rate of the whole call against its script.
    let reference: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    let hypothesis: Vec<&str> = r.turns.iter().map(|t| t.text.as_str()).collect();
    let w = wer(&reference.join(" "), &hypothesis.join(" "));
    eprintln!(
        "word error rate {w:.3} over {} reference words",
        words(&reference.join(" ")).len()
    );
    assert!(
        w <= 0.15,
        "WER {w:.3} > 0.15\nref: {}\nhyp: {}",
        reference.join(" | "),
        hypothesis.join(" | ")
    );

    // Every turn belongs to the speaker whose scripted line it overlaps most.
    for t in &r.turns {
        let best = lines
            .iter()
            .filter(|l| l.speaker == t.speaker.as_str())
            .map(|l| (t.end.min(l.end) - t.start.max(l.start)).max(0.0))
            .fold(0.0, f64::max);
        let other = lines
            .iter()
            .filter(|l| l.speaker != t.speaker.as_str())
            .map(|l| (t.end.min(l.end) - t.start.max(l.start)).max(0.0))
            .fold(0.0, f64::max);
        assert!(
            best > 0.0 && best >= other,
            "turn {t:?} is not the {}'s speech",
            t.speaker
        );
    }
    let agent_text: String = r
        .turns
        .iter()
        .filter(|t| t.speaker == callqa::domain::Speaker::Agent)
        .map(|t| t.text.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(agent_text.contains("tracking"), "{agent_text}");
    assert!(
        !agent_text.contains("parcel was supposed"),
        "customer words in agent turns: {agent_text}"
    );

    // The 12-second hold: long_silence spanning the gap to ±0.5 s.
    let silences = flags_of(&r, "long_silence");
    assert_eq!(silences.len(), 1, "flags: {:?}", r.flags);
    let ev = &silences[0].evidence[0];
    assert!(
        (ev.start - lines[2].end).abs() <= 0.5 && (ev.end - lines[3].start).abs() <= 0.5,
        "silence {:.2}–{:.2}, expected {:.2}–{:.2}",
        ev.start,
        ev.end,
        lines[2].end,
        lines[3].start
    );

    // The agent's answer starts 2 s before the customer finishes.
    let talk_over = flags_of(&r, "interruption");
    assert_eq!(talk_over.len(), 1, "flags: {:?}", r.flags);
    let ev = &talk_over[0].evidence[0];
    assert_eq!(ev.speaker, Some(callqa::domain::Speaker::Agent));
    assert!(
        (ev.start - lines[4].start).abs() <= 0.5 && ev.end - ev.start >= 1.5,
        "overlap {:.2}–{:.2}, expected from {:.2}",
        ev.start,
        ev.end,
        lines[4].start
    );

    // Call metrics from the timeline.
    let m = &r.metrics;
    let duration = lines.last().unwrap().end + 1.0;
    assert!((m.handle_time_s - duration).abs() < 0.2, "{m:?}");
    let longest = m.longest_silence_s.expect("longest silence");
    assert!((longest - 12.0).abs() <= 0.6, "{longest}");
    let silence = m.silence_share.expect("silence share");
    assert!(silence > 0.25 && silence < 0.6, "{silence}");
    assert_eq!(m.overlap_count, Some(1));
    assert!(m.agent_talk_share.unwrap() > 0.3 && m.agent_talk_share.unwrap() < 0.7);

    // The result names the speech model and is stored.
    assert!(
        r.versions.models.contains_key("whisper:ggml-base-q8_0.bin"),
        "{:?}",
        r.versions.models
    );
    let stored = p
        .store()
        .get_result("call-en-1")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.turns.len(), r.turns.len());
    assert_eq!(stored.flags.len(), r.flags.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mono_call_gets_inferred_speakers() {
    let dir = tempfile::tempdir().unwrap();
    let script = "\
agent\t0.3\ten-us\tGood morning, thank you for calling Acme support, how can I help you?
customer\t+0.8\ten-gb\tI want to cancel my subscription please.
agent\t+0.8\ten-us\tI can help with that. May I have your account name?
customer\t+0.8\ten-gb\tIt is John Smith.
";
    let lines = synth(script, &dir.path().join("mono.flac"), &["--mono"]);
    let p = pipeline(dir.path()).await;
    let r = scored(&p, call_job("call-mono-1", "mono.flac", "auto", None)).await;
    assert_eq!(r.attribution, callqa::domain::Attribution::Inferred);
    assert_eq!(r.language, callqa::domain::Language::En);
    assert_eq!(r.turns.len(), lines.len(), "{:?}", r.turns);
    for (t, l) in r.turns.iter().zip(&lines) {
        assert_eq!(t.speaker.as_str(), l.speaker, "turn {t:?} vs {l:?}");
    }
    // Churn from the customer's words, attributed to the customer.
    let churn = r
        .flags
        .iter()
        .find(|f| f.id.as_str() == "churn_risk")
        .expect("churn_risk");
    assert_eq!(
        churn.evidence[0].speaker,
        Some(callqa::domain::Speaker::Customer)
    );
    assert!(r.metrics.overlap_count.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_recordings_fail_with_their_reason_or_flag_no_speech() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("corrupt.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk",
    )
    .unwrap();
    std::fs::write(d.join("empty.wav"), b"").unwrap();
    let silent = Command::new("sox")
        .args(["-n", "-r", "8000", "-c", "2"])
        .arg(d.join("silent.wav"))
        .args(["trim", "0", "20"])
        .status()
        .expect("sox (scripts/setup.sh --test installs it)");
    assert!(silent.success());
    synth(
        "agent\t0.2\ten-us\tHello, this is Acme support.\n",
        &d.join("mono.wav"),
        &["--mono"],
    );
    let p = pipeline(d).await;

    let failed = |o: Outcome| match o {
        Outcome::Failed(f) => f,
        Outcome::Done { .. } => panic!("expected a failure record"),
    };
    // (job, expected stage, words the reason must contain)
    let cases = [
        (
            call_job("bad-corrupt", "corrupt.wav", "en", None),
            "decode",
            "corrupt.wav",
        ),
        (
            call_job("bad-empty", "empty.wav", "en", None),
            "decode",
            "empty",
        ),
        (
            call_job(
                "bad-channel",
                "mono.wav",
                "en",
                Some(r#"{"agent": 0, "customer": 1}"#),
            ),
            "transcribe",
            "channel 1",
        ),
        (
            call_job("bad-escape", "../outside.wav", "en", None),
            "intake",
            "'..'",
        ),
    ];
    for (job, stage, needle) in cases {
        let f = failed(run(&p, job).await);
        assert_eq!(f.stage.as_str(), stage, "{f:?}");
        assert!(f.reason.contains(needle), "{:?} lacks {needle:?}", f.reason);
    }
    let failures = p.store().list_failures(10).await.unwrap();
    assert_eq!(failures.len(), 4, "every bad job is recorded");

    // All silence is a result flagged no_speech, not a failure.
    let r = scored(&p, call_job("silent", "silent.wav", "en", None)).await;
    assert!(r.turns.is_empty());
    let ids: Vec<&str> = r.flags.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["no_speech"], "{:?}", r.flags);
    // Never a PASS, and left out of averages, pass rates and grades.
    assert!(!r.passed && !r.scoreable, "{} {}", r.passed, r.scoreable);
    assert_eq!(
        r.unscoreable_reason.as_deref(),
        Some("the recording holds no speech")
    );
}

fn sox(args: &[&str]) {
    let ok = Command::new("sox")
        .args(args)
        .status()
        .expect("sox (scripts/setup.sh --test installs it)");
    assert!(ok.success(), "sox {args:?} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_music_produces_no_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = |f: &str| dir.path().join(f).display().to_string();
    let lines = synth(
        "agent\t0.4\ten-us\tPlease hold while I check your account.\n\
         customer\t+0.6\ten-gb\tOkay.\n\
         agent\t+16\ten-us\tThank you for holding, your refund has been approved.\n",
        &dir.path().join("voice.wav"),
        &[],
    );
    // Sixteen seconds of tonal "hold music" (a warbling chord) on the agent's
    // channel between the customer's "Okay" and the agent's return.
    let (from, to) = (lines[1].end + 0.2, lines[2].start - 0.3);
    let music = format!("{:.3}", to - from);
    let tone = |file: &str, wave: &str, freq: &str, wobble_hz: &str, depth: &str| {
        sox(&[
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            &d(file),
            "synth",
            &music,
            wave,
            freq,
            "tremolo",
            wobble_hz,
            depth,
        ])
    };
    tone("tone1.wav", "sine", "392", "5", "40");
    tone("tone2.wav", "triangle", "494", "3", "60");
    sox(&[
        "-m",
        &d("tone1.wav"),
        &d("tone2.wav"),
        &d("chord.wav"),
        "gain",
        "-6",
        "pad",
        &format!("{from:.3}"),
    ]);
    sox(&[&d("voice.wav"), &d("agent.wav"), "remix", "1"]);
    sox(&[&d("voice.wav"), &d("customer.wav"), "remix", "2"]);
    sox(&[
        "-m",
        "-v",
        "1",
        &d("agent.wav"),
        "-v",
        "1",
        &d("chord.wav"),
        &d("agent-music.wav"),
        "trim",
        "0",
        &format!("{:.3}", lines[2].end + 1.0),
    ]);
    sox(&[
        "-M",
        &d("agent-music.wav"),
        &d("customer.wav"),
        &d("call.wav"),
    ]);

    let p = pipeline(dir.path()).await;
    let r = scored(&p, call_job("hold-music", "call.wav", "en", None)).await;
    // Whisper hallucinates on music ("thanks for watching", "[Music]"):
    // every recognised word must be one the script says, and the script's
    // words must all be there.
    let script: Vec<String> = lines.iter().flat_map(|l| words(&l.text)).collect();
    let heard: Vec<String> = r.turns.iter().flat_map(|t| words(&t.text)).collect();
    let invented: Vec<&String> = heard.iter().filter(|w| !script.contains(w)).collect();
    assert!(
        invented.len() <= 1 && heard.len() <= script.len() + 1,
        "words not in the script: {invented:?}; turns {:?}",
        r.turns
    );
    assert!(
        wer(&script.join(" "), &heard.join(" ")) <= 0.15,
        "{:?}",
        r.turns
    );
    assert!(
        r.turns
            .last()
            .unwrap()
            .text
            .to_lowercase()
            .contains("refund"),
        "{:?}",
        r.turns
    );
}

// The agent reads a card number back in the middle of one long turn; the
// number is its own script line so its true time is known.
const CARD_SCRIPT: &str = "\
customer\t0.5\ten-gb\tHello, I want to check which card you charged for my last order.
agent\t+0.6\ten-us\tThank you for waiting. I can see the order here, and the card number on file is
agent\t+0.3\ten-us\tfour one one one, one one one one, one one one one, one one one one.
agent\t+0.3\ten-us\tIs there anything else I can help you with about this order today?
customer\t+0.6\ten-gb\tNo, that is all, thank you. Goodbye.
";

/// Audio redaction with the recognizer's token times: the stretch where the
/// agent read the card number is silent in the redacted copy (and Whisper
/// finds no digits there any more), while most of the same turn around it
/// stays audible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_read_aloud_is_silenced_by_token_times() {
    use callqa::redact::{AudioPolicy, PrivacyOptions};
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("card.wav");
    let lines = synth(CARD_SCRIPT, &wav, &["--rate", "8000"]);
    let p = pipeline_with(
        dir.path(),
        Some(PrivacyOptions {
            audio: AudioPolicy::Keep,
            audio_dir: dir.path().join("redacted"),
            audio_pad_ms: 250,
            ..PrivacyOptions::default()
        }),
    )
    .await;
    let r = scored(&p, call_job("call-card-1", "card.wav", "en", None)).await;
    let text: Vec<&str> = r.turns.iter().map(|t| t.text.as_str()).collect();
    assert!(
        !text
            .iter()
            .any(|t| t.contains("4111") || t.contains("1111 1111")),
        "the transcript is masked: {text:?}"
    );
    assert_eq!(flags_of(&r, "pii_exposure").len(), 1, "{text:?}");
    // Nothing of the number reaches the database either (the file and its
    // write-ahead log, as bytes).
    for f in ["calls.db", "calls.db-wal"] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for raw in ["4111 1111", "41111111", "4111-1111"] {
            assert!(!text.contains(raw), "{f} holds {raw:?}");
        }
    }
    let copy = PathBuf::from(r.recording.as_deref().expect("a redacted copy"));
    assert!(
        copy.starts_with(dir.path().join("redacted").canonicalize().unwrap()),
        "{copy:?}"
    );
    assert!(wav.exists(), "keep: the original stays");

    let audio = callqa::decode::decode_file(&copy, &Default::default()).unwrap();
    let original = callqa::decode::decode_file(&wav, &Default::default()).unwrap();
    assert_eq!(audio.channels.len(), 2);
    assert!((audio.duration - original.duration).abs() < 0.01);
    let agent = audio.channels[0].samples();
    let silent = |a: f64, b: f64| -> f64 {
        // Share of 10 ms frames in a..b that are all zero.
        let (a, b) = ((a * 16_000.0) as usize, (b * 16_000.0) as usize);
        let frames: Vec<&[f32]> = agent[a..b.min(agent.len())].chunks(160).collect();
        frames
            .iter()
            .filter(|f| f.iter().all(|&x| x == 0.0))
            .count() as f64
            / frames.len().max(1) as f64
    };
    let (before, number, after) = (&lines[1], &lines[2], &lines[3]);
    assert_eq!(
        silent(number.start, number.end),
        1.0,
        "the whole number ({:.2}–{:.2} s) is silent",
        number.start,
        number.end
    );
    let kept_before = 1.0 - silent(before.start, before.end);
    let kept_after = 1.0 - silent(after.start, after.end);
    eprintln!(
        "audible: {:.0} % of the words before the number, {:.0} % after",
        100.0 * kept_before,
        100.0 * kept_after
    );
    assert!(
        kept_before >= 0.5 && kept_after >= 0.5,
        "most of the turn around the number stays audible: {kept_before:.2} before, {kept_after:.2} after"
    );
    // What is left is heard again: no digits come back.
    let p2 = pipeline(dir.path()).await;
    std::fs::copy(&copy, dir.path().join("again.wav")).unwrap();
    let again = scored(&p2, call_job("call-card-2", "again.wav", "en", None)).await;
    let heard: String = again
        .turns
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let digits = words(&heard)
        .iter()
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()) || ["one", "four"].contains(&w.as_str()))
        .count();
    assert_eq!(
        digits, 0,
        "nothing of the number is heard in the copy: {heard}"
    );
}

fn diarize_note(r: &ResultWire) -> String {
    r.diagnostics
        .iter()
        .find(|d| d.source == "diarize")
        .map(|d| d.message.clone())
        .unwrap_or_else(|| panic!("a diarize note: {:?}", r.diagnostics))
}

/// Two speakers on one channel, answering each other quickly (one
/// recognition window holds both): the speaker model tells the voices
/// apart, the utterances are cut where the voice changes, and the roles are
/// named from what each voice says, surely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mono_mix_of_two_voices_is_separated_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let script = "\
agent\t0.3\ten-us\tThank you for calling Acme support, how can I help you today?
customer\t+0.3\ten+f3\tHello, I want to cancel my subscription please, it costs too much.
agent\t+0.3\ten-us\tI am sorry to hear that. I can help you with that right now.
customer\t+0.3\ten+f3\tGood, the account is in the name of John Smith.
agent\t+0.3\ten-us\tThank you. Is there anything else I can help you with today?
";
    let lines = synth(
        script,
        &dir.path().join("mix.wav"),
        &["--mono", "--rate", "8000"],
    );
    let r = scored_mono(dir.path(), "call-mix-1", "mix.wav", "en").await;
    assert_eq!(r.attribution, callqa::domain::Attribution::Inferred);
    let note = diarize_note(&r);
    assert!(note.contains("two voices told apart"), "{note}");
    assert!(note.contains("roles named with confidence"), "{note}");
    let got: Vec<(&str, &str)> = r
        .turns
        .iter()
        .map(|t| (t.speaker.as_str(), t.text.as_str()))
        .collect();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        lines.iter().map(|l| l.speaker.as_str()).collect::<Vec<_>>(),
        "turns alternate as scripted: {got:?}"
    );
    // Each turn starts near its scripted time (the cut follows the voice).
    for (t, l) in r.turns.iter().zip(&lines) {
        assert!((t.start - l.start).abs() < 0.8, "{t:?} vs {l:?}");
    }
    let churn = flags_of(&r, "churn_risk");
    assert_eq!(churn.len(), 1, "{:?}", r.flags);
    assert_eq!(
        churn[0].evidence[0].speaker,
        Some(callqa::domain::Speaker::Customer)
    );
    assert!(r.flags.iter().all(|f| !f.message.contains("uncertain")));
}

/// Real speech, two voices the speaker encoder finds alike (cosine about
/// 0.9): a phone recording of one Mandarin reader, the AISHELL-1 speaker,
/// then the reader again, mixed down to one channel (the AISHELL-1 clip is
/// quieter than the phone recording's hiss, so voice activity detection
/// takes it for noise and the encoder's windows hear only the reader and
/// find one voice). The segmentation model hears
/// both: the note says two voices, and the reader's words on either side
/// are on one voice. (The quiet clip's own words are not transcribed;
/// docs/calls.md explains.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mono_mix_with_a_quiet_second_voice_keeps_the_reader_on_one_voice() {
    let dir = tempfile::tempdir().unwrap();
    let eval = speech_eval::dir().join("16k");
    // (file, start, length, where it goes in the mix), as
    // scripts/eval-diarize.sh builds its phone/AISHELL-1 mix.
    let pieces = [
        ("zh_daobidao_chushibiao", 0.0, 5.3, 0.5),
        ("zh_aishell_BAC009S0764W0121", 0.0, 4.2, 6.4),
        ("zh_daobidao_chushibiao", 5.3, 5.3, 11.2),
    ];
    // Reader on the left channel, the other speaker on the right, mixed
    // down by callqa (`"mixed"`), as the evaluation script does. Every
    // piece padded to the mix's length (17.6 s).
    let sox = |args: Vec<String>| {
        let st = Command::new("sox")
            .env("SOX_OPTS", "-D -R")
            .args(&args)
            .status()
            .expect("run sox (scripts/setup.sh --test installs it)");
        assert!(st.success(), "sox {args:?}");
    };
    let path = |name: &str| dir.path().join(name).display().to_string();
    let mut sides: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (i, (f, start, len, at)) in pieces.iter().enumerate() {
        let out = path(&format!("piece{i}.wav"));
        let src = eval.join(format!("{f}.wav")).display().to_string();
        sox([&src, "-r", "16000", "-c", "1", "-b", "16", &out, "trim"]
            .iter()
            .map(|a| a.to_string())
            .chain([start, len].map(|v| v.to_string()))
            .chain(["pad".into(), at.to_string(), "20".into()])
            .chain(["trim", "0", "17.6"].map(String::from))
            .collect());
        sides[usize::from(i == 1)].push(out);
    }
    for (files, out) in sides.iter().zip(["left.wav", "right.wav"]) {
        let mix = (files.len() > 1).then(|| "-m".to_string());
        sox(mix
            .into_iter()
            .chain(
                files
                    .iter()
                    .flat_map(|f| ["-v".into(), "1".into(), f.clone()]),
            )
            .chain([path(out)])
            .collect());
    }
    sox(vec![
        "-M".into(),
        path("left.wav"),
        path("right.wav"),
        path("alike.wav"),
    ]);
    let r = scored_mono(dir.path(), "call-alike-1", "alike.wav", "zh").await;
    let note = diarize_note(&r);
    assert!(note.contains("two voices told apart"), "{note}");
    // The encoder alone would call them one voice (at or above
    // `max_similarity`, 0.85): the segmentation model told them apart.
    let sim: f64 = note
        .split("similarity ")
        .nth(1)
        .and_then(|s| s.get(..4))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no similarity in {note}"));
    assert!(sim >= 0.85, "{note}");
    let speakers_in = |a: f64, b: f64| -> Vec<String> {
        r.turns
            .iter()
            .filter(|t| t.start < b && t.end > a && !t.text.trim().is_empty())
            .map(|t| t.speaker.as_str().to_owned())
            .collect()
    };
    let turns: Vec<(&str, f64, f64)> = r
        .turns
        .iter()
        .map(|t| (t.speaker.as_str(), t.start, t.end))
        .collect();
    // The reader's two stretches are one voice (the encoder's one-voice
    // fallback split them by turn-taking: half the words on the wrong
    // speaker).
    let (first, last) = (speakers_in(0.5, 5.6), speakers_in(11.4, 16.4));
    assert!(!first.is_empty() && !last.is_empty(), "{turns:?}");
    assert!(
        first.iter().chain(&last).all(|s| *s == first[0]),
        "{turns:?}"
    );
}

/// A worker whose models lack the speaker segmentation model (fetched
/// before it existed) cannot diarize a mono call: the job is a transient
/// failure naming the file and the fix, to be tried again (or by another
/// worker), not rejected as bad input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mono_call_without_the_speaker_models_is_retried_not_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    for e in std::fs::read_dir(repo().join("models")).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "speaker-seg.onnx" {
            std::os::unix::fs::symlink(e.path(), models.join(e.file_name())).unwrap();
        }
    }
    let script = "\
agent\t0.3\ten-us\tThank you for calling Acme support, how can I help you today?
customer\t+0.3\ten+f3\tHello, I want to cancel my subscription please.
";
    synth(script, &dir.path().join("mono.wav"), &["--mono"]);
    let p = pipeline_on(dir.path(), &models, None).await;
    let job = call_job("call-noseg-1", "mono.wav", "en", Some(r#""mixed""#));
    let err = match p.run_json("test", job.into_bytes()).await {
        Err(e) => e,
        Ok(_) => panic!("diarized without the segmentation model"),
    };
    assert_eq!(err.disposition, callqa::error::Disposition::Retry, "{err}");
    assert_eq!(err.stage, callqa::error::Stage::Diarize, "{err}");
    assert!(
        err.message.contains("speaker-seg.onnx") && err.message.contains("scripts/fetch-models.sh"),
        "{err}"
    );
}

/// One person speaking on a mono recording: one voice is heard, so the
/// speakers come from what is said, and the result says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mono_recording_of_one_voice_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let script = "\
agent\t0.3\ten-us\tThank you for calling Acme support, this is Anna.
agent\t+0.8\ten-us\tOur opening hours are nine to five, Monday to Friday.
agent\t+0.8\ten-us\tPlease call again during opening hours. Goodbye.
";
    synth(script, &dir.path().join("one.wav"), &["--mono"]);
    let r = scored_mono(dir.path(), "call-one-1", "one.wav", "en").await;
    let note = diarize_note(&r);
    assert!(note.contains("one voice heard"), "{note}");
    assert!(!r.turns.is_empty());
}

/// Two voices, but nothing either says marks them as agent or customer:
/// the roles are uncertain, and every flag resting on who said something
/// says so instead of firing blindly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mono_call_with_unnamed_roles_marks_speaker_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = "\
agent\t0.3\ten-us\tThe parcel left the warehouse this morning.
customer\t+0.5\ten+f3\tGood, so it should be here soon.
agent\t+0.5\ten-us\tIt should arrive before noon tomorrow.
customer\t+0.5\ten+f3\tThat works for me.
";
    synth(script, &dir.path().join("plain.wav"), &["--mono"]);
    let r = scored_mono(dir.path(), "call-plain-1", "plain.wav", "en").await;
    let note = diarize_note(&r);
    assert!(note.contains("two voices told apart"), "{note}");
    assert!(note.contains("roles uncertain"), "{note}");
    let with_speaker: Vec<_> = r
        .flags
        .iter()
        .filter(|f| f.evidence.iter().any(|e| e.speaker.is_some()))
        .collect();
    assert!(
        !with_speaker.is_empty(),
        "a flag about a speaker: {:?}",
        r.flags
    );
    for f in with_speaker {
        assert!(
            f.message.contains("speaker roles uncertain"),
            "{}",
            f.message
        );
    }
}
