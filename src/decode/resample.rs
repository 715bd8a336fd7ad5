//! Band-limited sample-rate conversion to 16 kHz (any rate to any rate, in
//! fact): a Kaiser-windowed sinc whose cutoff sits just under the lower of
//! the two Nyquist frequencies, so downsampling does not alias and
//! upsampling does not image. It streams (input arrives packet by packet
//! and only about one kernel's width of it is kept), so a four-hour
//! recording costs memory for its 16 kHz output only.
//!
//! Rational ratios with a small numerator after reducing by the gcd (every
//! common rate: 8, 11.025, 22.05, 24, 32, 44.1, 48 kHz) use a precomputed
//! polyphase table, one set of taps per output phase; other rates
//! interpolate linearly between the two nearest of `FINE_PHASES` phases
//! (error below -90 dB). Each set of taps is normalised to sum to one, so DC
//! passes exactly.
//!
//! Pure `std` on purpose: the file builds and tests on its own with
//! `rustc --test -O src/decode/resample.rs`, which is how its speed is
//! measured without an optimised build of the whole crate.

/// Cutoff as a fraction of the lower sample rate (0.5 would be Nyquist).
const CUTOFF: f64 = 0.45;
/// Zero crossings of the sinc on each side of the centre.
const ZERO_CROSSINGS: f64 = 32.0;
/// Kaiser window shape: about 80 dB of stop-band attenuation.
const KAISER_BETA: f64 = 8.0;
/// Largest reduced output/input numerator given a table of its own.
const MAX_PHASES: u64 = 640;
/// Phases tabulated for ratios without a table of their own.
const FINE_PHASES: u64 = 256;
/// Consumed input kept before the buffer is compacted.
const COMPACT_AFTER: usize = 1 << 16;

/// Resamples a whole signal at once: `round(len * out_rate / in_rate)`
/// samples come back.
#[cfg(test)]
pub fn resample(input: &[f32], in_rate: u32, out_rate: u32) -> Vec<f32> {
    let mut r = Resampler::new(in_rate, out_rate);
    r.push(input);
    r.finish()
}

/// A streaming resampler for one channel.
pub struct Resampler {
    kernel: Kernel,
    /// Reduced rates: output `n` sits at input position `n * down / up`.
    up: u64,
    down: u64,
    /// Taps on each side of the centre sample.
    half: usize,
    /// Input samples, `buf[0]` being absolute input index `buf_start`.
    buf: Vec<f32>,
    buf_start: i64,
    total_in: u64,
    next_out: u64,
    out: Vec<f32>,
}

enum Kernel {
    Identity,
    /// `up` phases of `2 * half + 1` taps each.
    Polyphase(Vec<f32>),
    /// `FINE_PHASES + 1` phases (fractions 0, 1/256, … 1) of
    /// `2 * half + 1` taps each.
    Interpolated(Vec<f32>),
}

impl Resampler {
    pub fn new(in_rate: u32, out_rate: u32) -> Self {
        let (in_r, out_r) = (u64::from(in_rate), u64::from(out_rate));
        let g = gcd(in_r, out_r).max(1);
        let (up, down) = (out_r / g, in_r / g);
        let mut r = Resampler {
            kernel: Kernel::Identity,
            up,
            down,
            half: 0,
            buf: Vec::new(),
            buf_start: 0,
            total_in: 0,
            next_out: 0,
            out: Vec::new(),
        };
        // A zero rate (callers check rates first) passes input through.
        if in_rate == out_rate || up == 0 || down == 0 {
            return r;
        }
        // Cutoff in cycles per input sample, and the kernel's half width in
        // input samples.
        let fc = CUTOFF * in_r.min(out_r) as f64 / in_r as f64;
        let half_width = ZERO_CROSSINGS / (2.0 * fc);
        let half = half_width.ceil() as usize;
        let kernel = |tau: f64| kernel_at(tau, fc, half_width);
        r.half = half;
        r.buf = vec![0.0; half];
        r.buf_start = -(half as i64);
        // Phase p of n: the taps for an output p/n of an input sample past
        // input i. Tap j multiplies input i - half + j, at distance
        // frac + half - j from the output's position (the kernel is zero
        // from `half` on, so frac = 1 still fits in the window).
        let width = 2 * half + 1;
        let table = |phases: u64, n: u64| {
            let mut taps = Vec::with_capacity(phases as usize * width);
            for p in 0..phases {
                let frac = p as f64 / n as f64;
                let start = taps.len();
                taps.extend((0..width).map(|j| kernel(frac + half as f64 - j as f64) as f32));
                normalise(&mut taps[start..]);
            }
            taps
        };
        r.kernel = if up <= MAX_PHASES {
            Kernel::Polyphase(table(up, up))
        } else {
            Kernel::Interpolated(table(FINE_PHASES + 1, FINE_PHASES))
        };
        r
    }

