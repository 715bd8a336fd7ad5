//! Clustering, stretch tidying and utterance cutting, without the model.

use super::*;
use crate::domain::{Attribution, Language, SpeechTimeline};
use crate::transcribe::Quality;

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

#[test]
fn two_means_separates_two_directions_and_reports_their_similarity() {
    let e: Vec<Vec<f32>> = vec![
        unit(&[1.0, 0.1, 0.0]),
        unit(&[1.0, 0.0, 0.1]),
        unit(&[0.1, 1.0, 0.0]),
        unit(&[1.0, 0.05, 0.05]),
        unit(&[0.0, 1.0, 0.1]),
    ];
    let (labels, sim) = two_means(&e);
    assert_eq!(labels[0], labels[1]);
    assert_eq!(labels[0], labels[3]);
    assert_eq!(labels[2], labels[4]);
    assert_ne!(labels[0], labels[2]);
    assert!(sim < 0.3, "{sim}");
    // One vector, or none: one cluster, similarity 1.
    assert_eq!(two_means(&e[..1]), (vec![0], 1.0));
    assert_eq!(two_means(&[]), (vec![], 1.0));
}

fn sp(a: f64, b: f64) -> Span {
    Span { start: a, end: b }
}

#[test]
fn short_stretches_join_their_neighbours() {
    // A 0.1 s blip of voice 1 inside voice 0, an undecided region (nearer
    // the next stretch), and a real change.
    let s = vec![
        (sp(0.0, 2.0), 0),
        (sp(2.0, 2.1), 1),
        (sp(2.1, 4.0), 0),
        (sp(4.5, 4.7), usize::MAX),
        (sp(5.0, 8.0), 1),
    ];
    let t = tidy(s, 0.3);
    assert_eq!(
        t,
        vec![(sp(0.0, 4.0), 0), (sp(4.5, 4.7), 1), (sp(5.0, 8.0), 1)]
    );
    // A short answer after a pause keeps its own voice.
    let s = vec![(sp(0.0, 3.0), 0), (sp(3.5, 3.7), 1), (sp(4.2, 6.0), 0)];
    assert_eq!(tidy(s.clone(), 0.3), s);
}

fn voices(stretches: Vec<(Span, usize)>) -> Voices {
    Voices {
        stretches,
        count: 2,
        similarity: 0.6,
        windows: 10,
    }
}

fn transcript(language: Language, u: Vec<Utterance>) -> Transcript {
    Transcript {
        language,
        attribution: Attribution::Inferred,
        utterances: u,
        timeline: SpeechTimeline::default(),
        duration: 10.0,
        dropped: 0,
        collapsed: 0,
        notes: Vec::new(),
        quality: Quality::default(),
    }
}

/// Characters of `text` timed evenly from `a` to `b` seconds.
fn timed(text: &str, a: f64, b: f64) -> Vec<(char, f64)> {
    let n = text.chars().count().max(1) as f64;
    text.chars()
        .enumerate()
        .map(|(i, c)| (c, a + (b - a) * i as f64 / n))
        .collect()
}

#[test]
fn one_window_holding_both_speakers_is_cut_at_the_voice_change() {
    // "Hello, how can I help? My order is late." in one utterance, 0–6 s;
    // the voice changes at 3 s.
    let text = "Hello, how can I help? My order is late.";
    let first = "Hello, how can I help? ";
    let mut tm = timed(first, 0.0, 2.9);
    tm.extend(timed("My order is late.", 3.1, 6.0));
    let u = Utterance {
        speaker: None,
        span: sp(0.0, 6.0),
        text: text.into(),
        timed: tm,
        voice: None,
    };
    let mut t = transcript(Language::En, vec![u]);
    split(&mut t, &voices(vec![(sp(0.0, 3.0), 1), (sp(3.0, 6.0), 0)]));
    let got: Vec<(&str, Option<usize>)> = t
        .utterances
        .iter()
        .map(|u| (u.text.as_str(), u.voice))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Hello, how can I help?", Some(1)),
            ("My order is late.", Some(0))
        ]
    );
    assert_eq!(t.utterances[0].span.start, 0.0);
    assert!((t.utterances[1].span.start - 3.1).abs() < 1e-9);
    assert_eq!(t.utterances[1].span.end, 6.0);

    // Chinese: cut between characters.
    let text = "您好请问有什么可以帮您我的快递没到";
    let u = Utterance {
        speaker: None,
        span: sp(10.0, 14.0),
        text: text.into(),
        timed: timed(text, 10.0, 14.0),
        voice: None,
    };
    let mut t = transcript(Language::Zh, vec![u]);
    // 11 characters of the agent (10.0–12.6 s), then the customer.
    split(
        &mut t,
        &voices(vec![(sp(10.0, 12.55), 0), (sp(12.55, 14.0), 1)]),
    );
    let got: Vec<&str> = t.utterances.iter().map(|u| u.text.as_str()).collect();
    assert_eq!(got, vec!["您好请问有什么可以帮您", "我的快递没到"]);

    // One voice: nothing changes.
    let mut t2 = transcript(Language::Zh, t.utterances.clone());
    let before = t2.utterances.clone();
    split(
        &mut t2,
        &Voices {
            count: 1,
            ..voices(vec![(sp(10.0, 14.0), 0)])
        },
    );
    assert_eq!(t2.utterances, before);
}

