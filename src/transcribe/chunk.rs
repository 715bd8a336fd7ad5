//! Packs the speech regions of one channel into Whisper windows and maps
//! recognised tokens back to the regions they came from.
//!
//! Whisper's encoder always runs on a 30 s window, so transcribing each
//! speech region on its own would pay for a full window per utterance, and
//! running it over the whole channel would spend most of the time on
//! silence (each side of a dual-channel call is silent while the other
//! speaks) and invite hallucinations there. Instead the regions are laid
//! end to end, separated by short silent gaps, into windows of at most
//! `MAX_WINDOW_S`; every token's time then says which region it belongs to.

use crate::domain::Span;

/// Longest audio handed to Whisper at once (its window is 30 s).
pub const MAX_WINDOW_S: f64 = 28.0;
/// Silence laid between two regions inside a window: long enough that
/// Whisper's token times fall clearly on one side.
pub const GAP_S: f64 = 1.2;
const RATE: f64 = 16_000.0;
/// The window limit for one job whose signals hold `speech_s` seconds of
/// speech in all, decoded by `workers` threads at once: about an equal
/// share each, so that a short call's one long window (say, the agent's
/// side) does not keep one thread busy while the others wait. Between
/// `min_s` and [`MAX_WINDOW_S`]; a long call keeps full windows, as its
/// many windows already spread over the threads.
pub fn balanced_window_s(speech_s: f64, workers: usize, min_s: f64) -> f64 {
    // Each region added to a window also adds a gap.
    let share = speech_s / workers.max(1) as f64 + GAP_S;
    share.clamp(min_s.clamp(1.0, MAX_WINDOW_S), MAX_WINDOW_S)
}

/// One speech region's place in a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    /// Where the region lies in the recording, in seconds.
    pub orig: Span,
    /// Where it starts inside the window, in seconds.
    pub at: f64,
}

impl Piece {
    fn end_in_window(&self) -> f64 {
        self.at + self.orig.len()
    }
}

/// Audio for one Whisper call and the regions it holds.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub samples: Vec<f32>,
    pub pieces: Vec<Piece>,
}

impl Window {
    /// The index of the piece a time inside the window belongs to: the one
    /// that contains it, else the nearest.
    pub fn piece_at(&self, t: f64) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (i, p) in self.pieces.iter().enumerate() {
            let d = if t < p.at {
                p.at - t
            } else if t > p.end_in_window() {
                t - p.end_in_window()
            } else {
                0.0
            };
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((i, d));
            }
        }
        best.map(|(i, _)| i)
    }
}

fn idx(t: f64, len: usize) -> usize {
    ((t * RATE).round().max(0.0) as usize).min(len)
}

/// Splits regions longer than a window into window-sized slices. (Equal
/// slices, 20 + 20 + 20 s for a 60 s monologue instead of 28 + 28 + 4 s,
/// were tried: on a 123 s recorded reading a sentence at a new cut point
/// was lost, and the short slice no longer shared a window with the next
/// region; docs/calls.md.)
fn slices(regions: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for r in regions {
        let mut s = r.start;
        while r.end - s > MAX_WINDOW_S {
            out.push(Span {
                start: s,
                end: s + MAX_WINDOW_S,
            });
            s += MAX_WINDOW_S;
        }
        if r.end > s {
            out.push(Span {
                start: s,
                end: r.end,
            });
        }
    }
    out
}

/// Lays the regions of `samples` (16 kHz) into windows, in order.
pub fn pack(samples: &[f32], regions: &[Span]) -> Vec<Window> {
    pack_within(samples, regions, MAX_WINDOW_S)
}

