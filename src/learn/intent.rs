//! Evaluating intent matching (`callqa eval-intent`) on labelled data we
//! did not write. Two figures:
//!
//! 1. The mechanism, few-shot: `k` examples per class from the data set's
//!    train split become the taxonomy (as a QA team would write a pack),
//!    and every test utterance is labelled as `analyse::intent` does (by
//!    the chosen method: nearest example, class centroid or a logistic head
//!    on the examples; in scope when its nearest example is at least the
//!    threshold). With an out-of-scope label, utterances of
//!    that label count as correct when they fall below the threshold
//!    (`unknown`).
//! 2. Our own pack taxonomy (`rules/<lang>/rules.toml` `[[intents]]`) on
//!    the test utterances whose labels map onto one of its intents (the
//!    mapping is a file we wrote and show; the utterances and labels are
//!    not ours).

use std::collections::{BTreeMap, HashMap};

use super::corpus::{self, Example};
use super::metrics::Confusion;
use super::{embed_texts, LearnError};
use crate::analyse::intent::{self, IntentIndex, Method, UNKNOWN};
use crate::embed::LoadedEncoder;
use crate::rules::RulePack;

#[derive(Debug, Clone)]
pub struct FewShotOptions {
    pub shots: usize,
    pub seed: u64,
    /// Below this similarity an utterance is `unknown`.
    pub threshold: f32,
    /// The data set's out-of-scope label, if it has one.
    pub out_of_scope: Option<String>,
    pub method: Method,
}

/// Picks `k` examples per label, deterministically (by split hash).
pub fn pick_shots(
    train: &[Example],
    k: usize,
    seed: u64,
    skip: Option<&str>,
) -> Vec<(String, Vec<String>)> {
    let mut by: BTreeMap<String, Vec<&Example>> = BTreeMap::new();
    for e in train {
        if Some(e.label.as_str()) != skip {
            by.entry(e.label.clone()).or_default().push(e);
        }
    }
    by.into_iter()
        .map(|(l, mut v)| {
            v.sort_by_key(|e| corpus::split_hash(seed, &e.text));
            (l, v.into_iter().take(k).map(|e| e.text.clone()).collect())
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct FewShotEval {
    /// In-scope utterances, nearest example, no threshold.
    pub closed: Confusion,
    /// With the threshold: in-scope accuracy (right label, above the
    /// threshold) and out-of-scope recall (below it).
    pub in_scope_accuracy: f64,
    pub out_of_scope_recall: Option<f64>,
    pub out_of_scope_n: usize,
}

/// `second`: also embed with this encoder and label in the joint space
/// of the two (`intent::joint`), gating on `enc`'s nearest example — what
/// `analyse::intent` does when the sentiment head is on e5.
pub fn few_shot(
    enc: &LoadedEncoder,
    second: Option<&LoadedEncoder>,
    train: &[Example],
    test: &[Example],
    opts: &FewShotOptions,
) -> Result<FewShotEval, LearnError> {
    let oos = opts.out_of_scope.as_deref();
    let groups = pick_shots(train, opts.shots, opts.seed, oos);
    if groups.is_empty() {
        return Err(LearnError::Data("no labelled training examples".into()));
    }
    let ex_texts: Vec<&str> = groups
        .iter()
        .flat_map(|(_, v)| v.iter().map(String::as_str))
        .collect();
    let (ex_emb, ex2) = embed_both(enc, second, &ex_texts, "taxonomy examples")?;
    let index = IntentIndex::with_second(&groups, ex_emb, ex2.as_deref(), opts.method);
    let test_texts: Vec<&str> = test.iter().map(|e| e.text.as_str()).collect();
    let (x, xj) = embed_joint(enc, second, &test_texts, "test utterances")?;
    let pos: HashMap<&str, usize> = index
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut closed = Confusion::new(index.labels.clone());
    let (mut in_ok, mut in_n, mut oos_ok, mut oos_n) = (0usize, 0usize, 0usize, 0usize);
    for (n, (e, v)) in test.iter().zip(&x).enumerate() {
        let Some((k, s)) = index.classify_joint(v, joint_at(&xj, n)) else {
            continue;
        };
        if Some(e.label.as_str()) == oos {
            oos_n += 1;
            oos_ok += usize::from(s < opts.threshold);
            continue;
        }
        let Some(&truth) = pos.get(e.label.as_str()) else {
            continue;
        };
        closed.add(truth, k);
        in_n += 1;
        in_ok += usize::from(k == truth && s >= opts.threshold);
    }
    Ok(FewShotEval {
        closed,
        in_scope_accuracy: in_ok as f64 / in_n.max(1) as f64,
        out_of_scope_recall: (oos_n > 0).then(|| oos_ok as f64 / oos_n as f64),
        out_of_scope_n: oos_n,
    })
}

/// Embeddings by the gate encoder, and the second encoder's (or joint)
/// embeddings of the same texts when there is a second encoder.
type Pair = (Vec<Vec<f32>>, Option<Vec<Vec<f32>>>);

/// `texts` embedded by `enc` and, when given, by `second`.
fn embed_both(
    enc: &LoadedEncoder,
    second: Option<&LoadedEncoder>,
    texts: &[&str],
    what: &str,
) -> Result<Pair, LearnError> {
    let base = embed_texts(enc, texts, what)?;
    let other = second.map(|e2| embed_texts(e2, texts, what)).transpose()?;
    Ok((base, other))
}

/// `texts` embedded by `enc` (the gate), and their joint vectors
/// (`intent::joint`) when there is a `second` encoder.
fn embed_joint(
    enc: &LoadedEncoder,
    second: Option<&LoadedEncoder>,
    texts: &[&str],
    what: &str,
) -> Result<Pair, LearnError> {
    let (base, other) = embed_both(enc, second, texts, what)?;
    let joint = other.map(|o| intent::joint_all(&base, &o));
    Ok((base, joint))
}

/// The `n`th joint vector, if there are any.
fn joint_at(joint: &Option<Vec<Vec<f32>>>, n: usize) -> Option<&[f32]> {
    joint.as_ref().and_then(|j| j.get(n)).map(Vec::as_slice)
}

/// Reads a label mapping: `dataset_label,pack_intent` per line (`#`
/// comments allowed). `pack_intent` may be `unknown` (the pack should not
/// claim such utterances); `*` as the dataset label maps every other label.
pub fn read_mapping(path: &std::path::Path) -> Result<HashMap<String, String>, LearnError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LearnError::Data(format!("{}: {e}", path.display())))?;
    let mut m = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((a, b)) = line.split_once(',') else {
            return Err(LearnError::Data(format!(
                "{}:{}: expected `dataset_label,pack_intent`",
                path.display(),
                n + 1
            )));
        };
        m.insert(a.trim().to_owned(), b.trim().to_owned());
    }
    Ok(m)
}

