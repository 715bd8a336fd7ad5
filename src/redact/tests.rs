//! The redact stage on whole results: chats from samples/ and small
//! made-up ones (invented numbers that pass the checksums), run through a
//! rules-only engine.

use std::path::Path;

use super::*;
use crate::domain::FlagId;
use crate::intake::{parse_job, IntakeOptions};
use crate::pipeline::Engine;
use crate::rules::PackSet;

fn engine(options: PrivacyOptions) -> Engine {
    let packs = PackSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    Engine::with_models(packs, None)
        .expect("rules-only analysers build")
        .with_privacy(options)
}

fn chat(lang: &str, turns: &[(&str, &str)]) -> Vec<u8> {
    let messages: Vec<serde_json::Value> = turns
        .iter()
        .enumerate()
        .map(|(i, (speaker, text))| {
            serde_json::json!({
                "speaker": speaker,
                "at": format!("2026-11-06T10:00:{:02}+08:00", i * 5),
                "text": text,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "id": "t1", "kind": "chat", "language": lang,
        "agent": {"id": "A1"}, "messages": messages,
    }))
    .unwrap()
}

fn run(e: &Engine, job: &[u8]) -> QaResult {
    let job = parse_job(job, &IntakeOptions::default())
        .map_err(|(_, e)| e)
        .unwrap();
    e.process(&job).unwrap()
}

fn all_text(r: &QaResult) -> String {
    let wire = crate::wire::ResultWire::from(r);
    serde_json::to_string(&wire).unwrap()
}

#[test]
fn sample_chats_keep_no_raw_numbers_anywhere() {
    let e = engine(PrivacyOptions::default());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/chats");
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "zh-04-pii-card.json",
            &["6222 0212 3456 7894", "6222021234567894", "0212"],
            "**** **** **** 7894",
        ),
        (
            "en-04-pii.json",
            &["4111 1111 1111 1111", "jane.doe@", "jane.d@"],
            "j***@example.com",
        ),
    ];
    for (file, raw, masked) in cases {
        let r = run(&e, &std::fs::read(root.join(file)).unwrap());
        let json = all_text(&r);
        for raw in *raw {
            assert!(!json.contains(raw), "{file}: {raw:?} in clear in {json}");
        }
        assert!(json.contains(masked), "{file}: {masked:?} missing");
        // The flag still says what was exposed and where.
        let pii = r
            .analysis
            .flags
            .iter()
            .find(|f| f.id == FlagId::PiiExposure)
            .expect("pii flag");
        assert_eq!(pii.evidence[0].turn, Some(3), "{file}");
        assert!(
            pii.evidence[0].text.contains(masked),
            "{file}: {:?}",
            pii.evidence[0].text
        );
    }
}

#[test]
fn customer_data_is_masked_without_a_flag() {
    let e = engine(PrivacyOptions::default());
    let r = run(
        &e,
        &chat(
            "zh",
            &[
                (
                    "customer",
                    "我的手机是13812345678，身份证11010519491231002X",
                ),
                ("agent", "好的，已记录。"),
            ],
        ),
    );
    assert_eq!(
        r.turns[0].text,
        "我的手机是*******5678，身份证**************002X"
    );
    assert!(r.analysis.flags.iter().all(|f| f.id != FlagId::PiiExposure));
}

/// Turns (speaker, text), what must not appear, what must.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a [&'a str]);

