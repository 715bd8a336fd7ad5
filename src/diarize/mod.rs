//! Diarize stage: who spoke when on a mono call, where agent and customer
//! share one channel. Two models (`crate::embed::speaker`):
//! - the segmentation model hears who talks within 10 s windows; its local
//!   speakers are matched across windows into *tracks* (`seg`);
//! - the speech found by voice activity detection is cut into overlapping
//!   1.6 s windows (0.4 s apart), each embedded by the speaker encoder
//!   (GE2E), and the windows are clustered into two voices (2-means on
//!   cosine similarity, started from the two least alike windows).
//!
//! Each track takes the voice most of its windows fell in; when the two
//! clusters are too alike to tell apart (cosine at or above
//! `max_similarity`), two long tracks heard side by side still make two
//! voices. Each 10 ms of speech takes its track's voice, else that of the
//! nearest window centre; short stretches are absorbed by their
//! neighbours. With one voice the transcript keeps its utterances and the
//! roles come from what is said, as before.
//!
//! [`split`] then cuts the transcript's utterances where the voice
//! changes, by the recognizer's token times, so one Whisper window holding
//! both speakers becomes two utterances; `transcribe::roles` names the
//! voices agent and customer.

pub mod mel;
mod seg;

use crate::domain::Span;
use crate::embed::{EmbedError, SpeakerEncoder, MEL_BANDS};
use crate::transcribe::{align_clock, Transcript, Utterance};

/// `[diarize]` settings (defaults chosen on synthetic voices; see
/// docs/calls.md for the figures).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiarizeOptions {
    /// Window length and step, in 10 ms frames (the encoder was trained on
    /// 160-frame windows).
    pub window_frames: usize,
    pub hop_frames: usize,
    /// Two voices whose centroids are at least this similar (cosine) are
    /// one voice as far as callqa can tell.
    pub max_similarity: f64,
    /// Voice stretches shorter than this (seconds) join their neighbours.
    pub min_stretch_s: f64,
}

impl Default for DiarizeOptions {
    fn default() -> Self {
        DiarizeOptions {
            window_frames: 160,
            hop_frames: 40,
            max_similarity: 0.85,
            min_stretch_s: 0.3,
        }
    }
}

/// Who spoke when.
#[derive(Debug, Clone, PartialEq)]
pub struct Voices {
    /// Speech in time order, each stretch with its voice (0 or 1).
    pub stretches: Vec<(Span, usize)>,
    /// Voices told apart: 2, or 1 (one voice, or two too alike).
    pub count: usize,
    /// Cosine similarity of the two voice centroids (1: identical).
    pub similarity: f64,
    /// Windows embedded.
    pub windows: usize,
}

impl Voices {
    /// The voice speaking at `t` seconds: the stretch holding it, else the
    /// nearest one.
    pub fn at(&self, t: f64) -> Option<usize> {
        self.stretches
            .iter()
            .min_by(|a, b| dist(&a.0, t).total_cmp(&dist(&b.0, t)))
            .map(|s| s.1)
    }
}

fn dist(s: &Span, t: f64) -> f64 {
    if t < s.start {
        s.start - t
    } else if t > s.end {
        t - s.end
    } else {
        0.0
    }
}

const FRAME_S: f64 = 0.01;
const RATE: f64 = 16_000.0;
/// Windows shorter than this (frames) say too little about a voice.
const MIN_WINDOW_FRAMES: usize = 40;
/// Most windows per encoder call.
const BATCH: usize = 32;

/// One window to embed: the region it lies in, its first frame there and
/// its length in frames.
struct Window {
    region: usize,
    first: usize,
    frames: usize,
}

impl Window {
    /// Its middle, in frames from its region's start.
    fn centre(&self) -> f64 {
        self.first as f64 + self.frames as f64 / 2.0
    }
}

