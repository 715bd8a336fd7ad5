//! Voice activity detection on 16 kHz mono f32 PCM: where on a channel
//! someone is speaking. The speech timeline built from it drives the call
//! acoustics (silence, talking over the customer, no speech), and only
//! the regions it finds are sent to Whisper (which hallucinates text over
//! silence).
//!
//! Energy-based, one linear pass: frame levels in dBFS, a noise floor taken
//! as a low percentile of those levels (so a channel that is mostly silence,
//! or carries steady line hiss, sets its own floor), then hysteresis,
//! bridging of short pauses, dropping of clicks, and padding.

use crate::domain::Span;

/// Sample rate of the PCM this module reads.
const RATE: f64 = 16_000.0;

/// The level reported for digital silence (and for empty input).
pub const SILENT_DBFS: f32 = -120.0;

/// Speech ends this many dB below the level at which it starts, so a
/// syllable dipping just under the entry threshold does not split a region.
const HYSTERESIS_DB: f32 = 4.0;

/// The noise floor is this percentile of frame levels. Low enough that a
/// channel speaking 80 % of the time still has silence below it.
const FLOOR_PERCENTILE: usize = 10;

/// Loud speech: this percentile of frame levels.
const LOUD_PERCENTILE: usize = 95;
/// Levels spread over at least this range vary like speech (steady hiss
/// or hum varies by a few dB).
const MIN_SPEECH_RANGE_DB: f32 = 10.0;
/// Even then, speech starts at least this far above the percentile floor
/// (steady hiss under speech stays silence).
const MIN_MARGIN_DB: f32 = 6.0;

/// Voice activity detection settings.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VadOptions {
    /// Analysis frame length in milliseconds; region edges are accurate to
    /// about one frame.
    pub frame_ms: u32,
    /// A frame is speech when its level is this many dB above the
    /// channel's noise floor.
    pub threshold_db: f32,
    /// Absolute floor in dBFS: frames quieter than this are never speech,
    /// however quiet the rest of the channel is.
    pub min_level_dbfs: f32,
    /// Speech bursts shorter than this (clicks, line pops) are dropped.
    pub min_speech_ms: u32,
    /// Pauses shorter than this inside speech are bridged.
    pub min_silence_ms: u32,
    /// Each region is extended by this on both sides (clamped to the
    /// audio), so word onsets and tails are not cut.
    pub pad_ms: u32,
    /// Speech is detected down to this many dB below the loud frames (the
    /// 95th percentile) even when the channel has no silence to measure a
    /// noise floor on.
    pub max_depth_db: f32,
}

impl Default for VadOptions {
    fn default() -> Self {
        VadOptions {
            frame_ms: 30,
            threshold_db: 12.0,
            min_level_dbfs: -50.0,
            min_speech_ms: 150,
            min_silence_ms: 300,
            pad_ms: 100,
            max_depth_db: 28.0,
        }
    }
}

/// Root-mean-square level of samples in dBFS; non-finite samples count as
/// zero, and silence (or nothing) is [`SILENT_DBFS`].
fn rms_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return SILENT_DBFS;
    }
    let sum: f64 = samples
        .iter()
        .map(|&x| if x.is_finite() { f64::from(x) } else { 0.0 })
        .map(|x| x * x)
        .sum();
    let mean = sum / samples.len() as f64;
    if mean > 0.0 {
        ((10.0 * mean.log10()) as f32).max(SILENT_DBFS)
    } else {
        SILENT_DBFS
    }
}

/// The `p`-th percentile of levels, in linear time.
fn percentile(levels: &[f32], p: usize) -> f32 {
    let mut v = levels.to_vec();
    if v.is_empty() {
        return SILENT_DBFS;
    }
    let k = (v.len() - 1) * p.min(100) / 100;
    let (_, x, _) = v.select_nth_unstable_by(k, f32::total_cmp);
    *x
}