#[test]
fn edge_cases_leak_no_digits() {
    let e = engine(PrivacyOptions::default());
    // (turns, per turn: text that must not appear, text that must)
    let cases: &[Case] = &[
        // Full-width digits and address.
        (
            &[("agent", "手机１３８１２３４５６７８，邮箱ｊａｎｅ．ｄｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍ")],
            &["１３８１２３４", "ａｎｅ．ｄｏｅ"],
            &["５６７８", "ｊ***＠ｅｘａｍｐｌｅ．ｃｏｍ"],
        ),
        // Chinese numerals.
        (&[("agent", "您的手机是一三八一二三四五六七八")], &["一三八一二三四"], &["五六七八"]),
        // A card split across two turns.
        (&[("agent", "卡号是6222 0212"), ("agent", "3456 7894 对吗")], &["6222", "0212", "3456"], &["7894"]),
        // Already partly masked.
        (&[("agent", "卡号6222 0212 **** 7894")], &["6222", "0212"], &["7894"]),
        // A card whose checksum fails, beside a context word.
        (&[("customer", "卡号是6222 0212 3456 7890")], &["6222", "3456"], &["7890"]),
        // Spoken digits and address.
        (
            &[("agent", "your phone is one three eight one two three four five six seven eight, mail jane dot doe at example dot com")],
            &["one three eight", "jane dot doe"],
            &["five six seven eight", "j*** at example dot com"],
        ),
    ];
    for (turns, gone, kept) in cases {
        let r = run(&e, &chat("zh", turns));
        let json = all_text(&r);
        for g in *gone {
            assert!(!json.contains(g), "{g:?} in clear: {json}");
        }
        for k in *kept {
            assert!(json.contains(k), "{k:?} missing: {json}");
        }
    }
}

