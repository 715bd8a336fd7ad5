//! Evaluating speech recognition: `callqa eval-asr DIR_OR_TSV`. Each
//! recording goes through the call path (decode, voice activity detection,
//! packed Whisper windows, cleaning, echo removal) as a mono call, and its
//! text is scored against a human reference: character error rate (CER)
//! for Chinese, word error rate (WER) for English, both after
//! normalisation, plus the real-time factor. Several recognizer set-ups
//! ("variants") run over the same files in one run, so their figures share
//! the machine's load and compare fairly.
//!
//! Normalisation, applied to reference and hypothesis alike:
//! - Chinese: simplified characters, full-width forms folded, Chinese
//!   digits 零〇一…九 as 0–9, punctuation and spaces removed; one unit per
//!   character (a Latin word counts as one unit).
//! - English: a subset of Whisper's English normaliser — lower case,
//!   bracketed annotations (`[noise]`, `<VOCNOISE>`) and hesitations (uh,
//!   um, hmm, mm, mhm) removed, common contractions and informal forms
//!   expanded (won't, can't, 're, 'll, gonna, kinda…), British spellings
//!   mapped to American ones when Whisper's `english.json` is beside the
//!   references, spelled numbers written as digits, punctuation removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::domain::Language;

/// One scored recording: its reference and where its audio lies per
/// condition (`16k`, `tel`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    pub language: Language,
    pub reference: String,
    pub audio: Vec<(String, PathBuf)>,
}

/// Errors against a reference, in units (characters or words).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    /// Units in the reference.
    pub reference: usize,
}