/// Who spoke when in `pcm` (16 kHz mono), within the `speech` regions.
pub fn voices(
    pcm: &[f32],
    speech: &[Span],
    encoder: &SpeakerEncoder,
    opts: &DiarizeOptions,
) -> Result<Voices, EmbedError> {
    let regions = mel_regions(pcm, speech);
    let windows = plan_windows(
        &regions,
        opts.window_frames.max(MIN_WINDOW_FRAMES),
        opts.hop_frames.max(1),
    );
    let embeddings = embed_windows(&regions, &windows, encoder)?;
    let (labels, similarity) = two_means(&embeddings);
    let by_encoder = similarity < opts.max_similarity
        && labels.iter().filter(|&&l| l == 0).count() >= 2
        && labels.iter().filter(|&&l| l == 1).count() >= 2;
    let tracks = seg::tracks(pcm, encoder)?;
    let centre_time = |w: &Window| speech[w.region].start + w.centre() * FRAME_S;
    let in_track: Vec<Option<usize>> = windows.iter().map(|w| tracks.at(centre_time(w))).collect();
    let (track_voice, separate) = if by_encoder {
        (majority_voices(&tracks, &in_track, &labels), true)
    } else {
        match alike_voices(&tracks, &in_track, &embeddings) {
            Some(v) => (v, true),
            None => (Vec::new(), false),
        }
    };
    let mut stretches: Vec<(Span, usize)> = Vec::new();
    for (i, r) in speech.iter().enumerate() {
        let centres: Vec<(f64, usize)> = windows
            .iter()
            .zip(&labels)
            .filter(|(win, _)| win.region == i)
            .map(|(win, &l)| (win.centre(), l))
            .collect();
        let heard = |t: f64| {
            tracks
                .at(t)
                .and_then(|k| track_voice.get(k).copied().flatten())
        };
        stretches.extend(region_stretches(
            r,
            regions[i].len(),
            &centres,
            separate,
            &heard,
        ));
    }
    if separate {
        stretches.extend(unheard_by_vad(
            &tracks,
            &track_voice,
            speech,
            opts.min_stretch_s,
        ));
        stretches.sort_by(|a, b| a.0.start.total_cmp(&b.0.start));
    }
    let stretches = tidy(stretches, opts.min_stretch_s);
    Ok(Voices {
        count: if separate { 2 } else { 1 },
        stretches,
        similarity,
        windows: windows.len(),
    })
}

/// A track needs this much speech (seconds) to count as a voice of its
/// own when the encoder finds the voices alike.
const MIN_TRACK_S: f64 = 2.0;

/// Voices told apart by the encoder: each track takes the voice most of
/// its windows were clustered into (so one speaker's track stays one voice
/// even where single windows stray); tracks without windows stay
/// undecided.
fn majority_voices(
    tracks: &seg::Tracks,
    in_track: &[Option<usize>],
    labels: &[usize],
) -> Vec<Option<usize>> {
    let mut votes = vec![[0usize; 2]; tracks.sizes().len()];
    for (t, &l) in in_track.iter().zip(labels) {
        if let Some(t) = t {
            votes[*t][l.min(1)] += 1;
        }
    }
    votes
        .iter()
        .map(|v| match v[0].cmp(&v[1]) {
            std::cmp::Ordering::Greater => Some(0),
            std::cmp::Ordering::Less => Some(1),
            std::cmp::Ordering::Equal => None,
        })
        .collect()
}

