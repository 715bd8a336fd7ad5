//! How well mono calls' words land on the right speaker
//! (`callqa eval-diarize`). Each input is a two-channel recording (agent
//! left, customer right) whose channels are the truth: it is mixed down to
//! one channel and run through the whole mono call path (voice activity,
//! Whisper, speaker separation, role naming); then every recognised word
//! (a Chinese character, an English word) is checked against whose
//! channel was louder when it was spoken, by the recognizer's token time.

use std::path::Path;
use std::time::Instant;

use crate::decode::{self, DecodeOptions, Keep};
use crate::domain::{Job, Language, Speaker};
use crate::error::Stage;
use crate::intake::{self, IntakeOptions};
use crate::pipeline::Engine;
use crate::telemetry;

/// One recording's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub id: String,
    pub language: Language,
    /// Words with a time, and those on the right speaker.
    pub words: usize,
    pub right: usize,
    /// Turns, and the speaker sequence of turns as `A`/`C` (agent,
    /// customer), hypothesis and truth (the louder channel over each turn).
    pub turns: String,
    pub truth_turns: String,
    /// What the pipeline said about the speakers (the diarize note).
    pub note: String,
    pub audio_s: f64,
    pub elapsed_s: f64,
    /// Of which speaker separation (the diarize stage).
    pub diarize_s: f64,
}

impl Scored {
    /// Share of words on the right voice whichever way round the roles
    /// were named: how well the voices were separated.
    pub fn separated(&self) -> f64 {
        if self.words == 0 {
            0.0
        } else {
            self.right.max(self.words - self.right) as f64 / self.words as f64
        }
    }

    /// Share of words on the right speaker, roles as named.
    pub fn share(&self) -> f64 {
        if self.words == 0 {
            0.0
        } else {
            self.right as f64 / self.words as f64
        }
    }
}

/// Channel energy per 10 ms frame.
fn energies(samples: &[f32]) -> Vec<f64> {
    samples
        .chunks(160)
        .map(|c| c.iter().map(|x| (*x as f64).powi(2)).sum::<f64>())
        .collect()
}

/// Who was speaking from `a` to `b` seconds: the louder channel.
fn louder(agent: &[f64], customer: &[f64], a: f64, b: f64) -> Speaker {
    let (i, j) = (
        (a.max(0.0) * 100.0) as usize,
        (b.max(0.0) * 100.0) as usize + 1,
    );
    let sum = |e: &[f64]| e[i.min(e.len())..j.min(e.len())].iter().sum::<f64>();
    if sum(agent) >= sum(customer) {
        Speaker::Agent
    } else {
        Speaker::Customer
    }
}

/// Runs one two-channel recording through the mono path and scores it.
pub fn evaluate(engine: &Engine, path: &Path, language: Language) -> Result<Scored, String> {
    let stereo = decode::decode_file(
        path,
        &DecodeOptions {
            keep: Keep::Only(vec![0, 1]),
            ..DecodeOptions::default()
        },
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if stereo.channels.len() != 2 {
        return Err(format!(
            "{}: needs two channels (agent left, customer right), has {}",
            path.display(),
            stereo.channels.len()
        ));
    }
    let agent = energies(stereo.channels[0].samples());
    let customer = energies(stereo.channels[1].samples());
    let dir = path
        .parent()
        .ok_or_else(|| format!("{}: no directory", path.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: no file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let id = format!("diarize-{}", name.replace(['.', ' '], "-"));
    let job = serde_json::json!({
        "id": id, "kind": "call", "language": language.as_str(),
        "agent": {"id": "eval"},
        "recording": {"path": name, "channels": "mixed"},
    });
    let opts = IntakeOptions {
        recording_roots: vec![std::fs::canonicalize(dir).map_err(|e| e.to_string())?],
    };
    let job = intake::parse_job(&serde_json::to_vec(&job).map_err(|e| e.to_string())?, &opts)
        .map_err(|(_, e)| e.to_string())?;
    let Job::Call(_) = &job else {
        return Err("not a call job".into());
    };
    let started = Instant::now();
    let diarize_before = telemetry::stage_seconds(Stage::Diarize);
    let r = engine.process(&job).map_err(|e| e.to_string())?;
    let elapsed_s = started.elapsed().as_secs_f64();
    let diarize_s = telemetry::stage_seconds(Stage::Diarize) - diarize_before;
    let (mut words, mut right) = (0, 0);
    let (mut turns, mut truth_turns) = (String::new(), String::new());
    let letter = |s: Speaker| if s == Speaker::Agent { 'A' } else { 'C' };
    for t in &r.turns {
        turns.push(letter(t.speaker));
        truth_turns.push(letter(louder(&agent, &customer, t.start, t.end)));
        let chars: Vec<char> = t.text.chars().collect();
        for &(i, time) in &t.clock {
            let c = chars.get(i).copied().unwrap_or(' ');
            let starts_word = crate::text::is_cjk(c)
                || i == 0
                || !chars.get(i - 1).is_some_and(|p| p.is_alphanumeric());
            if !starts_word {
                continue;
            }
            words += 1;
            // The token's time falls inside the word's sound, give or take:
            // the louder channel over the half second from it.
            if louder(&agent, &customer, time - 0.1, time + 0.4) == t.speaker {
                right += 1;
            }
        }
    }
    let note = r
        .analysis
        .diagnostics
        .iter()
        .find(|d| d.source == "diarize")
        .map(|d| d.message.clone())
        .unwrap_or_default();
    Ok(Scored {
        id: name,
        language,
        words,
        right,
        turns,
        truth_turns,
        note,
        audio_s: stereo.duration,
        elapsed_s,
        diarize_s,
    })
}