/// Speech regions in seconds, in order, non-overlapping.
pub fn detect(samples: &[f32], opts: &VadOptions) -> Vec<Span> {
    let frame = ((RATE * f64::from(opts.frame_ms) / 1000.0) as usize).max(1);
    let levels: Vec<f32> = samples.chunks(frame).map(rms_dbfs).collect();
    if levels.is_empty() {
        return Vec::new();
    }
    let floor = percentile(&levels, FLOOR_PERCENTILE);
    // A recording that is speech almost throughout (a short clip, a
    // talkative mono call) has no silence for the percentile to find: its
    // "floor" is quiet speech, and the threshold above it would cut soft
    // words. Where the level varies like speech, the threshold is never
    // more than `max_depth_db` below the loud frames. (Steady hiss varies
    // little and keeps the percentile floor.)
    let loud = percentile(&levels, LOUD_PERCENTILE);
    let mut enter = floor + opts.threshold_db;
    if loud - floor >= MIN_SPEECH_RANGE_DB {
        enter = enter
            .min(loud - opts.max_depth_db)
            .max(floor + MIN_MARGIN_DB);
    }
    let enter = enter.max(opts.min_level_dbfs);
    let leave = (enter - HYSTERESIS_DB).max(opts.min_level_dbfs);

    let duration = samples.len() as f64 / RATE;
    let at = |i: usize| (i as f64 * frame as f64 / RATE).min(duration);
    let ms = |x: u32| f64::from(x) / 1000.0;

    // Frames above the threshold, as regions, with short pauses bridged.
    let mut regions: Vec<Span> = Vec::new();
    let push = |regions: &mut Vec<Span>, s: Span| match regions.last_mut() {
        Some(last) if s.start - last.end < ms(opts.min_silence_ms) => last.end = s.end,
        _ => regions.push(s),
    };
    let mut open: Option<usize> = None;
    for (i, &level) in levels.iter().enumerate() {
        match open {
            None if level >= enter => open = Some(i),
            Some(s) if level < leave => {
                push(
                    &mut regions,
                    Span {
                        start: at(s),
                        end: at(i),
                    },
                );
                open = None;
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        push(
            &mut regions,
            Span {
                start: at(s),
                end: duration,
            },
        );
    }

    // Drop clicks, pad, and merge what the padding made touch.
    let pad = ms(opts.pad_ms);
    let mut out: Vec<Span> = Vec::with_capacity(regions.len());
    for r in regions
        .into_iter()
        .filter(|r| r.len() >= ms(opts.min_speech_ms))
    {
        let r = Span {
            start: (r.start - pad).max(0.0),
            end: (r.end + pad).min(duration),
        };
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence in [-1, 1) (a 32-bit LCG).
    struct Lcg(u32);

    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (self.0 >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        }
    }

    /// Amplitude of a signal with the given RMS level.
    fn amp(dbfs: f32) -> f32 {
        10f32.powf(dbfs / 20.0)
    }

    #[derive(Clone, Copy)]
    enum Shape {
        /// A steady 440 Hz tone.
        Tone,
        /// Two harmonics amplitude-modulated at a syllable rate (4 Hz),
        /// with a little noise: level swings like voiced speech.
        Speech,
    }

    /// `seconds` of background (`None`: digital silence; `Some(dB)`: white
    /// noise at that RMS level) with bursts `(start, end, dBFS, shape)`
    /// added on top.
    fn synth(seconds: f64, background: Option<f32>, bursts: &[(f64, f64, f32, Shape)]) -> Vec<f32> {
        let n = (seconds * RATE) as usize;
        let mut rng = Lcg(12345);
        // Uniform noise in [-1, 1) has RMS 1/√3.
        let noise = background.map_or(0.0, |db| amp(db) * 3f32.sqrt());
        let mut out: Vec<f32> = (0..n).map(|_| rng.next() * noise).collect();
        for &(a, b, db, shape) in bursts {
            let (a, b) = ((a * RATE) as usize, ((b * RATE) as usize).min(n));
            for (i, x) in out.iter_mut().enumerate().take(b).skip(a) {
                let t = i as f64 / RATE;
                let tau = std::f64::consts::TAU;
                *x += match shape {
                    Shape::Tone => amp(db) * 2f32.sqrt() * (tau * 440.0 * t).sin() as f32,
                    Shape::Speech => {
                        let env = 0.6 + 0.4 * (tau * 4.0 * (t - a as f64 / RATE)).sin();
                        let voice = 0.8 * (tau * 180.0 * t).sin() + 0.5 * (tau * 540.0 * t).sin();
                        // Mean envelope² (0.44) × voice power (0.445): scale to `db`.
                        amp(db) * (env * voice / (0.44f64 * 0.445).sqrt()) as f32
                            + 0.05 * amp(db) * rng.next()
                    }
                };
            }
        }
        out
    }

    const NO_PAD: VadOptions = VadOptions {
        frame_ms: 30,
        threshold_db: 12.0,
        min_level_dbfs: -50.0,
        min_speech_ms: 150,
        min_silence_ms: 300,
        pad_ms: 0,
        max_depth_db: 28.0,
    };

    use Shape::{Speech as S, Tone as T};

    /// Name, samples, options, expected regions.
    type Case = (&'static str, Vec<f32>, VadOptions, Vec<(f64, f64)>);

    #[test]
    fn detects_speech_regions() {
        let nan_in_silence = {
            let mut v = synth(4.0, None, &[(1.0, 2.0, -20.0, T)]);
            for i in (0..v.len())
                .step_by(97)
                .filter(|i| !(16_000..32_000).contains(i))
            {
                v[i] = if i % 2 == 0 { f32::NAN } else { f32::INFINITY };
            }
            v
        };
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("tone bursts in silence", synth(5.0, None, &[(1.0, 2.0, -20.0, T), (3.0, 3.8, -20.0, T)]), NO_PAD, vec![(1.0, 2.0), (3.0, 3.8)]),
            ("speech-like bursts in silence", synth(6.0, None, &[(0.5, 2.25, -25.0, S), (4.1, 5.3, -25.0, S)]), NO_PAD, vec![(0.5, 2.25), (4.1, 5.3)]),
            ("padding, clamped to the audio", synth(3.0, None, &[(0.05, 1.0, -20.0, T), (2.5, 3.0, -20.0, T)]), VadOptions::default(), vec![(0.0, 1.1), (2.4, 3.0)]),
            ("white noise at -60 dBFS only", synth(5.0, Some(-60.0), &[]), NO_PAD, vec![]),
            ("steady hiss at -40 dBFS only", synth(5.0, Some(-40.0), &[]), NO_PAD, vec![]),
            ("all zeros", vec![0.0; 80_000], NO_PAD, vec![]),
            ("empty", vec![], VadOptions::default(), vec![]),
            ("speech over -40 dBFS hiss at +20 dB", synth(8.0, Some(-40.0), &[(1.0, 2.5, -20.0, S), (4.0, 5.0, -20.0, S)]), NO_PAD, vec![(1.0, 2.5), (4.0, 5.0)]),
            ("channel 80 % speech over hiss", synth(10.0, Some(-40.0), &[(0.5, 4.5, -20.0, S), (5.5, 9.5, -20.0, S)]), NO_PAD, vec![(0.5, 4.5), (5.5, 9.5)]),
            ("50 ms click dropped", synth(4.0, None, &[(1.0, 1.05, -10.0, T), (2.0, 3.0, -20.0, S)]), NO_PAD, vec![(2.0, 3.0)]),
            ("bursts 200 ms apart merged", synth(4.0, None, &[(1.0, 1.6, -20.0, S), (1.8, 2.5, -20.0, S)]), NO_PAD, vec![(1.0, 2.5)]),
            ("bursts 500 ms apart kept apart", synth(4.0, None, &[(1.0, 1.6, -20.0, S), (2.1, 2.8, -20.0, S)]), NO_PAD, vec![(1.0, 1.6), (2.1, 2.8)]),
            ("speech below the absolute floor", synth(4.0, None, &[(1.0, 2.0, -56.0, S)]), NO_PAD, vec![]),
            ("speech to the end of the audio", synth(3.0, None, &[(1.5, 3.0, -20.0, S)]), NO_PAD, vec![(1.5, 3.0)]),
            ("NaN and infinite samples count as zero", nan_in_silence, NO_PAD, vec![(1.0, 2.0)]),
        ];
        let mut failures = Vec::new();
        for (name, samples, opts, want) in &cases {
            let got: Vec<(f64, f64)> = detect(samples, opts)
                .iter()
                .map(|s| (s.start, s.end))
                .collect();
            let close = got.len() == want.len()
                && got
                    .iter()
                    .zip(want)
                    .all(|(g, w)| (g.0 - w.0).abs() <= 0.05 && (g.1 - w.1).abs() <= 0.05);
            if !close {
                failures.push(format!("{name}: want {want:?}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn regions_are_ordered_and_disjoint() {
        let bursts: Vec<(f64, f64, f32, Shape)> = (0..20)
            .map(|i| (i as f64 * 0.7, i as f64 * 0.7 + 0.4, -20.0, S))
            .collect();
        let opts = VadOptions {
            min_silence_ms: 0,
            pad_ms: 250,
            ..VadOptions::default()
        };
        let got = detect(&synth(15.0, Some(-60.0), &bursts), &opts);
        assert!(!got.is_empty());
        for w in got.windows(2) {
            assert!(w[0].end < w[1].start, "{:?} then {:?}", w[0], w[1]);
        }
        assert!(got
            .iter()
            .all(|s| s.start < s.end && s.start >= 0.0 && s.end <= 15.0));
    }

    #[test]
    fn options_deserialise_with_defaults_and_reject_unknown_fields() {
        let o: VadOptions = toml::from_str("threshold_db = 15.0\npad_ms = 0").unwrap();
        assert_eq!(
            o,
            VadOptions {
                threshold_db: 15.0,
                pad_ms: 0,
                ..VadOptions::default()
            }
        );
        assert!(toml::from_str::<VadOptions>("frame = 20").is_err());
    }
}