/// Voices the encoder finds alike, told apart by the segmentation model:
/// the island where its two largest tracks are largest (each at least
/// `MIN_TRACK_S`) names voices 0 and 1; every other track takes the voice
/// whose windows' mean embedding is nearer its own, an island's two
/// largest tracks never the same one (tracks without embedded windows
/// stay undecided outside that island). `None` when no island holds two
/// such tracks: one voice, as far as callqa can tell.
fn alike_voices(
    tracks: &seg::Tracks,
    in_track: &[Option<usize>],
    embeddings: &[Vec<f32>],
) -> Option<Vec<Option<usize>>> {
    let sizes = tracks.sizes();
    let per = crate::embed::SEG_SPEAKERS;
    let islands = sizes.len().div_ceil(per);
    let largest = |i: usize| -> Option<(usize, usize)> {
        let mut t: Vec<usize> = (i * per..((i + 1) * per).min(sizes.len())).collect();
        t.sort_by_key(|&k| std::cmp::Reverse(sizes[k]));
        (t.len() >= 2).then(|| (t[0], t[1]))
    };
    // Each track's mean window embedding, in one pass over the windows.
    let dim = embeddings.first().map_or(0, Vec::len);
    let mut sums = vec![(vec![0.0f64; dim], 0usize); sizes.len()];
    for (t, e) in in_track.iter().zip(embeddings) {
        if let Some((sum, n)) = t.and_then(|t| sums.get_mut(t)) {
            sum.iter_mut().zip(e).for_each(|(s, x)| *s += *x as f64);
            *n += 1;
        }
    }
    let means: Vec<Option<Vec<f64>>> = sums
        .into_iter()
        .map(|(sum, n)| (n > 0).then(|| normalised(sum)))
        .collect();
    let mean = |k: usize| means[k].as_deref();
    let (a, b) = (0..islands)
        .filter_map(largest)
        .filter(|&(_, b)| seg::Tracks::seconds(sizes[b]) >= MIN_TRACK_S)
        .max_by_key(|&(_, b)| sizes[b])?;
    let (ca, cb) = (mean(a), mean(b));
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    // Nearer voice 1's windows than voice 0's (`None`: no windows to tell).
    let nearer_b = |c: &[f64]| -> Option<bool> { Some(dot(c, cb?) > dot(c, ca?)) };
    let mut voice: Vec<Option<usize>> = (0..sizes.len())
        .map(|k| mean(k).and_then(nearer_b).map(usize::from))
        .collect();
    for i in 0..islands {
        let Some((x, y)) = largest(i) else { continue };
        if seg::Tracks::seconds(sizes[y]) < MIN_TRACK_S {
            continue;
        }
        if let (Some(cx), Some(cy), Some(ca), Some(cb)) = (mean(x), mean(y), ca, cb) {
            // The pairing that puts each nearer its own voice.
            let keep = dot(cx, ca) + dot(cy, cb) >= dot(cx, cb) + dot(cy, ca);
            voice[x] = Some(usize::from(!keep));
            voice[y] = Some(usize::from(keep));
        }
    }
    voice[a] = Some(0);
    voice[b] = Some(1);
    Some(voice)
}

/// Speech the segmentation model hears, with a voice, where voice activity
/// detection heard none (a quiet speaker beside a loud one): stretches of
/// at least `min_s` seconds, so the words there take their own voice
/// instead of the nearest stretch's.
fn unheard_by_vad(
    tracks: &seg::Tracks,
    track_voice: &[Option<usize>],
    speech: &[Span],
    min_s: f64,
) -> Vec<(Span, usize)> {
    // Which model frames the detector's regions cover.
    let mut covered = vec![false; tracks.frames.len()];
    for r in speech {
        let (a, b) = (seg::Tracks::frame_at(r.start), seg::Tracks::frame_at(r.end));
        for c in covered.iter_mut().take(b + 1).skip(a) {
            *c = true;
        }
    }
    let voice_at = |f: usize| -> Option<usize> {
        if covered[f] {
            return None;
        }
        track_voice.get(tracks.frames[f]?).copied().flatten()
    };
    let mut out = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    for f in 0..=tracks.frames.len() {
        let v = (f < tracks.frames.len()).then(|| voice_at(f)).flatten();
        match (run, v) {
            (Some((_, cur)), Some(v)) if cur == v => {}
            _ => {
                if let Some((start, cur)) = run {
                    let span = Span {
                        start: seg::Tracks::time_of(start),
                        end: seg::Tracks::time_of(f),
                    };
                    if span.len() >= min_s {
                        out.push((span, cur));
                    }
                }
                run = v.map(|v| (f, v));
            }
        }
    }
    out
}

/// Mel frames per speech region, after raising each region to −30 dBFS
/// (as the encoder was trained; quieter speech is louder, never the
/// reverse).
fn mel_regions(pcm: &[f32], speech: &[Span]) -> Vec<Vec<[f32; MEL_BANDS]>> {
    // The DFT tables and filter bank, built once per process.
    static MEL: std::sync::LazyLock<mel::Mel> = std::sync::LazyLock::new(mel::Mel::new);
    let mel = &*MEL;
    speech
        .iter()
        .map(|r| {
            let a = ((r.start * RATE) as usize).min(pcm.len());
            let b = ((r.end * RATE) as usize).clamp(a, pcm.len());
            mel.frames(&louder(&pcm[a..b]))
        })
        .collect()
}

