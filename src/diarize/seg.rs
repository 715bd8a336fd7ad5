//! Local speaker tracks from the segmentation model
//! (`crate::embed::SpeakerEncoder::segment`): the mixed signal in 10 s
//! windows every 5 s; each window's three local speakers are matched to
//! the previous window's by how well their activity agrees where the two
//! windows overlap. Where the overlap holds too little speech to tell (a
//! long hold, silence), matching stops and an *island* of new tracks
//! begins: linking islands is left to the speaker encoder's embeddings
//! (`super::voices`). Within an island a track is one voice as the model
//! hears it, even between voices the encoder finds alike.

use crate::embed::{EmbedError, SpeakerEncoder, SEG_FIELD, SEG_HOP, SEG_SPEAKERS, SEG_WINDOW};

/// Samples between window starts (5 s).
const STEP: usize = SEG_WINDOW / 2;
/// Frames of speech both windows must hear in their overlap to match
/// their speakers (about 1 s).
const MIN_LINK_FRAMES: usize = 60;
/// A local speaker is talking when its probability exceeds this.
const ACTIVE: f32 = 0.5;
const RATE: f64 = 16_000.0;

/// Who talks in each model frame (about 17 ms), as track numbers; track
/// `t` belongs to island `t / 3`. `None`: nobody, or two at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracks {
    pub frames: Vec<Option<usize>>,
}

impl Tracks {
    /// The model frame nearest `t` seconds.
    pub fn frame_at(t: f64) -> usize {
        ((t * RATE - SEG_FIELD as f64 / 2.0) / SEG_HOP as f64)
            .round()
            .max(0.0) as usize
    }

    /// The middle of model frame `f`, in seconds.
    pub fn time_of(f: usize) -> f64 {
        (f * SEG_HOP + SEG_FIELD / 2) as f64 / RATE
    }

    /// The track talking at `t` seconds, if any.
    pub fn at(&self, t: f64) -> Option<usize> {
        self.frames.get(Self::frame_at(t)).copied().flatten()
    }

    /// Frames per track.
    pub fn sizes(&self) -> Vec<usize> {
        let n = self.frames.iter().flatten().max().map_or(0, |m| m + 1);
        let mut s = vec![0; n];
        for t in self.frames.iter().flatten() {
            s[*t] += 1;
        }
        s
    }

    /// Seconds of speech in `frames` model frames.
    pub fn seconds(frames: usize) -> f64 {
        frames as f64 * SEG_HOP as f64 / RATE
    }
}

/// Tracks of `pcm` (16 kHz mono).
pub fn tracks(pcm: &[f32], encoder: &SpeakerEncoder) -> Result<Tracks, EmbedError> {
    let total = frames_in(pcm.len().max(SEG_WINDOW));
    let mut starts: Vec<usize> = (0..)
        .map(|i| i * STEP)
        .take_while(|s| s + SEG_WINDOW <= pcm.len())
        .collect();
    if starts.last().is_none_or(|s| s + SEG_WINDOW < pcm.len()) {
        starts.push(pcm.len().saturating_sub(SEG_WINDOW));
    }
    let mut sum = vec![[0.0f32; SEG_SPEAKERS]; total];
    let mut count = vec![0u32; total];
    let mut island_of = vec![0usize; total];
    let mut island = 0usize;
    for (w, &start) in starts.iter().enumerate() {
        let mut window = pcm[start..(start + SEG_WINDOW).min(pcm.len())].to_vec();
        window.resize(SEG_WINDOW, 0.0);
        let act = encoder.segment(&[window])?.pop().unwrap_or_default();
        let f0 = ((start as f64) / SEG_HOP as f64).round() as usize;
        let span = f0..(f0 + act.len()).min(total);
        let act = &act[..span.len()];
        let matched = match w {
            0 => Some([0, 1, 2]),
            _ => best_order(act, &sum[span.clone()], &count[span.clone()]),
        };
        let order = matched.unwrap_or_else(|| {
            // Too little speech in the overlap: a new island from here.
            island += 1;
            for f in span.clone() {
                sum[f] = [0.0; SEG_SPEAKERS];
                count[f] = 0;
            }
            [0, 1, 2]
        });
        for (f, a) in span.zip(act) {
            for (k, &o) in order.iter().enumerate() {
                sum[f][o] += a[k];
            }
            count[f] += 1;
            island_of[f] = island;
        }
    }
    let real = frames_in(pcm.len()).min(total);
    let frames = (0..real)
        .map(|f| {
            let n = count[f].max(1) as f32;
            // Exactly one talking. Two at once (the agent talking over the
            // customer): which is louder says little about whose words
            // these are, so such frames are left to the encoder's windows.
            let mut talking = (0..SEG_SPEAKERS).filter(|&k| sum[f][k] / n > ACTIVE);
            match (talking.next(), talking.next()) {
                (Some(k), None) => Some(island_of[f] * SEG_SPEAKERS + k),
                _ => None,
            }
        })
        .collect();
    Ok(Tracks { frames })
}