impl Errors {
    pub fn total(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Error rate (can exceed 1 with many insertions).
    pub fn rate(&self) -> f64 {
        if self.reference == 0 {
            if self.total() == 0 {
                0.0
            } else {
                1.0
            }
        } else {
            self.total() as f64 / self.reference as f64
        }
    }

    pub fn add(&mut self, o: Errors) {
        self.substitutions += o.substitutions;
        self.deletions += o.deletions;
        self.insertions += o.insertions;
        self.reference += o.reference;
    }
}

/// Levenshtein alignment of two unit sequences.
pub fn align<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> Errors {
    let (n, m) = (reference.len(), hypothesis.len());
    // (cost, subs, dels, ins) per cell of the previous and current rows.
    type Cell = (usize, usize, usize, usize);
    let mut prev: Vec<Cell> = (0..=m).map(|j| (j, 0, 0, j)).collect();
    let mut cur: Vec<Cell> = vec![(0, 0, 0, 0); m + 1];
    for i in 1..=n {
        cur[0] = (i, 0, i, 0);
        for j in 1..=m {
            let same = reference[i - 1] == hypothesis[j - 1];
            let d = prev[j - 1];
            let diag = (d.0 + usize::from(!same), d.1 + usize::from(!same), d.2, d.3);
            let u = prev[j];
            let del = (u.0 + 1, u.1, u.2 + 1, u.3);
            let l = cur[j - 1];
            let ins = (l.0 + 1, l.1, l.2, l.3 + 1);
            cur[j] = [diag, del, ins]
                .into_iter()
                .min_by_key(|c| c.0)
                .unwrap_or(diag);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let (_, s, d, ins) = prev[m];
    Errors {
        substitutions: s,
        deletions: d,
        insertions: ins,
        reference: n,
    }
}

/// Scoring units of a text after normalisation.
pub fn units(text: &str, language: Language, spelling: &HashMap<String, String>) -> Vec<String> {
    match language {
        Language::Zh => zh_units(text),
        Language::En => en_words(text, spelling),
    }
}

fn fold_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

fn zh_digit(c: char) -> Option<char> {
    Some(match c {
        '零' | '〇' => '0',
        '一' => '1',
        '二' => '2',
        '三' => '3',
        '四' => '4',
        '五' => '5',
        '六' => '6',
        '七' => '7',
        '八' => '8',
        '九' => '9',
        _ => return None,
    })
}

fn zh_units(text: &str) -> Vec<String> {
    let s = crate::text::to_simplified(text);
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars().map(fold_width) {
        let c = zh_digit(c).unwrap_or(c);
        if crate::text::is_cjk(c) || c.is_ascii_digit() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

const FILLERS: [&str; 8] = ["uh", "um", "hmm", "mm", "mhm", "mmm", "uhm", "umm"];

const EXPANSIONS: [(&str, &str); 24] = [
    ("won't", "will not"),
    ("can't", "can not"),
    ("cannot", "can not"),
    ("let's", "let us"),
    ("ain't", "aint"),
    ("y'all", "you all"),
    ("gonna", "going to"),
    ("gotta", "got to"),
    ("wanna", "want to"),
    ("kinda", "kind of"),
    ("sorta", "sort of"),
    ("outta", "out of"),
    ("lemme", "let me"),
    ("gimme", "give me"),
    ("yknow", "you know"),
    ("y'know", "you know"),
    ("okay", "ok"),
    ("o.k.", "ok"),
    ("mr.", "mister"),
    ("mrs.", "missus"),
    ("dr.", "doctor"),
    ("st.", "saint"),
    ("alright", "all right"),
    ("'cause", "because"),
];

const SUFFIXES: [(&str, &str); 6] = [
    ("n't", " not"),
    ("'re", " are"),
    ("'ll", " will"),
    ("'ve", " have"),
    ("'m", " am"),
    ("'d", " would"),
];

fn number_word(w: &str) -> Option<(u64, bool)> {
    // (value, is a multiplier like hundred/thousand)
    const SMALL: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(i) = SMALL.iter().position(|s| *s == w) {
        return Some((i as u64, false));
    }
    if let Some(i) = TENS.iter().position(|s| *s == w) {
        return Some((20 + 10 * i as u64, false));
    }
    match w {
        "hundred" => Some((100, true)),
        "thousand" => Some((1_000, true)),
        "million" => Some((1_000_000, true)),
        _ => None,
    }
}

/// Writes runs of spelled numbers as digits: "four games" → "4 games",
/// "two hundred and five" → "205"; "twenty twenty" stays two numbers.
fn digits(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let Some((v, mult)) = number_word(&words[i]) else {
            out.push(words[i].clone());
            i += 1;
            continue;
        };
        if mult {
            out.push(words[i].clone());
            i += 1;
            continue;
        }
        let (mut total, mut cur) = (0u64, v);
        let mut last_small = v; // the last units/tens word, to stop at "twenty twenty"
        let mut j = i + 1;
        while j < words.len() {
            let w = &words[j];
            if w == "and" && words.get(j + 1).and_then(|n| number_word(n)).is_some() && cur >= 100 {
                j += 1;
                continue;
            }
            match number_word(w) {
                Some((m, true)) => {
                    cur = cur.max(1) * m;
                    if m >= 1_000 {
                        total += cur;
                        cur = 0;
                    }
                    last_small = 0;
                }
                Some((u, false)) if u < 10 && last_small >= 20 && last_small % 10 == 0 => {
                    cur += u;
                    last_small = u;
                }
                Some((u, false)) if last_small == 0 && cur % 100 == 0 => {
                    cur += u;
                    last_small = u;
                }
                _ => break,
            }
            j += 1;
        }
        out.push((total + cur).to_string());
        i = j;
    }
    out
}

fn en_words(text: &str, spelling: &HashMap<String, String>) -> Vec<String> {
    // Bracketed annotations go first.
    let mut s = String::with_capacity(text.len());
    let mut depth = 0i32;
    for c in text.chars().map(fold_width) {
        match c {
            '[' | '<' | '(' => depth += 1,
            ']' | '>' | ')' => depth = (depth - 1).max(0),
            _ if depth == 0 => s.push(c),
            _ => {}
        }
    }
    let s = s.to_lowercase().replace(['’', '‘'], "'");
    let mut words: Vec<String> = Vec::new();
    for raw in s.split_whitespace() {
        let w = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
        let w = w.trim_matches('\'');
        let mut w = w.to_owned();
        if let Some((_, e)) = EXPANSIONS.iter().find(|(k, _)| *k == w || *k == raw) {
            w = (*e).to_owned();
        } else if let Some((k, e)) = SUFFIXES
            .iter()
            .find(|(k, _)| w.ends_with(k) && w.len() > k.len())
        {
            w = format!("{}{e}", &w[..w.len() - k.len()]);
        }
        for part in w.split(|c: char| !c.is_alphanumeric() && c != '\'') {
            let part = part
                .trim_matches('\'')
                .replace("'s", " s")
                .replace('\'', "");
            for p in part.split_whitespace() {
                if p.is_empty() || FILLERS.contains(&p) {
                    continue;
                }
                let p = spelling.get(p).cloned().unwrap_or_else(|| p.to_owned());
                words.push(p);
            }
        }
    }
    digits(words)
}

/// Reads `refs.tsv` (`id<TAB>language<TAB>reference[<TAB>audio path]`).
/// For a directory, the references are `DIR/refs.tsv` and the audio
/// `DIR/16k/<id>.wav` (original) and `DIR/tel8k/<id>.wav` (8 kHz µ-law
/// telephone audio), whichever exist; a 4th column names the audio
/// directly (condition `given`).
pub fn read_items(path: &Path) -> Result<Vec<Item>, String> {
    let (tsv, dir) = if path.is_dir() {
        (path.join("refs.tsv"), path.to_path_buf())
    } else {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (path.to_path_buf(), dir)
    };
    let text =
        std::fs::read_to_string(&tsv).map_err(|e| format!("cannot read {}: {e}", tsv.display()))?;
    let mut items = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 {
            return Err(format!(
                "{}:{}: expected id<TAB>language<TAB>reference, found {} column(s)",
                tsv.display(),
                n + 1,
                cols.len()
            ));
        }
        let language = match cols[1].trim() {
            "zh" | "cmn" | "zh-CN" => Language::Zh,
            "en" | "en-US" | "en-GB" => Language::En,
            other => {
                return Err(format!(
                    "{}:{}: unknown language {other:?} (zh or en)",
                    tsv.display(),
                    n + 1
                ))
            }
        };
        let id = cols[0].trim().to_owned();
        let audio = match cols.get(3) {
            Some(p) if !p.trim().is_empty() => vec![("given".to_owned(), dir.join(p.trim()))],
            _ => [("16k", "16k"), ("tel8k", "tel")]
                .into_iter()
                .map(|(sub, cond)| (cond.to_owned(), dir.join(sub).join(format!("{id}.wav"))))
                .filter(|(_, p)| p.is_file())
                .collect(),
        };
        if audio.is_empty() {
            return Err(format!(
                "{}:{}: no audio for {id} (looked for 16k/{id}.wav and tel8k/{id}.wav beside it)",
                tsv.display(),
                n + 1
            ));
        }
        items.push(Item {
            id,
            language,
            reference: cols[2].trim().to_owned(),
            audio,
        });
    }
    Ok(items)
}

/// A long recording without a full reference (`longform.tsv`:
/// `id<TAB>language<TAB>note`): run for speed and stability, and checked
/// for the keywords its note names ("… keywords A B C").
#[derive(Debug, Clone, PartialEq)]
pub struct LongForm {
    pub id: String,
    pub language: Language,
    pub keywords: Vec<String>,
    pub audio: PathBuf,
}

/// Reads `DIR/longform.tsv` with audio in `DIR/tel8k/` (telephone audio,
/// the harder case) or `DIR/16k/`; empty when there is none.
pub fn read_longform(dir: &Path) -> Vec<LongForm> {
    let Ok(text) = std::fs::read_to_string(dir.join("longform.tsv")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let (id, lang, note) = (
                cols.first()?.trim(),
                cols.get(1)?.trim(),
                cols.get(2).copied().unwrap_or(""),
            );
            let language: Language = lang.parse().ok()?;
            let audio = ["tel8k", "16k"]
                .iter()
                .map(|sub| dir.join(sub).join(format!("{id}.wav")))
                .find(|p| p.is_file())?;
            let keywords = note
                .split_once("keywords")
                .map(|(_, k)| k.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            Some(LongForm {
                id: id.to_owned(),
                language,
                keywords,
                audio,
            })
        })
        .collect()
}

/// Whisper's British → American spelling map (`english.json`), if found
/// beside the references.
pub fn spelling_map(dir: &Path) -> HashMap<String, String> {
    for p in [
        dir.join("whisper_normalizers/english.json"),
        dir.join("english.json"),
    ] {
        if let Ok(text) = std::fs::read_to_string(&p) {
            if let Ok(map) = serde_json::from_str::<HashMap<String, String>>(&text) {
                return map;
            }
        }
    }
    HashMap::new()
}

/// One recognizer set-up under test: a name and its `[asr]` options.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub asr: crate::transcribe::AsrOptions,
}

/// Parses `NAME[:key=value,...]` over base options. Keys: `model`,
/// `beam`, `fallback`, `prompt`, `audio_ctx`, `ctx_min`, `window`, `timestamps`, `tokens`,
/// `logprob`, `vad_depth`.
pub fn parse_variant(spec: &str, base: &crate::transcribe::AsrOptions) -> Result<Variant, String> {
    let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let mut asr = base.clone();
    for kv in rest.split(',').filter(|s| !s.trim().is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("variant {name}: expected key=value, found {kv:?}"))?;
        let (k, v) = (k.trim(), v.trim());
        let bad = |what: &str| format!("variant {name}: {k}={v:?} is not {what}");
        match k {
            "model" => asr.model = PathBuf::from(v),
            "beam" => asr.beam_size = v.parse().map_err(|_| bad("a beam width"))?,
            "fallback" => asr.fallback_beam_size = v.parse().map_err(|_| bad("a beam width"))?,
            "prompt" => asr.prompt = v.parse().map_err(|_| bad("true or false"))?,
            "audio_ctx" => asr.shrink_audio_ctx = v.parse().map_err(|_| bad("true or false"))?,
            "ctx_min" => asr.min_audio_ctx_s = v.parse().map_err(|_| bad("seconds"))?,
            "window" => asr.min_window_s = v.parse().map_err(|_| bad("seconds"))?,
            "tokens" => asr.tokens_per_second = v.parse().map_err(|_| bad("a number"))?,
            "logprob" => asr.min_avg_logprob = v.parse().map_err(|_| bad("a number"))?,
            "timestamps" => asr.timestamps = v.parse().map_err(|_| bad("true or false"))?,
            "vad_depth" => asr.vad.max_depth_db = v.parse().map_err(|_| bad("a number"))?,
            _ => {
                return Err(format!(
                    "variant {name}: unknown key {k:?} (model, beam, fallback, prompt, audio_ctx, ctx_min, window, timestamps, tokens, logprob, vad_depth)"
                ))
            }
        }
    }
    if name.trim().is_empty() {
        return Err(format!("variant {spec:?} has no name"));
    }
    Ok(Variant {
        name: name.trim().to_owned(),
        asr,
    })
}

/// One recording's result under one variant and condition.
#[derive(Debug, Clone)]
pub struct Scored {
    pub variant: String,
    pub id: String,
    pub language: Language,
    pub condition: String,
    pub errors: Errors,
    pub hypothesis: String,
    pub audio_s: f64,
    pub elapsed_s: f64,
    pub unclear_s: f64,
}

/// Runs every variant over every item and condition. `progress` is told
/// about each result as it comes.
pub fn evaluate(
    models_dir: &Path,
    items: &[Item],
    variants: &[Variant],
    spelling: &HashMap<String, String>,
    mut progress: impl FnMut(&Scored),
) -> Result<Vec<Scored>, String> {
    use crate::transcribe::Transcriber;
    let mut out = Vec::new();
    for v in variants {
        let t = Transcriber::load(models_dir, &v.asr, 1)
            .map_err(|e| format!("variant {}: {e}", v.name))?;
        for item in items {
            for (cond, path) in &item.audio {
                let Some((tr, audio_s, elapsed_s)) = run_one(&t, &v.name, path, item.language)?
                else {
                    continue;
                };
                let sep = if item.language == Language::Zh {
                    ""
                } else {
                    " "
                };
                let hypothesis = tr
                    .utterances
                    .iter()
                    .map(|u| u.text.as_str())
                    .collect::<Vec<_>>()
                    .join(sep);
                let errors = align(
                    &units(&item.reference, item.language, spelling),
                    &units(&hypothesis, item.language, spelling),
                );
                let s = Scored {
                    variant: v.name.clone(),
                    id: item.id.clone(),
                    language: item.language,
                    condition: cond.clone(),
                    errors,
                    hypothesis,
                    audio_s,
                    elapsed_s,
                    unclear_s: tr.quality.unclear_s,
                };
                progress(&s);
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// One long recording under one variant: how long it took, how much text
/// and unclear speech came out, the keywords found, whether the prompt
/// came back.
#[derive(Debug, Clone)]
pub struct LongRun {
    pub variant: String,
    pub id: String,
    pub audio_s: f64,
    pub elapsed_s: f64,
    pub chars: usize,
    pub unclear_s: f64,
    pub cut_short: usize,
    pub keywords_found: Vec<String>,
    pub keywords_missed: Vec<String>,
}

/// Runs each variant over the long recordings.
pub fn evaluate_long(
    models_dir: &Path,
    long: &[LongForm],
    variants: &[Variant],
) -> Result<Vec<LongRun>, String> {
    use crate::transcribe::Transcriber;
    let mut out = Vec::new();
    for v in variants {
        let t = Transcriber::load(models_dir, &v.asr, 1)
            .map_err(|e| format!("variant {}: {e}", v.name))?;
        for l in long {
            let Some((tr, audio_s, elapsed_s)) = run_one(&t, &v.name, &l.audio, l.language)? else {
                continue;
            };
            let text: String = tr.utterances.iter().map(|u| u.text.as_str()).collect();
            let (found, missed) = l
                .keywords
                .iter()
                .cloned()
                .partition(|k| text.contains(k.as_str()));
            out.push(LongRun {
                variant: v.name.clone(),
                id: l.id.clone(),
                audio_s,
                elapsed_s,
                chars: text.chars().filter(|c| c.is_alphanumeric()).count(),
                unclear_s: tr.quality.unclear_s,
                cut_short: tr.quality.cut_short,
                keywords_found: found,
                keywords_missed: missed,
            });
        }
    }
    Ok(out)
}

/// (variant, language, condition), errors, audio seconds, elapsed seconds.
pub type Total = ((String, Language, String), Errors, f64, f64);

/// One recording through the call path as a mono call: its transcript,
/// audio seconds and elapsed seconds (decoding included); `None` when the
/// variant's model cannot do the language (an English-only model on
/// Chinese), so the other recordings go on.
fn run_one(
    t: &crate::transcribe::Transcriber,
    variant: &str,
    path: &Path,
    language: Language,
) -> Result<Option<(crate::transcribe::Transcript, f64, f64)>, String> {
    use crate::decode::{decode_file, DecodeOptions};
    use crate::domain::{ChannelMap, LanguageChoice};
    use crate::transcribe::{TranscribeError, Vocabulary};
    let start = std::time::Instant::now();
    let audio = decode_file(path, &DecodeOptions::default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match t.transcribe(
        &audio,
        ChannelMap::Mixed,
        LanguageChoice::Fixed(language),
        &Vocabulary::default(),
    ) {
        Ok(tr) => Ok(Some((tr, audio.duration, start.elapsed().as_secs_f64()))),
        Err(e @ TranscribeError::EnglishOnly { .. }) => {
            tracing::info!(variant, path = %path.display(), "skipped: {e}");
            Ok(None)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Totals per (variant, language, condition), in first-seen order:
/// errors, audio seconds and elapsed seconds.
pub fn totals(scored: &[Scored]) -> Vec<Total> {
    let mut out: Vec<Total> = Vec::new();
    for s in scored {
        let key = (s.variant.clone(), s.language, s.condition.clone());
        let i = match out.iter().position(|(k, ..)| *k == key) {
            Some(i) => i,
            None => {
                out.push((key, Errors::default(), 0.0, 0.0));
                out.len() - 1
            }
        };
        out[i].1.add(s.errors);
        out[i].2 += s.audio_s;
        out[i].3 += s.elapsed_s;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en(s: &str) -> Vec<String> {
        units(s, Language::En, &HashMap::new())
    }

    #[test]
    fn alignment_counts() {
        let e = align(&["a", "b", "c", "d"], &["a", "x", "c", "d", "e"]);
        assert_eq!(
            (e.substitutions, e.deletions, e.insertions, e.reference),
            (1, 0, 1, 4)
        );
        let e = align(&["a", "b", "c"], &["a"]);
        assert_eq!((e.substitutions, e.deletions, e.insertions), (0, 2, 0));
        assert_eq!(align::<&str>(&[], &[]).rate(), 0.0);
        assert_eq!(align(&[], &["x"]).rate(), 1.0);
        let e = align(&["甚", "至"], &["甚", "至"]);
        assert_eq!(e.total(), 0);
    }

    #[test]
    fn chinese_normalisation() {
        let u = zh_units("對，這就是我！萬人敬仰的太乙真人。");
        assert_eq!(u.concat(), "对这就是我万人敬仰的太乙真人");
        assert_eq!(zh_units("订单号一二三，ＯＫ").concat(), "订单号123ok");
        assert_eq!(zh_units("订单号 123").concat(), "订单号123");
        // A Latin word is one unit.
        assert_eq!(zh_units("我用iPhone"), vec!["我", "用", "iphone"]);
    }

    #[test]
    fn english_normalisation() {
        assert_eq!(
            en("Uh, I won't go, OK?"),
            vec!["i", "will", "not", "go", "ok"]
        );
        assert_eq!(
            en("[adif] bunch <VOCNOISE> of words"),
            vec!["bunch", "of", "words"]
        );
        assert_eq!(
            en("We're gonna win four games"),
            vec!["we", "are", "going", "to", "win", "4", "games"]
        );
        assert_eq!(en("two hundred and five"), vec!["205"]);
        assert_eq!(en("twenty twenty"), vec!["20", "20"]);
        assert_eq!(en("twenty one"), vec!["21"]);
        assert_eq!(
            en("ask not what your country can do"),
            en("Ask not, what your country can do!")
        );
        let mut m = HashMap::new();
        m.insert("colour".to_owned(), "color".to_owned());
        assert_eq!(units("The colour", Language::En, &m), vec!["the", "color"]);
    }

    #[test]
    fn variants() {
        let base = crate::transcribe::AsrOptions::default();
        let v = parse_variant("q8:model=ggml-base-q8_0.bin,beam=5,prompt=false", &base).unwrap();
        assert_eq!(v.name, "q8");
        assert_eq!(v.asr.model, PathBuf::from("ggml-base-q8_0.bin"));
        assert_eq!((v.asr.beam_size, v.asr.prompt), (5, false));
        assert_eq!(parse_variant("base", &base).unwrap().asr, base);
        assert!(parse_variant("x:speed=9", &base)
            .unwrap_err()
            .contains("unknown key"));
        assert!(parse_variant("x:beam=wide", &base)
            .unwrap_err()
            .contains("not a beam width"));
    }

    #[test]
    fn reads_references() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("16k")).unwrap();
        std::fs::write(dir.path().join("16k/a.wav"), b"x").unwrap();
        std::fs::write(dir.path().join("refs.tsv"), "a\tzh\t你好\n").unwrap();
        let items = read_items(dir.path()).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0].audio,
            vec![("16k".to_owned(), dir.path().join("16k/a.wav"))]
        );
        std::fs::write(dir.path().join("refs.tsv"), "b\tzh\t你好\n").unwrap();
        let e = read_items(dir.path()).unwrap_err();
        assert!(e.contains("no audio for b"), "{e}");
        std::fs::write(dir.path().join("refs.tsv"), "a\tfr\tbonjour\n").unwrap();
        assert!(read_items(dir.path())
            .unwrap_err()
            .contains("unknown language"));
    }
}