    /// Feeds input samples; non-finite ones count as silence.
    pub fn push(&mut self, input: &[f32]) {
        let clean = input.iter().map(|&x| if x.is_finite() { x } else { 0.0 });
        if matches!(self.kernel, Kernel::Identity) {
            self.out.extend(clean);
            self.total_in += input.len() as u64;
            return;
        }
        self.buf.extend(clean);
        self.total_in += input.len() as u64;
        self.emit(None);
        self.compact();
    }

    /// Flushes the tail and returns all output.
    pub fn finish(mut self) -> Vec<f32> {
        if matches!(self.kernel, Kernel::Identity) {
            return self.out;
        }
        let target = self.target_len();
        // Silence after the end lets the last outputs see a full window.
        self.buf.extend(std::iter::repeat_n(0.0, 2 * self.half + 2));
        self.emit(Some(target));
        self.out
            .truncate(usize::try_from(target).unwrap_or(usize::MAX));
        self.out
    }

    /// `round(total_in * up / down)`.
    fn target_len(&self) -> u64 {
        let num = u128::from(self.total_in) * u128::from(self.up);
        let den = u128::from(self.down);
        u64::try_from((2 * num + den) / (2 * den)).unwrap_or(u64::MAX)
    }

    /// Emits outputs while their window lies inside the buffer (or, with
    /// `until`, up to that many outputs, reading silence past the end).
    fn emit(&mut self, until: Option<u64>) {
        let width = 2 * self.half + 1;
        loop {
            if let Some(t) = until {
                if self.next_out >= t {
                    break;
                }
            }
            let pos = u128::from(self.next_out) * u128::from(self.down);
            let up = u128::from(self.up);
            let Ok(centre) = i64::try_from(pos / up) else {
                break;
            };
            let phase = (pos % up) as u64;
            let first = centre - self.half as i64;
            if until.is_none() && (centre + self.half as i64) >= self.total_in as i64 {
                break;
            }
            let Some(window) = usize::try_from(first - self.buf_start)
                .ok()
                .and_then(|s| self.buf.get(s..s + width))
            else {
                break;
            };
            let y = match &self.kernel {
                Kernel::Identity => break,
                Kernel::Polyphase(taps) => {
                    let s = phase as usize * width;
                    match taps.get(s..s + width) {
                        Some(t) => dot(window, t),
                        None => break,
                    }
                }
                Kernel::Interpolated(taps) => {
                    // frac = phase / up lies between fine phases k and k + 1.
                    let fine = u128::from(phase) * u128::from(FINE_PHASES);
                    let k = (fine / up) as usize;
                    let alpha = ((fine % up) as f64 / up as f64) as f32;
                    let (s0, s1) = (k * width, (k + 1) * width);
                    match (taps.get(s0..s0 + width), taps.get(s1..s1 + width)) {
                        (Some(t0), Some(t1)) => {
                            (1.0 - alpha) * dot(window, t0) + alpha * dot(window, t1)
                        }
                        _ => break,
                    }
                }
            };
            self.out.push(y);
            self.next_out += 1;
        }
    }

