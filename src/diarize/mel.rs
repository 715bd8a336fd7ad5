//! The speaker encoder's front end, as Resemblyzer computed it in
//! training (librosa's `melspectrogram` defaults): 16 kHz audio, 25 ms
//! frames (400 samples, periodic Hann window) every 10 ms, centred (200
//! zeros of padding at each end), power spectrum, 40 mel bands from 0 to
//! 8 kHz on the Slaney scale with area-normalised filters, no logarithm.

use crate::embed::MEL_BANDS;

const N_FFT: usize = 400;
const HOP: usize = 160;
const BINS: usize = N_FFT / 2 + 1;
const RATE: f64 = 16_000.0;

/// Precomputed window, DFT tables and filter bank.
pub struct Mel {
    window: Vec<f64>,
    cos: Vec<f64>,
    sin: Vec<f64>,
    /// Per band: first bin and weights.
    filters: Vec<(usize, Vec<f64>)>,
}

/// Slaney's mel scale (linear below 1 kHz, logarithmic above).
fn hz_to_mel(f: f64) -> f64 {
    let step = 200.0 / 3.0;
    let log_step = 6.4f64.ln() / 27.0;
    if f >= 1000.0 {
        1000.0 / step + (f / 1000.0).ln() / log_step
    } else {
        f / step
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let step = 200.0 / 3.0;
    let log_step = 6.4f64.ln() / 27.0;
    let knee = 1000.0 / step;
    if m >= knee {
        1000.0 * (log_step * (m - knee)).exp()
    } else {
        m * step
    }
}

impl Default for Mel {
    fn default() -> Self {
        Self::new()
    }
}

impl Mel {
    pub fn new() -> Self {
        let window: Vec<f64> = (0..N_FFT)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos())
            .collect();
        let mut cos = vec![0.0; BINS * N_FFT];
        let mut sin = vec![0.0; BINS * N_FFT];
        for k in 0..BINS {
            for n in 0..N_FFT {
                let a = 2.0 * std::f64::consts::PI * ((k * n) % N_FFT) as f64 / N_FFT as f64;
                cos[k * N_FFT + n] = a.cos();
                sin[k * N_FFT + n] = a.sin();
            }
        }
        let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(RATE / 2.0));
        let points: Vec<f64> = (0..MEL_BANDS + 2)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (MEL_BANDS + 1) as f64))
            .collect();
        let freq = |k: usize| k as f64 * RATE / N_FFT as f64;
        let filters = (0..MEL_BANDS)
            .map(|b| {
                let (l, c, r) = (points[b], points[b + 1], points[b + 2]);
                let norm = 2.0 / (r - l);
                let w: Vec<f64> = (0..BINS)
                    .map(|k| {
                        let f = freq(k);
                        let up = (f - l) / (c - l);
                        let down = (r - f) / (r - c);
                        up.min(down).max(0.0) * norm
                    })
                    .collect();
                let first = w.iter().position(|&x| x > 0.0).unwrap_or(0);
                let last = w.iter().rposition(|&x| x > 0.0).unwrap_or(0);
                (first, w[first..=last.max(first)].to_vec())
            })
            .collect();
        Mel {
            window,
            cos,
            sin,
            filters,
        }
    }

    /// Mel power frames of `samples` (16 kHz), `MEL_BANDS` values each:
    /// one frame every 10 ms, frame `i` centred on sample `160 i`.
    pub fn frames(&self, samples: &[f32]) -> Vec<[f32; MEL_BANDS]> {
        let n = 1 + samples.len() / HOP;
        let half = (N_FFT / 2) as isize;
        let mut out = Vec::with_capacity(n);
        let mut buf = [0.0f64; N_FFT];
        let mut power = [0.0f64; BINS];
        for i in 0..n {
            let start = (i * HOP) as isize - half;
            for (j, b) in buf.iter_mut().enumerate() {
                let at = start + j as isize;
                let x = if at >= 0 && (at as usize) < samples.len() {
                    samples[at as usize] as f64
                } else {
                    0.0
                };
                *b = x * self.window[j];
            }
            for (k, p) in power.iter_mut().enumerate() {
                let (c, s) = (
                    &self.cos[k * N_FFT..(k + 1) * N_FFT],
                    &self.sin[k * N_FFT..(k + 1) * N_FFT],
                );
                let (mut re, mut im) = (0.0, 0.0);
                for n in 0..N_FFT {
                    re += buf[n] * c[n];
                    im += buf[n] * s[n];
                }
                *p = re * re + im * im;
            }
            let mut frame = [0.0f32; MEL_BANDS];
            for (b, (first, w)) in self.filters.iter().enumerate() {
                frame[b] = w
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, p)| w * p)
                    .sum::<f64>() as f32;
            }
            out.push(frame);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_lands_in_its_mel_band_with_parsevals_energy() {
        // 1 kHz sine, amplitude 0.5: the band around 1 kHz holds the most
        // power, and the centre frames' total power matches the window's
        // energy (Parseval: sum over the one-sided spectrum ≈ N/2 · Σ(xw)²
        // for a tone well inside the band range).
        let x: Vec<f32> = (0..16_000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mel = Mel::new();
        let frames = mel.frames(&x);
        assert_eq!(frames.len(), 101, "one frame per 10 ms, centred");
        let f = frames[50];
        let top = f
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        let centre = |b: usize| {
            let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(8000.0));
            mel_to_hz(lo + (hi - lo) * (b + 1) as f64 / 41.0)
        };
        assert!(
            (centre(top) - 1000.0).abs() < 120.0,
            "band {top} at {} Hz",
            centre(top)
        );
        // Silence in, nothing out; the edges (half padded) carry less.
        assert!(mel
            .frames(&[0.0; 800])
            .iter()
            .all(|f| f.iter().all(|&v| v == 0.0)));
        assert!(frames[0].iter().sum::<f32>() < f.iter().sum::<f32>());
        // The same values as the Python front end Resemblyzer was trained
        // with (librosa's melspectrogram, reproduced in numpy by
        // scripts/models/speaker): 300 Hz at 0.3 plus 2.5 kHz at 0.2.
        let x: Vec<f32> = (0..8000)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                0.3 * (2.0 * std::f32::consts::PI * 300.0 * t).sin()
                    + 0.2 * (2.0 * std::f32::consts::PI * 2500.0 * t).sin()
            })
            .collect();
        let m = mel.frames(&x);
        assert_eq!(m.len(), 51);
        for (frame, band, want) in [
            (10, 3, 12.966553),
            (10, 2, 1.9762763),
            (10, 25, 2.036475),
            (10, 5, 0.0040344158),
            (0, 3, 4.5240302),
            (50, 3, 4.5240302),
        ] {
            let got = m[frame][band] as f64;
            assert!(
                (got - want).abs() <= 1e-3 * want,
                "frame {frame} band {band}: {got} vs {want}"
            );
        }
        // The scale round-trips.
        for hz in [0.0, 440.0, 1000.0, 3500.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
    }
}
