//! A redacted copy of a call's recording: the time spans where personal
//! data was spoken are replaced by silence on every channel (a wrong
//! channel map cannot leak the other side), everything else untouched,
//! written as 16-bit PCM WAV with the same channel count and duration.
//!
//! The samples are the decode stage's output (16 kHz per channel), so the
//! copy is 16 kHz whatever the original's rate and codec.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Classify, Disposition};

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot write the redacted recording {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot delete the original recording {path} after redaction: {source}")]
    Delete {
        path: String,
        source: std::io::Error,
    },
}

impl Classify for AudioError {
    fn disposition(&self) -> Disposition {
        // A full or read-only disk is the worker's problem, not the job's.
        Disposition::Retry
    }
}

/// Sets every sample inside the spans (seconds) to zero, on every channel.
pub fn silence(channels: &mut [Vec<f32>], rate: u32, spans: &[(f64, f64)]) {
    for ch in channels.iter_mut() {
        let len = ch.len();
        for &(a, b) in spans {
            if !(a.is_finite() && b.is_finite()) || b <= a {
                continue;
            }
            let s = ((a.max(0.0) * f64::from(rate)).floor() as usize).min(len);
            let e = ((b * f64::from(rate)).ceil() as usize).min(len);
            ch[s..e].iter_mut().for_each(|x| *x = 0.0);
        }
    }
}

/// A sample in [-1, 1] as 16-bit PCM.
pub fn to_i16(x: f32) -> i16 {
    (x.clamp(-1.0, 1.0) * 32768.0)
        .round()
        .clamp(-32768.0, 32767.0) as i16
}

/// The bytes of a 16-bit PCM WAV file; channels of unequal length are
/// padded with silence to the longest.
pub fn wav_bytes(channels: &[Vec<f32>], rate: u32) -> Vec<u8> {
    let n_ch = channels.len().max(1) as u16;
    let frames = channels.iter().map(Vec::len).max().unwrap_or(0);
    let data_len = (frames * usize::from(n_ch) * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&n_ch.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(n_ch) * 2).to_le_bytes());
    out.extend_from_slice(&(n_ch * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        for c in 0..usize::from(n_ch) {
            let x = channels
                .get(c)
                .and_then(|ch| ch.get(i))
                .copied()
                .unwrap_or(0.0);
            out.extend_from_slice(&to_i16(x).to_le_bytes());
        }
    }
    out
}

/// A file name for a job's redacted copy: the job id with anything but
/// letters, digits, `-`, `_` and `.` replaced, so an id cannot leave `dir`.
pub fn copy_path(dir: &Path, job_id: &str) -> PathBuf {
    let safe: String = job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    dir.join(format!(
        "{}.redacted.wav",
        if safe.is_empty() { "job" } else { safe }
    ))
}

