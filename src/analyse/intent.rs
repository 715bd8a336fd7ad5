//! Intent: the pack's taxonomy (`[[intents]]`, each defined by example
//! phrases in the pack's language) matched by meaning. Each customer turn
//! gets an intent, or `unknown` when even the nearest example is below the
//! pack's threshold; the conversation's contact reason is the
//! best-matched intent over its customer turns.
//!
//! Two questions, answered separately: *is the turn about any intent?* —
//! its similarity to the nearest example, against the pack's threshold
//! (calibrated on off-topic chit-chat, see docs/models.md); and *which
//! one?* — a logistic head fitted on the pack's examples when the index is
//! built (`Method::Logistic`, the default: on Banking77, CLINC150 and
//! SMP2020 it beats the nearest example by several points), or the nearest
//! class centroid, or the nearest example. Where customer turns also
//! carry the sentiment encoder's (e5) embedding, the head reads the turn's
//! two embeddings side by side ([`joint`]): better on every external set
//! than either alone (docs/models.md), and free, as e5 already ran.
//!
//! `IntentIndex` is the mechanism on its own, so `callqa eval-intent`
//! measures exactly what runs here.

use super::{Analyser, Subject};
use crate::domain::{Analysis, IntentMatch, Speaker};
use crate::embed::head::{FitOptions, LogReg};
use crate::embed::{cosine, EmbedError, TextModels};
use crate::rules::RulePack;

/// The label of a turn or conversation that matches no intent.
pub const UNKNOWN: &str = "unknown";

/// How an in-scope turn's intent is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// The label of the most similar example.
    Nearest,
    /// The label whose mean example embedding is most similar.
    Centroid,
    /// A softmax regression fitted on the examples.
    #[default]
    Logistic,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nearest" => Ok(Method::Nearest),
            "centroid" => Ok(Method::Centroid),
            "logistic" => Ok(Method::Logistic),
            _ => Err(format!(
                "unknown intent method {s:?} (nearest, centroid, logistic)"
            )),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Nearest => "nearest",
            Method::Centroid => "centroid",
            Method::Logistic => "logistic",
        })
    }
}

/// How the per-pack logistic head is fitted: few examples, so many epochs
/// and full batches; deterministic.
fn intent_fit() -> FitOptions {
    FitOptions {
        epochs: 300,
        batch: 1024,
        learning_rate: 0.05,
        l2: 1e-4,
        seed: 42,
        balanced: true,
        hidden: 0,
    }
}

/// Labelled example embeddings; classifies by `method`, gates by the
/// nearest example's similarity.
#[derive(Debug, Clone, Default)]
pub struct IntentIndex {
    pub labels: Vec<String>,
    /// (label index, embedding).
    pub examples: Vec<(usize, Vec<f32>)>,
    pub method: Method,
    /// Per label: the normalised mean of its examples.
    centroids: Vec<Vec<f32>>,
    head: Option<LogReg>,
    /// Chooses the label instead of `head` where a turn has both
    /// embeddings: the same examples in the joint space of the two
    /// encoders ([`joint`]). This index's nearest example still gates.
    chooser: Option<Box<IntentIndex>>,
}

/// A text's USE and e5 embeddings side by side, each scaled by 1/√2 so the
/// result is unit length again: the space the joint intent head reads.
pub fn joint(base: &[f32], second: &[f32]) -> Vec<f32> {
    let k = std::f32::consts::FRAC_1_SQRT_2;
    base.iter().chain(second).map(|x| x * k).collect()
}

/// [`joint`] of each pair of texts' embeddings.
pub fn joint_all(base: &[Vec<f32>], second: &[Vec<f32>]) -> Vec<Vec<f32>> {
    base.iter().zip(second).map(|(a, b)| joint(a, b)).collect()
}