/// The windows to embed: `w` frames long, `hop` apart, the last one
/// ending at its region's end; a region shorter than `w` is one window,
/// and one shorter than `MIN_WINDOW_FRAMES` none.
fn plan_windows(regions: &[Vec<[f32; MEL_BANDS]>], w: usize, hop: usize) -> Vec<Window> {
    let mut windows: Vec<Window> = Vec::new();
    for (i, frames) in regions.iter().enumerate() {
        let n = frames.len();
        if n < MIN_WINDOW_FRAMES {
            continue;
        }
        if n <= w {
            windows.push(Window {
                region: i,
                first: 0,
                frames: n,
            });
            continue;
        }
        let mut first = 0;
        loop {
            windows.push(Window {
                region: i,
                first,
                frames: w,
            });
            if first + w >= n {
                break;
            }
            first = (first + hop).min(n - w);
        }
    }
    windows
}

/// The voice stretches of one speech region `r` of `n` frames: each frame
/// takes the voice of the segmentation track talking then (`heard`), else
/// that of the nearest window centre in the region (`centres`: frame,
/// voice); all voice 0 when the voices are not `separate`.
fn region_stretches(
    r: &Span,
    n: usize,
    centres: &[(f64, usize)],
    separate: bool,
    heard: &dyn Fn(f64) -> Option<usize>,
) -> Vec<(Span, usize)> {
    let mut stretches = Vec::new();
    let mut run: Option<(f64, usize)> = None;
    for f in 0..n {
        let v = if !separate {
            0
        } else if let Some(v) = heard(r.start + f as f64 * FRAME_S) {
            v
        } else {
            match centres
                .iter()
                .min_by(|a, b| (a.0 - f as f64).abs().total_cmp(&(b.0 - f as f64).abs()))
            {
                Some(&(_, l)) => l,
                // A region too short to embed: decided by its neighbours
                // (`tidy`).
                None => usize::MAX,
            }
        };
        let t = r.start + f as f64 * FRAME_S;
        match run {
            Some((_, cur)) if cur == v => {}
            Some((start, cur)) => {
                stretches.push((Span { start, end: t }, cur));
                run = Some((t, v));
            }
            None => run = Some((r.start, v)),
        }
    }
    if let Some((start, cur)) = run {
        stretches.push((Span { start, end: r.end }, cur));
    }
    stretches
}