/// Writes the redacted copy (through a temporary file, so a reader never
/// sees half a file) and, when `replace`, deletes the original.
pub fn write_copy(
    channels: &mut [Vec<f32>],
    rate: u32,
    spans: &[(f64, f64)],
    dest: &Path,
    replace_original: Option<&Path>,
) -> Result<(), AudioError> {
    silence(channels, rate, spans);
    let bytes = wav_bytes(channels, rate);
    let err = |source| AudioError::Write {
        path: dest.display().to_string(),
        source,
    };
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = dest.with_extension("wav.part");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(&bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, dest).map_err(err)?;
    if let Some(orig) = replace_original {
        std::fs::remove_file(orig).map_err(|source| AudioError::Delete {
            path: orig.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads back what `wav_bytes` wrote: (channels, rate, samples per channel).
    fn read_wav(b: &[u8]) -> (u16, u32, Vec<Vec<i16>>) {
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(&b[8..16], b"WAVEfmt ");
        let ch = u16::from_le_bytes([b[22], b[23]]);
        let rate = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
        assert_eq!(&b[36..40], b"data");
        let data = &b[44..];
        let mut out = vec![Vec::new(); usize::from(ch)];
        for (i, s) in data.chunks_exact(2).enumerate() {
            out[i % usize::from(ch)].push(i16::from_le_bytes([s[0], s[1]]));
        }
        (ch, rate, out)
    }

    #[test]
    fn spans_are_silent_on_every_channel_and_the_rest_unchanged() {
        let rate = 8_000;
        let n = rate as usize * 3; // 3 s
                                   // Two channels of distinct non-zero tones.
        let orig: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                (0..n)
                    .map(|i| 0.3 * ((i as f32) * 0.01 * (c as f32 + 1.0)).sin() + 0.5)
                    .collect()
            })
            .collect();
        let spans = [(0.5, 1.0), (2.25, 2.5)];
        let dir = tempfile::tempdir().unwrap();
        let dest = copy_path(dir.path(), "call/../zh-01");
        assert_eq!(
            dest.parent(),
            Some(dir.path()),
            "the id cannot leave the directory"
        );
        let mut work = orig.clone();
        write_copy(&mut work, rate, &spans, &dest, None).unwrap();
        let (ch, r, got) = read_wav(&std::fs::read(&dest).unwrap());
        assert_eq!((ch, r), (2, rate));
        for c in 0..2 {
            assert_eq!(got[c].len(), n, "same duration");
            for (i, &s) in got[c].iter().enumerate() {
                let t = i as f64 / f64::from(rate);
                let inside = spans.iter().any(|&(a, b)| t >= a && t < b);
                if inside {
                    assert_eq!(s, 0, "channel {c} sample {i} ({t:.4} s) inside a span");
                } else {
                    assert_eq!(s, to_i16(orig[c][i]), "channel {c} sample {i} outside");
                    assert_ne!(s, 0, "the test tone is never zero outside the spans");
                }
            }
        }
    }

    #[test]
    fn odd_spans_never_panic() {
        let mut ch = vec![vec![1.0f32; 100]];
        silence(
            &mut ch,
            100,
            &[(-5.0, 0.1), (0.9, 50.0), (f64::NAN, 1.0), (0.5, 0.4)],
        );
        assert!(ch[0][..10].iter().all(|&x| x == 0.0));
        assert!(ch[0][10..90].iter().all(|&x| x == 1.0));
        assert!(ch[0][90..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn replace_deletes_the_original_after_the_copy_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let orig = dir.path().join("call.wav");
        std::fs::write(&orig, b"original").unwrap();
        let dest = copy_path(&dir.path().join("out"), "c1");
        write_copy(&mut [vec![0.5; 10]], 8_000, &[], &dest, Some(&orig)).unwrap();
        assert!(!orig.exists());
        assert_eq!(std::fs::read(&dest).unwrap().len(), 44 + 20);
    }

    #[test]
    fn an_8khz_stereo_call_keeps_its_length_and_channels() {
        // An 8 kHz two-channel recording as telephony writes it, decoded as
        // the pipeline does (16 kHz per channel), redacted by a turn's span.
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("call.wav");
        let n = 8_000 * 4;
        let tone = |c: usize| -> Vec<f32> {
            (0..n)
                .map(|i| 0.3 * ((i as f32) * 0.05 * (c as f32 + 1.0)).sin() + 0.5)
                .collect()
        };
        std::fs::write(&src, wav_bytes(&[tone(0), tone(1)], 8_000)).unwrap();
        let audio =
            crate::decode::decode_file(&src, &crate::decode::DecodeOptions::default()).unwrap();
        let red = super::super::Redaction {
            turns: vec![super::super::TurnRedaction {
                turn: 0,
                start: 1.0,
                end: 3.0,
                chars: 20,
                spans: vec![(10, 15)],
                kinds: vec![crate::domain::PiiKind::CnMobile],
                clock: Vec::new(),
            }],
        };
        let spans = red.time_spans(0.25);
        // 2.0–2.5 s by position, padded by 0.25 + 0.2 s.
        assert_eq!(spans.len(), 1);
        assert!(
            (spans[0].0 - 1.55).abs() < 1e-9 && (spans[0].1 - 2.95).abs() < 1e-9,
            "{spans:?}"
        );
        let mut ch: Vec<Vec<f32>> = audio
            .channels
            .iter()
            .map(|c| c.samples().to_vec())
            .collect();
        let before = ch.clone();
        let dest = copy_path(dir.path(), "call-1");
        write_copy(&mut ch, 16_000, &spans, &dest, None).unwrap();
        let (n_ch, rate, got) = read_wav(&std::fs::read(&dest).unwrap());
        assert_eq!((n_ch, rate), (2, 16_000));
        for (c, samples) in got.iter().enumerate() {
            assert_eq!(
                samples.len(),
                before[c].len(),
                "as long as the decoded audio"
            );
            assert!(
                samples.len().abs_diff(16_000 * 4) <= 16,
                "4 s within 1 ms: {}",
                samples.len()
            );
            let at = |t: f64| samples[(t * 16_000.0) as usize];
            assert_eq!(
                (at(1.6), at(2.0), at(2.9)),
                (0, 0, 0),
                "channel {c} silent inside"
            );
            assert_eq!(
                at(0.5),
                to_i16(before[c][8_000]),
                "channel {c} unchanged before"
            );
            assert_eq!(
                at(3.5),
                to_i16(before[c][56_000]),
                "channel {c} unchanged after"
            );
        }
        assert!(src.exists(), "keep: the original stays");
    }
}