impl IntentIndex {
    /// From precomputed embeddings, in the order of `groups`' examples.
    pub fn with_method(
        groups: &[(String, Vec<String>)],
        emb: Vec<Vec<f32>>,
        method: Method,
    ) -> Self {
        let mut it = emb.into_iter();
        let mut examples = Vec::new();
        for (k, (_, ex)) in groups.iter().enumerate() {
            for _ in ex {
                if let Some(e) = it.next() {
                    examples.push((k, e));
                }
            }
        }
        let dim = examples.first().map(|(_, e)| e.len()).unwrap_or(0);
        let mut centroids = vec![vec![0.0f32; dim]; groups.len()];
        for (k, e) in &examples {
            for (c, x) in centroids[*k].iter_mut().zip(e) {
                *c += x;
            }
        }
        for c in &mut centroids {
            let n = c.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                c.iter_mut().for_each(|x| *x /= n);
            }
        }
        let head = (method == Method::Logistic && !examples.is_empty()).then(|| {
            let (x, y): (Vec<Vec<f32>>, Vec<usize>) =
                examples.iter().map(|(k, e)| (e.clone(), *k)).unzip();
            LogReg::fit(&x, &y, groups.len(), &intent_fit())
        });
        IntentIndex {
            labels: groups.iter().map(|(l, _)| l.clone()).collect(),
            examples,
            method,
            centroids,
            head,
            chooser: None,
        }
    }

    /// An index over the examples' `base` embeddings that, where the
    /// second encoder's embeddings of the same examples are given as well,
    /// labels in the joint space of the two ([`Self::choose`]); it gates on
    /// `base` either way.
    pub fn with_second(
        groups: &[(String, Vec<String>)],
        base: Vec<Vec<f32>>,
        second: Option<&[Vec<f32>]>,
        method: Method,
    ) -> Self {
        let chooser = second.map(|s| Self::with_method(groups, joint_all(&base, s), method));
        let index = Self::with_method(groups, base, method);
        match chooser {
            Some(c) => index.with_chooser(c),
            None => index,
        }
    }

    /// Labels by `chooser`: the same examples in the joint space.
    fn with_chooser(mut self, chooser: IntentIndex) -> Self {
        self.chooser = Some(Box::new(chooser));
        self
    }

    /// Whether labels come from a joint-space chooser.
    pub fn is_joint(&self) -> bool {
        self.chooser.is_some()
    }

    /// [`Self::classify`] on `gate` (this index's space), with the label
    /// chosen by the joint-space chooser when there is one and `joint` is
    /// given; the score is always the gate's nearest-example similarity.
    pub fn classify_joint(&self, gate: &[f32], joint: Option<&[f32]>) -> Option<(usize, f32)> {
        let (k, s) = self.classify(gate)?;
        Some((joint.and_then(|v| self.choose(v)).unwrap_or(k), s))
    }

    /// The joint-space chooser's label for a joint vector; `None` without
    /// a chooser.
    pub fn choose(&self, joint: &[f32]) -> Option<usize> {
        self.chooser.as_ref()?.classify(joint).map(|(k, _)| k)
    }

    /// The chosen label index and the nearest example's similarity (the
    /// score the threshold applies to).
    pub fn classify(&self, x: &[f32]) -> Option<(usize, f32)> {
        let (nearest, s) = self.nearest(x)?;
        let k = match (self.method, &self.head) {
            (Method::Nearest, _) => nearest,
            (Method::Logistic, Some(h)) => h.predict(x),
            (Method::Centroid, _) | (Method::Logistic, None) => {
                self.centroids
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.is_empty())
                    .map(|(k, c)| (k, cosine(c, x)))
                    .fold((nearest, f32::NEG_INFINITY), |b, (k, c)| {
                        if c > b.1 {
                            (k, c)
                        } else {
                            b
                        }
                    })
                    .0
            }
        };
        Some((k, s))
    }

    /// The nearest example's label index and its similarity.
    pub fn nearest(&self, x: &[f32]) -> Option<(usize, f32)> {
        self.examples.iter().map(|(k, e)| (*k, cosine(e, x))).fold(
            None,
            |best, (k, s)| match best {
                Some((_, bs)) if bs >= s => best,
                _ => Some((k, s)),
            },
        )
    }
}

pub struct IntentAnalyser {
    index: IntentIndex,
    threshold: f32,
}

impl IntentAnalyser {
    pub fn build(pack: &RulePack, models: &TextModels) -> Result<Self, EmbedError> {
        let groups: Vec<(String, Vec<String>)> = pack
            .intents
            .iter()
            .map(|i| (i.id.clone(), i.examples.clone()))
            .collect();
        let texts: Vec<&str> = groups
            .iter()
            .flat_map(|(_, ex)| ex.iter().map(String::as_str))
            .collect();
        let base = models.embed(&texts)?;
        let second = match models.second_encoder() {
            Some(e5) if !texts.is_empty() => Some(e5.embed(&texts)?),
            _ => None,
        };
        Ok(IntentAnalyser {
            index: IntentIndex::with_second(&groups, base, second.as_deref(), Method::default()),
            threshold: pack.intent_threshold,
        })
    }

    fn label(&self, hit: (usize, f32)) -> IntentMatch {
        IntentMatch {
            intent: if hit.1 >= self.threshold {
                self.index.labels[hit.0].clone()
            } else {
                UNKNOWN.to_owned()
            },
            score: hit.1,
        }
    }
}