/// Raises quiet audio to −30 dBFS RMS (Resemblyzer's normalisation).
fn louder(x: &[f32]) -> Vec<f32> {
    let rms = (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt();
    if rms <= 1e-9 {
        return x.to_vec();
    }
    let gain_db = -30.0 - 20.0 * rms.log10();
    if gain_db <= 0.0 {
        return x.to_vec();
    }
    let g = 10f64.powf(gain_db / 20.0) as f32;
    x.iter().map(|v| v * g).collect()
}

fn embed_windows(
    regions: &[Vec<[f32; MEL_BANDS]>],
    windows: &[Window],
    encoder: &SpeakerEncoder,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let mut out: Vec<Option<Vec<f32>>> = vec![None; windows.len()];
    // Batches of windows of one length.
    let mut lengths: Vec<usize> = windows.iter().map(|w| w.frames).collect();
    lengths.sort_unstable();
    lengths.dedup();
    for len in lengths {
        let idx: Vec<usize> = (0..windows.len())
            .filter(|&i| windows[i].frames == len)
            .collect();
        for chunk in idx.chunks(BATCH) {
            let batch: Vec<Vec<f32>> = chunk
                .iter()
                .map(|&i| {
                    let w = &windows[i];
                    regions[w.region][w.first..w.first + w.frames]
                        .iter()
                        .flatten()
                        .copied()
                        .collect()
                })
                .collect();
            for (&i, e) in chunk.iter().zip(encoder.embed(&batch, len)?) {
                out[i] = Some(e);
            }
        }
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

fn cos(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum()
}

fn normalised(mut v: Vec<f64>) -> Vec<f64> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// Two clusters of unit vectors: 2-means on cosine, started from the two
/// least alike vectors. Returns each vector's cluster and the cosine of
/// the two centroids (1.0 when there are fewer than two vectors).
pub fn two_means(e: &[Vec<f32>]) -> (Vec<usize>, f64) {
    if e.len() < 2 {
        return (vec![0; e.len()], 1.0);
    }
    let (mut a, mut b, mut low) = (0, 1, f64::INFINITY);
    for i in 0..e.len() {
        for j in i + 1..e.len() {
            let c = cos(&e[i], &e[j]);
            if c < low {
                (a, b, low) = (i, j, c);
            }
        }
    }
    let as64 = |v: &[f32]| v.iter().map(|x| *x as f64).collect::<Vec<f64>>();
    let mut centroids = [as64(&e[a]), as64(&e[b])];
    let mut labels = vec![0usize; e.len()];
    for _ in 0..20 {
        let next: Vec<usize> = e
            .iter()
            .map(|v| {
                let s = |c: &[f64]| v.iter().zip(c).map(|(x, y)| *x as f64 * y).sum::<f64>();
                usize::from(s(&centroids[1]) > s(&centroids[0]))
            })
            .collect();
        let changed = next != labels;
        labels = next;
        for (k, c) in centroids.iter_mut().enumerate() {
            let mut sum = vec![0.0f64; c.len()];
            let mut n = 0;
            for (v, _) in e.iter().zip(&labels).filter(|(_, &l)| l == k) {
                sum.iter_mut().zip(v).for_each(|(s, x)| *s += *x as f64);
                n += 1;
            }
            if n > 0 {
                *c = normalised(sum);
            }
        }
        if !changed {
            break;
        }
    }
    let sim = centroids[0]
        .iter()
        .zip(&centroids[1])
        .map(|(x, y)| x * y)
        .sum::<f64>();
    (labels, sim)
}

/// Stretches closer than this are one stretch of speech (touching).
const TOUCH_S: f64 = 0.011;

/// Gives undecided stretches (too short to embed) the voice of the nearest
/// decided one, merges touching stretches of one voice, and gives a
/// stretch shorter than `min_s` that touches another voice the voice of
/// its longer such neighbour (a blip inside someone's speech is theirs).
/// Stretches separated by a pause keep their own voice however short.
fn tidy(mut s: Vec<(Span, usize)>, min_s: f64) -> Vec<(Span, usize)> {
    for i in 0..s.len() {
        if s[i].1 == usize::MAX {
            let t = (s[i].0.start + s[i].0.end) / 2.0;
            s[i].1 = s
                .iter()
                .filter(|(_, v)| *v != usize::MAX)
                .min_by(|a, b| dist(&a.0, t).total_cmp(&dist(&b.0, t)))
                .map_or(0, |x| x.1);
        }
    }
    loop {
        let mut merged: Vec<(Span, usize)> = Vec::with_capacity(s.len());
        for (span, v) in s {
            match merged.last_mut() {
                Some((last, lv)) if *lv == v && span.start - last.end < TOUCH_S => {
                    last.end = span.end;
                }
                _ => merged.push((span, v)),
            }
        }
        s = merged;
        // Each relabelling merges a stretch into a neighbour: this ends.
        let pick = (0..s.len())
            .filter(|&i| s[i].0.len() < min_s)
            .filter_map(|i| touching_other(&s, i).map(|v| (i, v)))
            .min_by(|a, b| s[a.0].0.len().total_cmp(&s[b.0].0.len()));
        let Some((i, v)) = pick else {
            break;
        };
        s[i].1 = v;
    }
    s
}

/// The voice of the longer neighbour of stretch `i` that touches it and
/// has another voice.
fn touching_other(s: &[(Span, usize)], i: usize) -> Option<usize> {
    let (own, span) = (s[i].1, s[i].0);
    let before = i
        .checked_sub(1)
        .map(|j| s[j])
        .filter(|(p, v)| *v != own && span.start - p.end < TOUCH_S);
    let after = s
        .get(i + 1)
        .copied()
        .filter(|(n, v)| *v != own && n.start - span.end < TOUCH_S);
    match (before, after) {
        (Some(a), Some(b)) => Some(if a.0.len() >= b.0.len() { a.1 } else { b.1 }),
        (Some(a), None) => Some(a.1),
        (None, Some(b)) => Some(b.1),
        (None, None) => None,
    }
}

/// Cuts the transcript's utterances where the voice changes (by the
/// recognizer's token times) and gives each its voice. With one voice
/// nothing changes.
pub fn split(t: &mut Transcript, voices: &Voices) {
    if voices.count < 2 {
        return;
    }
    let language_cjk = t.language == crate::domain::Language::Zh;
    let mut out: Vec<Utterance> = Vec::with_capacity(t.utterances.len());
    for u in t.utterances.drain(..) {
        if u.speaker.is_some() {
            out.push(u);
            continue;
        }
        out.extend(split_one(u, voices, language_cjk));
    }
    t.utterances = out;
}

/// One utterance cut at voice changes between its timed characters.
fn split_one(u: Utterance, voices: &Voices, cjk: bool) -> Vec<Utterance> {
    let chars: Vec<char> = u.text.chars().collect();
    let clock = align_clock(&u.text, &u.timed);
    let whole = |u: Utterance, voice: Option<usize>| {
        vec![Utterance {
            voice: voice.or_else(|| voices.at((u.span.start + u.span.end) / 2.0)),
            ..u
        }]
    };
    if clock.is_empty() {
        return whole(u, None);
    }
    // Voice per timed character, then per character (an untimed one
    // follows the timed one before it, or the first).
    let mut voice_of: Vec<Option<usize>> = vec![None; chars.len()];
    for &(i, t) in &clock {
        voice_of[i] = voices.at(t);
    }
    let mut last = voice_of[clock[0].0];
    for v in voice_of.iter_mut() {
        match v {
            Some(_) => last = *v,
            None => *v = last,
        }
    }
    // Cut points: where the voice changes; in space-separated text, moved
    // back to the start of the word.
    let mut cuts: Vec<usize> = Vec::new();
    for i in 1..chars.len() {
        if voice_of[i] != voice_of[i - 1] && chars[i].is_alphanumeric() {
            let mut at = i;
            if !cjk {
                while at > 0 && !chars[at - 1].is_whitespace() {
                    at -= 1;
                }
            }
            if cuts.last().is_none_or(|&c| at > c) && at > 0 {
                cuts.push(at);
            }
        }
    }
    if cuts.is_empty() {
        return whole(u, voice_of[clock[0].0]);
    }
    let time_of = |c: usize| {
        clock
            .iter()
            .find(|&&(i, _)| i >= c)
            .map(|&(_, t)| t)
            .unwrap_or(u.span.end)
    };
    let mut bounds = vec![0];
    bounds.extend(&cuts);
    bounds.push(chars.len());
    let mut pieces = Vec::new();
    for k in 0..bounds.len() - 1 {
        let (a, b) = (bounds[k], bounds[k + 1]);
        let text: String = chars[a..b].iter().collect::<String>().trim().to_owned();
        if !text.chars().any(char::is_alphanumeric) {
            continue;
        }
        let start = if k == 0 {
            u.span.start
        } else {
            time_of(a).clamp(u.span.start, u.span.end)
        };
        let end = if k + 2 == bounds.len() {
            u.span.end
        } else {
            time_of(b).clamp(start, u.span.end)
        };
        let timed: Vec<(char, f64)> = u
            .timed
            .iter()
            .copied()
            .filter(|&(_, t)| t >= start && (t < end || k + 2 == bounds.len()))
            .collect();
        let voice = voice_of[a..b].iter().flatten().next().copied();
        pieces.push(Utterance {
            speaker: None,
            span: Span { start, end },
            text,
            timed,
            voice,
        });
    }
    if pieces.is_empty() {
        return whole(u, None);
    }
    pieces
}

#[cfg(test)]
mod tests;