#[derive(Debug, Clone)]
pub struct PackEval {
    /// Over mapped test utterances; the extra last label is `unknown`.
    pub confusion: Confusion,
    pub unknown: usize,
}

/// Our pack's taxonomy on the mapped part of a test set.
pub fn pack_taxonomy(
    enc: &LoadedEncoder,
    second: Option<&LoadedEncoder>,
    pack: &RulePack,
    test: &[Example],
    mapping: &HashMap<String, String>,
) -> Result<PackEval, LearnError> {
    let groups: Vec<(String, Vec<String>)> = pack
        .intents
        .iter()
        .map(|i| (i.id.clone(), i.examples.clone()))
        .collect();
    for (from, to) in mapping {
        if to != UNKNOWN && !groups.iter().any(|(g, _)| g == to) {
            return Err(LearnError::Data(format!(
                "mapping {from} → {to}: the pack has no intent {to:?}"
            )));
        }
    }
    let ex_texts: Vec<&str> = groups
        .iter()
        .flat_map(|(_, v)| v.iter().map(String::as_str))
        .collect();
    let (ex_emb, ex2) = embed_both(enc, second, &ex_texts, "pack examples")?;
    let index = IntentIndex::with_second(&groups, ex_emb, ex2.as_deref(), Method::default());
    let unknown_k = index.labels.len();
    let mapped: Vec<(&Example, usize)> = test
        .iter()
        .filter_map(|e| {
            let to = mapping.get(&e.label).or_else(|| mapping.get("*"))?;
            if to == UNKNOWN {
                return Some((e, unknown_k));
            }
            let k = index.labels.iter().position(|l| l == to)?;
            Some((e, k))
        })
        .collect();
    if mapped.is_empty() {
        return Err(LearnError::Data(
            "no test utterance has a mapped label".into(),
        ));
    }
    let texts: Vec<&str> = mapped.iter().map(|(e, _)| e.text.as_str()).collect();
    let (x, xj) = embed_joint(enc, second, &texts, "mapped test utterances")?;
    let mut labels = index.labels.clone();
    labels.push(UNKNOWN.to_owned());
    let mut confusion = Confusion::new(labels);
    let mut unknown = 0;
    for (n, ((_, truth), v)) in mapped.iter().zip(&x).enumerate() {
        let pred = match index.classify_joint(v, joint_at(&xj, n)) {
            Some((k, s)) if s >= pack.intent_threshold => k,
            _ => {
                unknown += 1;
                unknown_k
            }
        };
        confusion.add(*truth, pred);
    }
    Ok(PackEval { confusion, unknown })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shots_are_k_per_label_and_skip_out_of_scope() {
        let ex = |t: &str, l: &str| Example {
            text: t.into(),
            label: l.into(),
            source: 0,
        };
        let train: Vec<Example> = (0..10)
            .map(|i| ex(&format!("a{i}"), "a"))
            .chain((0..3).map(|i| ex(&format!("b{i}"), "b")))
            .chain((0..5).map(|i| ex(&format!("o{i}"), "oos")))
            .collect();
        let g = pick_shots(&train, 4, 1, Some("oos"));
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].0.as_str(), g[0].1.len()), ("a", 4));
        assert_eq!((g[1].0.as_str(), g[1].1.len()), ("b", 3));
        assert_eq!(pick_shots(&train, 4, 1, Some("oos")), g, "deterministic");
    }
}