/// [`pack`] into windows of at most `max_s` seconds (at most
/// [`MAX_WINDOW_S`]) where the regions allow: shorter windows let the
/// threads of one short call share its work (see [`balanced_window_s`]).
/// Only whole regions are moved to the next window; a region is sliced
/// only where it is longer than a full window, as Whisper reads a sentence
/// cut in the middle worse. The regions go into as few windows as the
/// limit allows, and those windows are made as even as the regions let
/// them: a channel with 27 s of speech gets two windows of about 14 s, not
/// one of 26 s and one of 1 s, which would cost more encoder frames (the
/// short one is padded to the context floor) and quadratically more
/// attention.
pub fn pack_within(samples: &[f32], regions: &[Span], max_s: f64) -> Vec<Window> {
    let max_s = max_s.clamp(1.0, MAX_WINDOW_S);
    let spans: Vec<(usize, usize)> = slices(regions)
        .into_iter()
        .map(|r| (idx(r.start, samples.len()), idx(r.end, samples.len())))
        .filter(|(a, b)| b > a)
        .collect();
    let lens: Vec<f64> = spans.iter().map(|(a, b)| (b - a) as f64 / RATE).collect();
    let n = count(&lens, max_s);
    // The smallest limit that keeps `n` windows (bisection; the greedy
    // count only falls as the limit grows).
    let (mut lo, mut hi) = (0.0f64, max_s);
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        if count(&lens, mid) <= n {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let gap = vec![0.0f32; (GAP_S * RATE) as usize];
    let mut windows: Vec<Window> = Vec::with_capacity(n);
    for ((a, b), w) in spans.into_iter().zip(plan(&lens, hi)) {
        if windows.len() <= w {
            windows.push(Window::default());
        }
        let cur = &mut windows[w];
        if !cur.pieces.is_empty() {
            cur.samples.extend_from_slice(&gap);
        }
        let at = cur.samples.len() as f64 / RATE;
        cur.samples.extend_from_slice(&samples[a..b]);
        cur.pieces.push(Piece {
            orig: Span {
                start: a as f64 / RATE,
                end: b as f64 / RATE,
            },
            at,
        });
    }
    windows
}

/// How many windows [`plan`] lays the regions into.
fn count(lens: &[f64], limit: f64) -> usize {
    plan(lens, limit).last().map_or(0, |w| w + 1)
}

/// The window of each region when regions of these lengths are laid end to
/// end, a gap between two, and a new window starts wherever the next would
/// pass `limit` (a region longer than the limit still gets a window).
fn plan(lens: &[f64], limit: f64) -> Vec<usize> {
    let mut out = Vec::with_capacity(lens.len());
    let (mut w, mut used) = (0usize, None::<f64>);
    for &len in lens {
        used = Some(match used {
            None => len,
            Some(u) if u + GAP_S + len > limit => {
                w += 1;
                len
            }
            Some(u) => u + GAP_S + len,
        });
        out.push(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: f64, end: f64) -> Span {
        Span { start, end }
    }

    #[test]
    fn packs_regions_with_gaps_and_maps_back() {
        let samples = vec![0.1f32; (100.0 * RATE) as usize];
        // (regions, expected windows as [(orig start, at)])
        // Per window, each piece as (start in the recording, start in the window).
        type Layout = Vec<Vec<(f64, f64)>>;
        let cases: Vec<(Vec<Span>, Layout)> = vec![
            (vec![], vec![]),
            (vec![span(1.0, 3.0)], vec![vec![(1.0, 0.0)]]),
            (
                vec![span(1.0, 3.0), span(10.0, 11.0)],
                vec![vec![(1.0, 0.0), (10.0, 3.2)]],
            ),
            // 20 s + 1.2 + 10 s exceeds a window: two windows.
            (
                vec![span(0.0, 20.0), span(30.0, 40.0)],
                vec![vec![(0.0, 0.0)], vec![(30.0, 0.0)]],
            ),
            // A 60 s monologue is sliced.
            (
                vec![span(0.0, 60.0)],
                vec![vec![(0.0, 0.0)], vec![(28.0, 0.0)], vec![(56.0, 0.0)]],
            ),
            // 12 s, 14 s and 2 s need two windows: made as even as the
            // regions allow (12 s and 17.2 s), not 27.2 s and 2 s.
            (
                vec![span(0.0, 12.0), span(15.0, 29.0), span(30.0, 32.0)],
                vec![vec![(0.0, 0.0)], vec![(15.0, 0.0), (30.0, 15.2)]],
            ),
        ];
        for (regions, want) in cases {
            let got: Vec<Vec<(f64, f64)>> = pack(&samples, &regions)
                .iter()
                .map(|w| {
                    w.pieces
                        .iter()
                        .map(|p| {
                            (
                                (p.orig.start * 100.0).round() / 100.0,
                                (p.at * 100.0).round() / 100.0,
                            )
                        })
                        .collect()
                })
                .collect();
            assert_eq!(got, want, "regions {regions:?}");
        }
    }

    #[test]
    fn window_lengths_stay_under_the_limit() {
        let samples = vec![0.1f32; (300.0 * RATE) as usize];
        let regions: Vec<Span> = (0..60)
            .map(|i| span(i as f64 * 5.0, i as f64 * 5.0 + 3.0))
            .collect();
        let windows = pack(&samples, &regions);
        assert_eq!(windows.iter().map(|w| w.pieces.len()).sum::<usize>(), 60);
        for w in &windows {
            assert!(w.samples.len() as f64 / RATE <= MAX_WINDOW_S + 1e-9);
        }
    }

    #[test]
    fn short_calls_are_cut_into_shares_for_the_threads() {
        // (speech seconds, threads, limit)
        for (speech, workers, want) in [
            (22.0, 2, 12.2),
            (22.0, 1, 23.2),
            (4.0, 2, 8.0),
            (200.0, 2, MAX_WINDOW_S),
            (10.0, 0, 11.2),
        ] {
            let got = balanced_window_s(speech, workers, 8.0);
            assert!((got - want).abs() < 1e-9, "{speech} s on {workers}: {got}");
        }
        assert_eq!(balanced_window_s(22.0, 2, 40.0), MAX_WINDOW_S);
        // Three 6 s regions, which fit one full window, make three windows
        // within 12.2 s and two within 13.3 s.
        let samples = vec![0.1f32; (40.0 * RATE) as usize];
        let regions = [span(0.0, 6.0), span(10.0, 16.0), span(20.0, 26.0)];
        assert_eq!(pack(&samples, &regions).len(), 1);
        let w = pack_within(&samples, &regions, 12.2);
        assert_eq!(
            w.iter().map(|w| w.pieces.len()).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        let w = pack_within(&samples, &regions, 13.3);
        assert_eq!(
            w.iter().map(|w| w.pieces.len()).collect::<Vec<_>>(),
            vec![2, 1]
        );
        // A sentence is never cut for balance, only past a full window.
        assert_eq!(pack_within(&samples, &[span(0.0, 20.0)], 8.0).len(), 1);
    }

    #[test]
    fn times_map_to_the_nearest_piece() {
        let samples = vec![0.1f32; (20.0 * RATE) as usize];
        let w = &pack(&samples, &[span(1.0, 3.0), span(10.0, 11.0)])[0];
        // piece 0 at 0..2, gap 2..3.2, piece 1 at 3.2..4.2
        for (t, want) in [(0.5, 0), (1.99, 0), (2.5, 0), (2.7, 1), (3.5, 1), (9.0, 1)] {
            assert_eq!(w.piece_at(t), Some(want), "t = {t}");
        }
    }

    #[test]
    fn regions_past_the_end_are_clamped() {
        let samples = vec![0.1f32; (5.0 * RATE) as usize];
        let w = pack(&samples, &[span(4.0, 9.0), span(6.0, 7.0)]);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].pieces.len(), 1);
        assert!((w[0].pieces[0].orig.end - 5.0).abs() < 1e-9);
    }
}