#[test]
fn tag_style_and_highlights() {
    let e = engine(PrivacyOptions {
        mask: MaskStyle::Tag,
        ..PrivacyOptions::default()
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/chats");
    let r = run(
        &e,
        &std::fs::read(root.join("zh-04-pii-card.json")).unwrap(),
    );
    assert_eq!(
        r.turns[3].text,
        "好的，您目前绑定的卡号是[银行卡 ****7894]，对吧？"
    );
    let pii = r
        .analysis
        .flags
        .iter()
        .find(|f| f.id == FlagId::PiiExposure)
        .unwrap();
    let ev = &pii.evidence[0];
    assert_eq!(ev.text, r.turns[3].text);
    let (s, en) = ev.highlight.unwrap();
    let hl: String = ev.text.chars().skip(s).take(en - s).collect();
    assert_eq!(hl, "[银行卡 ****7894]");
}

#[test]
fn time_spans_are_placed_by_character_and_padded() {
    let red = Redaction {
        turns: vec![TurnRedaction {
            turn: 0,
            start: 10.0,
            end: 20.0,
            chars: 100,
            spans: vec![(50, 60)],
            kinds: vec![PiiKind::BankCard],
            clock: Vec::new(),
        }],
    };
    // 15–16 s by position, padded by 0.5 + a tenth of the 10 s turn.
    assert_eq!(red.time_spans(0.5), vec![(13.5, 17.5)]);
    // Clamped to the turn (padded).
    let red = Redaction {
        turns: vec![TurnRedaction {
            spans: vec![(0, 100)],
            ..red.turns[0].clone()
        }],
    };
    assert_eq!(red.time_spans(0.5), vec![(9.5, 20.5)]);
}

#[test]
fn time_spans_follow_the_recognizers_token_times() {
    // "my card is 4111 1111 1111 1111 thanks" spoken over 10–30 s: the
    // number (characters 11..30) between 20 s and 26 s, however long the turn.
    let text = "my card is 4111 1111 1111 1111 thanks";
    let mut clock: Vec<(usize, f64)> = Vec::new();
    for (i, c) in text.chars().enumerate() {
        if !c.is_alphanumeric() {
            continue;
        }
        let t = match i {
            0..=9 => 10.0 + i as f64 * 0.5,
            11..=29 => 20.0 + (i - 11) as f64 * 0.3,
            _ => 27.0 + (i - 31) as f64 * 0.2,
        };
        clock.push((i, t));
    }
    let turn = TurnRedaction {
        turn: 0,
        start: 10.0,
        end: 30.0,
        chars: text.chars().count(),
        spans: vec![(11, 30)],
        kinds: vec![PiiKind::BankCard],
        clock,
    };
    let red = Redaction {
        turns: vec![turn.clone()],
    };
    // From "is" (14.5 s) to "thanks" (27 s), padded by 0.5 s: the words
    // around the number bound it, whatever their own times' error.
    assert_eq!(red.time_spans(0.5), vec![(14.0, 27.5)]);
    // By position alone it would have been 15.9–25.6 s widened by 2.5 s.
    let untimed = Redaction {
        turns: vec![TurnRedaction {
            clock: Vec::new(),
            ..turn.clone()
        }],
    };
    let (a, b) = untimed.time_spans(0.5)[0];
    assert!(a < 14.0 && b > 27.5 - 0.5, "{a} {b}");
    // The number ends the turn: silenced to the turn's end (padded).
    let red = Redaction {
        turns: vec![TurnRedaction {
            spans: vec![(11, 37)],
            ..turn.clone()
        }],
    };
    assert_eq!(red.time_spans(0.5), vec![(14.0, 30.5)]);
    // A clock that misses the range's characters: placed by position.
    let red = Redaction {
        turns: vec![TurnRedaction {
            clock: vec![(0, 10.0), (1, 10.5)],
            ..turn
        }],
    };
    assert_eq!(red.time_spans(0.5), untimed.time_spans(0.5));
}

#[test]
fn a_call_with_personal_data_gets_a_redacted_copy_and_replace_deletes_the_original() {
    use crate::pipeline::EngineOptions;
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("recordings");
    std::fs::create_dir_all(&roots).unwrap();
    // 6 s of stereo tone at 8 kHz, as telephony records it.
    let n = 8_000 * 6;
    let tone: Vec<f32> = (0..n)
        .map(|i| 0.3 * (i as f32 * 0.07).sin() + 0.5)
        .collect();
    let wav = roots.join("c1.wav");
    std::fs::write(&wav, audio::wav_bytes(&[tone.clone(), tone], 8_000)).unwrap();
    let job = serde_json::json!({
        "id": "call-pii-1", "kind": "call", "language": "zh", "agent": {"id": "A1"},
        "recording": {"path": "c1.wav", "channels": {"agent": 0, "customer": 1}},
    });
    let opts = IntakeOptions {
        recording_roots: vec![roots.canonicalize().unwrap()],
    };
    let job = parse_job(&serde_json::to_vec(&job).unwrap(), &opts)
        .map_err(|(_, e)| e)
        .unwrap();
    let crate::domain::Job::Call(call) = &job else {
        panic!("a call job")
    };
    let engine = Engine::load(&EngineOptions {
        rules_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
        models_dir: dir.path().join("no-models"),
        rules_only: true,
        workers: 1,
        asr: Default::default(),
    })
    .unwrap()
    .with_privacy(PrivacyOptions {
        audio: AudioPolicy::Replace,
        audio_dir: dir.path().join("redacted"),
        audio_pad_ms: 200,
        ..PrivacyOptions::default()
    });
    // The agent read a number out in the middle of a 2–4 s turn.
    let red = Redaction {
        turns: vec![TurnRedaction {
            turn: 0,
            start: 2.0,
            end: 4.0,
            chars: 20,
            spans: vec![(8, 12)],
            kinds: vec![PiiKind::CnMobile],
            clock: Vec::new(),
        }],
    };
    let copy = engine
        .redact_audio(&call.header.id, &call.recording, &red)
        .unwrap()
        .expect("a copy");
    assert!(copy.ends_with("call-pii-1.redacted.wav"), "{copy:?}");
    assert!(!wav.exists(), "replace: the original is gone");
    let audio = crate::decode::decode_file(&copy, &Default::default()).unwrap();
    assert_eq!(audio.channels.len(), 2);
    assert!((audio.duration - 6.0).abs() < 0.01, "{}", audio.duration);
    // 2.8–3.2 s by position, padded by 0.2 + 0.2 s: 2.4–3.6 s silent.
    for ch in &audio.channels {
        let s = ch.samples();
        let rms = |a: f64, b: f64| {
            let w = &s[(a * 16_000.0) as usize..(b * 16_000.0) as usize];
            (w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32).sqrt()
        };
        assert_eq!(rms(2.45, 3.55), 0.0, "silent inside");
        assert!(rms(0.5, 2.3) > 0.3 && rms(3.7, 5.5) > 0.3, "sound outside");
    }
    // Nothing to silence: no copy.
    assert_eq!(
        engine
            .redact_audio(&call.header.id, &call.recording, &Redaction::default())
            .unwrap(),
        None
    );
}