    /// Drops input no future output needs.
    fn compact(&mut self) {
        let pos = u128::from(self.next_out) * u128::from(self.down);
        let Ok(centre) = i64::try_from(pos / u128::from(self.up.max(1))) else {
            return;
        };
        let needed_from = centre - self.half as i64;
        let Ok(drop) = usize::try_from(needed_from - self.buf_start) else {
            return;
        };
        if drop >= COMPACT_AFTER && drop <= self.buf.len() {
            self.buf.drain(..drop);
            self.buf_start += drop as i64;
        }
    }
}

/// The windowed sinc at `tau` input samples from the centre.
fn kernel_at(tau: f64, fc: f64, half_width: f64) -> f64 {
    let x = tau / half_width;
    if x.abs() >= 1.0 {
        return 0.0;
    }
    let arg = 2.0 * fc * tau;
    let sinc = if arg.abs() < 1e-12 {
        1.0
    } else {
        (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
    };
    let window = bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / bessel_i0(KAISER_BETA);
    2.0 * fc * sinc * window
}

/// Modified Bessel function of the first kind, order zero (power series).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..200 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

fn normalise(taps: &mut [f32]) {
    let sum: f64 = taps.iter().map(|&t| f64::from(t)).sum();
    if sum.abs() > 1e-9 {
        let k = (1.0 / sum) as f32;
        taps.iter_mut().for_each(|t| *t *= k);
    }
}

/// Dot product in eight independent lanes, which the compiler vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<f32> {
        let n = (secs * f64::from(rate)).round() as usize;
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    /// Amplitude of `freq` in the middle second of `x`, and the RMS of what
    /// is left after removing that sinusoid.
    fn fit(x: &[f32], rate: u32, freq: f64) -> (f64, f64) {
        let n = rate as usize;
        let start = (x.len() - n) / 2;
        let seg = &x[start..start + n];
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
        let (mut s, mut c) = (0.0, 0.0);
        for (i, &v) in seg.iter().enumerate() {
            let t = (start + i) as f64;
            s += f64::from(v) * (w * t).sin();
            c += f64::from(v) * (w * t).cos();
        }
        let (s, c) = (2.0 * s / n as f64, 2.0 * c / n as f64);
        let resid: f64 = seg
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let t = (start + i) as f64;
                let r = f64::from(v) - s * (w * t).sin() - c * (w * t).cos();
                r * r
            })
            .sum::<f64>()
            / n as f64;
        ((s * s + c * c).sqrt(), resid.sqrt())
    }

    fn rms_middle(x: &[f32]) -> f64 {
        let seg = &x[x.len() / 4..3 * x.len() / 4];
        (seg.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / seg.len() as f64).sqrt()
    }

    fn db(x: f64) -> f64 {
        20.0 * x.log10()
    }

    #[test]
    fn identity_at_the_same_rate() {
        let x = tone(440.0, 16_000, 0.1, 0.5);
        assert_eq!(resample(&x, 16_000, 16_000), x);
    }

    #[test]
    fn output_length_is_rounded_ratio() {
        for rate in [
            8_000u32, 11_025, 16_000, 22_050, 44_100, 48_000, 12_345, 96_000, 192_000,
        ] {
            for len in [0usize, 1, 2, 7, 1000, 44_101, 100_003] {
                let want = ((len as f64) * 16_000.0 / f64::from(rate)).round() as usize;
                let got = resample(&vec![0.1; len], rate, 16_000).len();
                assert_eq!(got, want, "rate {rate}, len {len}");
            }
        }
    }

    #[test]
    fn dc_is_preserved() {
        for rate in [8_000u32, 11_025, 22_050, 32_000, 44_100, 48_000, 12_345] {
            let y = resample(&vec![0.5; rate as usize], rate, 16_000);
            let mid = &y[y.len() / 4..3 * y.len() / 4];
            for &v in mid {
                assert!((v - 0.5).abs() < 1e-4, "rate {rate}: {v}");
            }
        }
    }

    #[test]
    fn passband_tone_keeps_amplitude_and_frequency() {
        // (input rate, tone): 1 kHz everywhere, plus tones near the top of
        // the passband.
        let cases = [
            (8_000, 1_000.0),
            (11_025, 1_000.0),
            (22_050, 1_000.0),
            (24_000, 1_000.0),
            (32_000, 1_000.0),
            (44_100, 1_000.0),
            (48_000, 1_000.0),
            (12_345, 1_000.0),
            (44_056, 1_000.0),
            (44_056, 6_000.0),
            (8_000, 3_000.0),
            (48_000, 6_000.0),
        ];
        for (rate, f) in cases {
            let y = resample(&tone(f, rate, 3.0, 0.5), rate, 16_000);
            let (amp, resid) = fit(&y, 16_000, f);
            assert!(db(amp / 0.5).abs() < 0.5, "{rate} Hz, {f} Hz tone: {amp}");
            assert!(
                db(resid / 0.5) < -40.0,
                "{rate} Hz, {f} Hz tone: residual {resid}"
            );
        }
    }

    #[test]
    fn tones_above_the_output_nyquist_do_not_alias() {
        // (input rate, output rate, tone): each tone lies above the output
        // Nyquist frequency and would fold back into the band.
        let cases = [
            (48_000, 16_000, 9_000.0),
            (48_000, 16_000, 10_000.0),
            (48_000, 16_000, 12_000.0),
            (48_000, 16_000, 20_000.0),
            (44_100, 16_000, 9_000.0),
            (44_100, 16_000, 15_000.0),
            (22_050, 16_000, 9_000.0),
            (48_000, 8_000, 7_000.0),
            (48_000, 12_345, 7_000.0),
            (44_056, 16_000, 9_000.0),
        ];
        for (rate, out, f) in cases {
            let y = resample(&tone(f, rate, 2.0, 0.5), rate, out);
            // The requirement is -40 dB; the kernel gives better than -90.
            let level = db(rms_middle(&y) / (0.5 / 2f64.sqrt()));
            assert!(level < -60.0, "{f} Hz at {rate} -> {out}: {level:.1} dB");
        }
    }

    #[test]
    fn upsampling_does_not_image() {
        // A 3 kHz tone at 8 kHz would image at 5 kHz at 16 kHz.
        let y = resample(&tone(3_000.0, 8_000, 3.0, 0.5), 8_000, 16_000);
        let (_, resid) = fit(&y, 16_000, 3_000.0);
        assert!(db(resid / 0.5) < -40.0, "residual {resid}");
    }

    #[test]
    fn streaming_matches_one_shot() {
        let x = tone(440.0, 44_100, 5.0, 0.7);
        let whole = resample(&x, 44_100, 16_000);
        let mut r = Resampler::new(44_100, 16_000);
        for chunk in x.chunks(1_152) {
            r.push(chunk);
        }
        assert!(!r.out.is_empty(), "output is produced while streaming");
        assert_eq!(r.finish(), whole);
    }

    #[test]
    fn non_finite_input_is_silence() {
        let y = resample(&[f32::NAN, f32::INFINITY, 0.0, 0.0], 8_000, 16_000);
        assert_eq!(y.len(), 8);
        assert!(y.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn speed() {
        // 60 s of 48 kHz stereo: printed so that a release build
        // (`rustc --test -O`) can be checked against "well under a second".
        let x = tone(440.0, 48_000, 60.0, 0.5);
        let t = std::time::Instant::now();
        let l = resample(&x, 48_000, 16_000);
        let r = resample(&x, 48_000, 16_000);
        let el = t.elapsed();
        eprintln!("60 s of 48 kHz stereo resampled in {el:?}");
        assert_eq!(l.len() + r.len(), 2 * 960_000);
    }
}