fn frames_in(samples: usize) -> usize {
    samples.saturating_sub(SEG_FIELD) / SEG_HOP + 1
}

/// How this window's local speakers map onto the tracks aggregated so far
/// (`sum` / `count` over the same frames): the permutation whose activity
/// agrees best where both hear speech; `None` when the overlap holds fewer
/// than `MIN_LINK_FRAMES` such frames.
fn best_order(
    act: &[[f32; SEG_SPEAKERS]],
    sum: &[[f32; SEG_SPEAKERS]],
    count: &[u32],
) -> Option<[usize; SEG_SPEAKERS]> {
    let both: Vec<usize> = (0..act.len())
        .filter(|&f| count[f] > 0)
        .filter(|&f| {
            let n = count[f] as f32;
            act[f].iter().any(|&p| p > ACTIVE) && sum[f].iter().any(|&p| p / n > ACTIVE)
        })
        .collect();
    if both.len() < MIN_LINK_FRAMES {
        return None;
    }
    const ORDERS: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let cost = |o: &[usize; 3]| -> f32 {
        both.iter()
            .map(|&f| {
                let n = count[f] as f32;
                (0..SEG_SPEAKERS)
                    .map(|k| (act[f][k] - sum[f][o[k]] / n).abs())
                    .sum::<f32>()
            })
            .sum()
    };
    ORDERS
        .iter()
        .min_by(|a, b| cost(a).total_cmp(&cost(b)))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Speaker `k` talking alone, as the model reports it.
    fn only(k: usize) -> [f32; SEG_SPEAKERS] {
        let mut a = [0.02; SEG_SPEAKERS];
        a[k] = 0.95;
        a
    }

    #[test]
    fn windows_are_matched_by_their_overlap_and_silence_starts_an_island() {
        // Aggregated so far: track 0 then track 1 talking, 100 frames each.
        let sum: Vec<[f32; 3]> = (0..200).map(|f| only(usize::from(f >= 100))).collect();
        let count = vec![1u32; 200];
        // The new window calls them its speakers 2 and 0.
        let act: Vec<[f32; 3]> = (0..200)
            .map(|f| only(if f < 100 { 2 } else { 0 }))
            .collect();
        let o = best_order(&act, &sum, &count).expect("enough speech to match");
        assert_eq!((o[2], o[0]), (0, 1), "{o:?}");
        // Silence in the overlap: nothing to match on.
        let quiet = vec![[0.01f32; 3]; 200];
        assert_eq!(best_order(&quiet, &sum, &count), None);
        // Frames no earlier window covered do not count.
        assert_eq!(best_order(&act, &sum, &[0u32; 200]), None);
    }

    #[test]
    fn frames_and_seconds_agree() {
        for t in [0.5, 3.0, 61.25] {
            let f = Tracks::frame_at(t);
            assert!((Tracks::time_of(f) - t).abs() < 0.01, "{t} -> {f}");
        }
        let tracks = Tracks {
            frames: vec![None, Some(1), Some(1), Some(4)],
        };
        assert_eq!(tracks.sizes(), vec![0, 2, 0, 0, 1]);
    }
}