impl Analyser for IntentAnalyser {
    fn name(&self) -> &'static str {
        "intent"
    }

    fn analyse(&self, s: &Subject<'_>, out: &mut Analysis) {
        let Some(sig) = s.signals else { return };
        if self.index.examples.is_empty() {
            return;
        }
        let mut best: Option<(usize, f32)> = None;
        for (i, _) in s.conv.turns_of(Speaker::Customer) {
            // Gate: the best of the turn and its clauses (base encoder).
            let Some(mut hit) = sig.views(i).filter_map(|e| self.index.classify(e)).fold(
                None,
                |b: Option<(usize, f32)>, h| match b {
                    Some(b) if b.1 >= h.1 => Some(b),
                    _ => Some(h),
                },
            ) else {
                continue;
            };
            // Label: the whole turn in the joint space, when it has both
            // embeddings.
            if self.index.is_joint() {
                let both = sig
                    .embeddings
                    .get(i)
                    .zip(sig.sentiment_embeddings.get(i).and_then(Option::as_ref));
                if let Some(k) = both.and_then(|(a, b)| self.index.choose(&joint(a, b))) {
                    hit.0 = k;
                }
            }
            if let Some(note) = out.notes.get_mut(i) {
                note.intent = Some(self.label(hit));
            }
            if best.is_none_or(|b| hit.1 > b.1) {
                best = Some(hit);
            }
        }
        out.contact_reason = best.map(|b| self.label(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    type Groups = Vec<(String, Vec<String>)>;

    fn groups() -> (Groups, Vec<Vec<f32>>) {
        let g = vec![
            ("a".to_owned(), vec!["a1".to_owned(), "a2".to_owned()]),
            ("b".to_owned(), vec!["b1".to_owned(), "b2".to_owned()]),
        ];
        // a's examples point along x, b's along y; one b example leans to x.
        let e = vec![
            unit(&[1.0, 0.1, 0.0]),
            unit(&[1.0, -0.1, 0.0]),
            unit(&[0.0, 1.0, 0.0]),
            unit(&[0.8, 1.0, 0.0]),
        ];
        (g, e)
    }

    #[test]
    fn methods_choose_labels_and_the_gate_is_the_nearest_example() {
        let (g, e) = groups();
        // Closest single example is b2 (leaning to x), but the point sits
        // nearer a's centroid.
        let x = unit(&[1.0, 0.6, 0.0]);
        let near = IntentIndex::with_method(&g, e.clone(), Method::Nearest);
        let cent = IntentIndex::with_method(&g, e.clone(), Method::Centroid);
        let logi = IntentIndex::with_method(&g, e, Method::Logistic);
        assert_eq!(near.classify(&x).map(|h| h.0), Some(1));
        assert_eq!(cent.classify(&x).map(|h| h.0), Some(0));
        assert_eq!(logi.classify(&unit(&[1.0, 0.0, 0.0])).map(|h| h.0), Some(0));
        assert_eq!(logi.classify(&unit(&[0.0, 1.0, 0.0])).map(|h| h.0), Some(1));
        // The score is the same for every method: the nearest example's.
        let s = near.classify(&x).map(|h| h.1);
        assert_eq!(cent.classify(&x).map(|h| h.1), s);
        // Orthogonal to every example: score 0, below any threshold.
        let off = unit(&[0.0, 0.0, 1.0]);
        assert!(logi.classify(&off).is_some_and(|h| h.1.abs() < 1e-6));
    }

    #[test]
    fn a_joint_chooser_labels_and_the_base_index_still_gates() {
        let (g, e) = groups();
        // In the second space the labels are swapped: a along y, b along x.
        let second = vec![
            unit(&[0.0, 1.0, 0.0]),
            unit(&[0.1, 1.0, 0.0]),
            unit(&[1.0, 0.0, 0.0]),
            unit(&[1.0, 0.1, 0.0]),
        ];
        assert!(
            joint_all(&e, &second)
                .iter()
                .all(|v| (cosine(v, v) - 1.0).abs() < 1e-5),
            "unit length"
        );
        let base = IntentIndex::with_method(&g, e.clone(), Method::Centroid);
        let j = IntentIndex::with_second(&g, e, Some(&second), Method::Centroid);
        assert!(j.is_joint() && !base.is_joint());
        // Along x in both spaces: a by the base index, b by the second
        // space (and b2 leans to x in the base space too): b jointly.
        let x = unit(&[1.0, 0.0, 0.0]);
        let v = joint(&x, &unit(&[1.0, 0.0, 0.0]));
        let (k, s) = j.classify_joint(&x, Some(&v)).unwrap();
        assert_eq!(base.classify(&x).map(|h| h.0), Some(0));
        assert_eq!(k, 1, "the chooser decides the label");
        assert_eq!(
            Some(s),
            base.classify(&x).map(|h| h.1),
            "the base index's score gates"
        );
        // Without a joint vector the base index labels.
        assert_eq!(j.classify_joint(&x, None).map(|h| h.0), Some(0));
    }
}