#[test]
fn an_utterance_without_times_takes_the_voice_at_its_middle() {
    let u = Utterance {
        speaker: None,
        span: sp(4.0, 6.0),
        text: "Thanks.".into(),
        timed: Vec::new(),
        voice: None,
    };
    let mut t = transcript(Language::En, vec![u]);
    split(&mut t, &voices(vec![(sp(0.0, 3.0), 1), (sp(3.0, 9.0), 0)]));
    assert_eq!(t.utterances.len(), 1);
    assert_eq!(t.utterances[0].voice, Some(0));
}

/// `n` model frames of track `t`.
fn frames(t: Option<usize>, n: usize) -> Vec<Option<usize>> {
    vec![t; n]
}

#[test]
fn a_track_takes_the_voice_most_of_its_windows_have() {
    let tracks = seg::Tracks {
        frames: [frames(Some(0), 50), frames(Some(1), 50)].concat(),
    };
    // Track 0: windows labelled 1, 1, 0; track 1: 0, 0; one window in none.
    let in_track = [Some(0), Some(0), Some(0), Some(1), Some(1), None];
    let labels = [1, 1, 0, 0, 0, 1];
    assert_eq!(
        majority_voices(&tracks, &in_track, &labels),
        vec![Some(1), Some(0)]
    );
    // A tie is undecided (left to the nearest window).
    assert_eq!(
        majority_voices(&tracks, &in_track[..2], &[0, 1]),
        vec![None, None]
    );
}

#[test]
fn alike_voices_are_told_apart_by_tracks_and_linked_by_embeddings() {
    // Island 0: tracks 0 and 1, 3 s each; island 1: track 3, 3 s.
    let tracks = seg::Tracks {
        frames: [
            frames(Some(0), 180),
            frames(Some(1), 180),
            frames(None, 100),
            frames(Some(3), 180),
        ]
        .concat(),
    };
    let (x, y) = (unit(&[1.0, 0.1, 0.0]), unit(&[0.9, 0.3, 0.0]));
    // Windows: two in track 0 (like x), two in track 1 (like y), one in
    // track 3 (nearer y).
    let in_track = [Some(0), Some(0), Some(1), Some(1), Some(3)];
    let embeddings = vec![
        x.clone(),
        x.clone(),
        y.clone(),
        y.clone(),
        unit(&[0.88, 0.32, 0.0]),
    ];
    let v = alike_voices(&tracks, &in_track, &embeddings).expect("two tracks of 3 s");
    assert_eq!((v[0], v[1], v[3]), (Some(0), Some(1), Some(1)), "{v:?}");
    // The second track too short (1 s): one voice.
    let short = seg::Tracks {
        frames: [frames(Some(0), 180), frames(Some(1), 60)].concat(),
    };
    assert_eq!(alike_voices(&short, &in_track[..4], &embeddings[..4]), None);
}

#[test]
fn speech_the_detector_missed_gets_its_tracks_voice() {
    // Track 0 for 100 frames, nobody for 50, track 1 for 150 frames; the
    // detector heard only the first stretch.
    let tracks = seg::Tracks {
        frames: [frames(Some(0), 100), frames(None, 50), frames(Some(1), 150)].concat(),
    };
    let heard = [sp(0.0, seg::Tracks::time_of(99))];
    let got = unheard_by_vad(&tracks, &[Some(0), Some(1)], &heard, 0.3);
    assert_eq!(got.len(), 1, "{got:?}");
    let (span, voice) = got[0];
    assert_eq!(voice, 1);
    assert!(
        (span.start - seg::Tracks::time_of(150)).abs() < 0.02,
        "{span:?}"
    );
    assert!(
        (span.len() - seg::Tracks::seconds(150)).abs() < 0.03,
        "{span:?}"
    );
    // A track without a voice, or a stretch shorter than min_s: nothing.
    assert!(unheard_by_vad(&tracks, &[Some(0), None], &heard, 0.3).is_empty());
    assert!(unheard_by_vad(&tracks, &[Some(0), Some(1)], &heard, 5.0).is_empty());
}
