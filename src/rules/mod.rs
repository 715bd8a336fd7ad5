//! Rule packs: the TOML files a QA team edits (`rules/<lang>/rules.toml`
//! and `scorecard.toml`), loaded and validated once at start-up. A bad pack
//! (unknown kind, invalid regex, a scorecard naming a missing rule, weights
//! that do not add up) fails here with the file and line, never in the
//! middle of a batch.

pub mod approx;
mod compile;
pub mod edit;
mod kinds;
pub mod matcher;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::domain::{FlagId, Language, RuleId, Severity, Speaker};
use crate::score::Scorecard;
use approx::ApproxOptions;
use matcher::{MatchOptions, PhraseMatcher};

/// A load-time error with the file and line at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct PackError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Turns byte offsets in a source file into line numbers.
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn read(path: &Path) -> Result<Self, PackError> {
        let text = fs::read_to_string(path).map_err(|e| PackError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Ok(SourceFile {
            path: path.to_path_buf(),
            text,
        })
    }

    pub fn line_of(&self, byte: usize) -> usize {
        self.text[..byte.min(self.text.len())].matches('\n').count() + 1
    }

    pub fn err_at(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> PackError {
        PackError {
            file: self.path.clone(),
            line: Some(self.line_of(span.start)),
            message: message.into(),
        }
    }

    pub fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, PackError> {
        toml::from_str(&self.text).map_err(|e| self.de_err(&e))
    }

    /// A TOML error, at its line where it has one.
    pub fn de_err(&self, e: &toml::de::Error) -> PackError {
        PackError {
            file: self.path.clone(),
            line: e.span().map(|s| self.line_of(s.start)),
            message: e.message().to_owned(),
        }
    }
}

// ---- The file format -------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: PackHeader,
    // `[[rules]]` is read table by table (`compile::split`), each by its
    // kind, so that every field keeps its line.
    #[serde(default)]
    matching: MatchingFile,
    /// The pack's own flag categories.
    #[serde(default)]
    flags: Vec<FlagFile>,
    #[serde(default)]
    intents: Vec<IntentFile>,
    #[serde(default)]
    intent_options: IntentOptionsFile,
    #[serde(default)]
    asr: AsrFile,
}

/// `[asr]`: what the speech recogniser is told about the pack's calls.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AsrFile {
    #[serde(default)]
    vocabulary: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackHeader {
    id: String,
    version: String,
    language: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchingFile {
    #[serde(default)]
    negations: Vec<String>,
    negation_window: Option<usize>,
    skip_quoted: Option<bool>,
    /// Default of the phrase rules' `approximate` switch.
    approximate: Option<bool>,
    approximate_threshold: Option<Spanned<f32>>,
    approximate_min_length: Option<Spanned<usize>>,
}

/// `[[flags]]`: a flag category the pack adds to the built-in ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagFile {
    id: Spanned<String>,
    label_zh: String,
    label_en: String,
    severity: Spanned<String>,
    /// A customer-side risk signal rather than the agent's fault.
    #[serde(default)]
    customer_side: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentFile {
    id: String,
    #[serde(default)]
    name: String,
    examples: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentOptionsFile {
    threshold: Option<f32>,
}

// ---- The compiled pack -----------------------------------------------

/// What every rule has, whatever its kind.
#[derive(Debug, Clone)]
pub struct RuleMeta {
    pub id: RuleId,
    pub flag: FlagId,
    pub severity: Severity,
    pub message: String,
    pub coaching: String,
}

/// Where in a conversation a required phrase must appear.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    pub first_turns: Option<usize>,
    pub first_seconds: Option<f64>,
    pub last_turns: Option<usize>,
    pub last_seconds: Option<f64>,
}

pub use crate::domain::PiiKind;

/// Per-channel limits in seconds (`chat`, `phone`, …, and `default`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelLimits(pub BTreeMap<String, f64>);

impl ChannelLimits {
    pub fn for_channel(&self, channel: &str) -> Option<f64> {
        self.0
            .get(channel)
            .or_else(|| self.0.get("default"))
            .copied()
    }
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    RequiredPhrase {
        speaker: Speaker,
        matcher: PhraseMatcher,
        window: Window,
    },
    ForbiddenPhrase {
        speaker: Speaker,
        matcher: PhraseMatcher,
    },
    /// Customer-side risk (complaint, churn): one flag per conversation.
    CustomerTrigger {
        speaker: Speaker,
        matcher: PhraseMatcher,
    },
    Pii {
        speaker: Speaker,
        detect: Vec<PiiKind>,
        /// Normalised context words per kind.
        context: HashMap<PiiKind, Vec<String>>,
    },
    FirstResponse {
        limits: ChannelLimits,
    },
    ResponseTime {
        limits: ChannelLimits,
    },
    LongSilence {
        min_seconds: f64,
    },
    Interruption {
        min_seconds: f64,
    },
    NoSpeech,
    /// Matches by meaning: similarity to example phrases above a threshold.
    Semantic {
        speaker: Speaker,
        /// Required: raise the flag when no turn matches; forbidden: raise
        /// it for each turn that does.
        required: bool,
        examples: Vec<String>,
        threshold: f32,
        window: Window,
        /// When not empty, the rule applies only to conversations in which
        /// some customer turn matches one of these by meaning (e.g. an
        /// apology is required only when the customer complains).
        when_customer: Vec<String>,
    },
    /// Strongly negative customer turns that read as anger.
    CustomerAnger {
        /// Least negative probability of the turn's stance clause.
        threshold: f32,
        /// Angry turns needed to raise the flag.
        min_turns: usize,
        /// Angry example phrases; when given, a turn must also be at least
        /// `margin` closer (cosine) to them than to `counter_examples`.
        examples: Vec<String>,
        counter_examples: Vec<String>,
        margin: f32,
    },
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: RuleMeta,
    pub kind: RuleKind,
}

#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    pub name: String,
    pub examples: Vec<String>,
}

/// One language's rules, intents and scorecard.
#[derive(Debug, Clone)]
pub struct RulePack {
    pub id: String,
    pub version: String,
    pub language: Language,
    pub dir: PathBuf,
    pub matching: MatchOptions,
    pub rules: Vec<Rule>,
    pub intents: Vec<Intent>,
    pub intent_threshold: f32,
    pub scorecard: Scorecard,
    /// `[asr] vocabulary`, as written.
    vocabulary: Vec<String>,
}

/// Most entries in `[asr] vocabulary`.
pub const MAX_VOCABULARY_ENTRIES: usize = 40;
/// Most characters in one vocabulary entry.
pub const MAX_VOCABULARY_ENTRY_CHARS: usize = 32;
/// Most characters in the whole vocabulary: Whisper reads at most 224
/// prompt tokens, a Chinese character can take two or three, and the
/// prompt has other work to do.
pub const MAX_VOCABULARY_CHARS: usize = 200;

impl RulePack {
    pub fn rule(&self, id: &RuleId) -> Option<&Rule> {
        self.rules.iter().find(|r| &r.meta.id == id)
    }

    /// Product names, brand names and key phrases the speech recogniser
    /// should expect on this pack's calls (`[asr] vocabulary`), in the
    /// pack's order, trimmed, without duplicates; empty when the pack lists
    /// none. At most `MAX_VOCABULARY_ENTRIES` entries of at most
    /// `MAX_VOCABULARY_ENTRY_CHARS` characters, `MAX_VOCABULARY_CHARS` in
    /// all.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// Whose words a text sounds like, by the pack's phrase rules: agents'
    /// required and forbidden phrases (greetings, closings, buck-passing)
    /// and customers' triggers (complaints, churn). Used to tell speakers
    /// apart on mono recordings. Every rule is tried; the side with the
    /// longest match wins, and its strength (0–1) grows with that match's
    /// length: a bare "hello" (which customers say too) is weak evidence,
    /// "thank you for calling" or "请问有什么可以帮您" strong.
    pub fn speaker_cue(&self, text: &str) -> Option<(Speaker, f64)> {
        let norm = crate::text::normalise(text, self.language);
        // Matched characters that make a cue certain.
        let full = match self.language {
            Language::Zh => 5.0,
            Language::En => 14.0,
        };
        let mut best: [f64; 2] = [0.0, 0.0];
        for r in &self.rules {
            let (speaker, matcher) = match &r.kind {
                RuleKind::RequiredPhrase {
                    speaker, matcher, ..
                }
                | RuleKind::ForbiddenPhrase { speaker, matcher }
                | RuleKind::CustomerTrigger { speaker, matcher } => (*speaker, matcher),
                _ => continue,
            };
            if let Some(hit) = matcher.first_hit(text, &norm, None, &self.matching) {
                let len = norm.text[hit.norm.0..hit.norm.1].chars().count() as f64;
                let i = usize::from(speaker == Speaker::Customer);
                best[i] = best[i].max(len);
            }
        }
        let (speaker, len) = if best[1] > best[0] {
            (Speaker::Customer, best[1])
        } else {
            (Speaker::Agent, best[0])
        };
        (len > 0.0).then(|| (speaker, (len / full).min(1.0)))
    }

    /// Whether any rule needs the text models (semantic, sentiment, intent).
    pub fn needs_models(&self) -> bool {
        !self.intents.is_empty()
            || self.rules.iter().any(|r| {
                matches!(
                    r.kind,
                    RuleKind::Semantic { .. } | RuleKind::CustomerAnger { .. }
                )
            })
    }

    /// `id@version` for result provenance.
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    /// Loads `rules.toml` and `scorecard.toml` from a pack directory. Both
    /// are read through one open handle on the folder, so an edit swapping
    /// the folder meanwhile ([`edit`]) cannot give the rules of one edit
    /// with the scorecard of another; if the folder was swapped and its
    /// old copy removed under the read, it is read again.
    pub fn load(dir: &Path) -> Result<Self, PackError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let Some((handle, via)) = pinned(dir) else {
                return Self::load_once(dir);
            };
            let loaded = Self::load_once(&via)
                .map(|p| RulePack {
                    dir: dir.to_path_buf(),
                    ..p
                })
                .map_err(|e| PackError {
                    file: match e.file.strip_prefix(&via) {
                        Ok(rest) => dir.join(rest),
                        Err(_) => e.file.clone(),
                    },
                    ..e
                });
            if loaded.is_ok() || tries >= 10 || !swapped(dir, &handle) {
                return loaded;
            }
        }
    }

    fn load_once(dir: &Path) -> Result<Self, PackError> {
        let src = SourceFile::read(&dir.join("rules.toml"))?;
        let (file, rule_tables) = pack_file(&src)?;
        let language: Language = file
            .pack
            .language
            .get_ref()
            .parse()
            .map_err(|e: String| src.err_at(file.pack.language.span(), e))?;
        let matching = matching_options(&src, &file.matching, language)?;
        let approximate_default = file.matching.approximate.unwrap_or(true);
        let vocabulary = vocabulary(&src, &file.asr.vocabulary)?;
        let declared = declare_flags(&src, &file.flags)?;
        let mut rules = Vec::new();
        let mut seen = HashSet::new();
        for table in rule_tables {
            let (r, kind) = compile::split(&src, table)?;
            if !seen.insert(r.id.get_ref().clone()) {
                return Err(src.err_at(
                    r.id.span(),
                    format!("duplicate rule id {:?}", r.id.get_ref()),
                ));
            }
            if !r.enabled {
                continue;
            }
            rules.push(compile::rule(
                &src,
                r,
                kind,
                &matching,
                approximate_default,
                &declared,
            )?);
        }
        let mut intents = Vec::new();
        for i in file.intents {
            if i.examples.is_empty() {
                return Err(PackError {
                    file: src.path.clone(),
                    line: None,
                    message: format!("intent {:?} has no examples", i.id),
                });
            }
            intents.push(Intent {
                name: if i.name.is_empty() {
                    i.id.clone()
                } else {
                    i.name
                },
                id: i.id,
                examples: i.examples,
            });
        }
        let scorecard = Scorecard::load(&dir.join("scorecard.toml"), &rules)?;
        Ok(RulePack {
            id: file.pack.id,
            version: file.pack.version,
            language,
            dir: dir.to_path_buf(),
            matching,
            rules,
            intents,
            intent_threshold: file.intent_options.threshold.unwrap_or(0.45),
            scorecard,
            vocabulary,
        })
    }
}

/// `rules.toml` → everything but the rules, and the `[[rules]]` tables
/// as parsed TOML that still knows where each field is.
fn pack_file<'s>(src: &'s SourceFile) -> Result<(PackFile, Vec<Spanned<DeValue<'s>>>), PackError> {
    use serde::de::IntoDeserializer;
    let mut root = DeTable::parse(&src.text).map_err(|e| src.de_err(&e))?;
    let rules = match root.get_mut().remove("rules") {
        None => Vec::new(),
        Some(v) => {
            let span = v.span();
            match v.into_inner() {
                DeValue::Array(a) => a.into_iter().collect(),
                _ => return Err(src.err_at(span, "`rules` must be [[rules]] tables")),
            }
        }
    };
    let file = PackFile::deserialize(root.into_deserializer()).map_err(|e| src.de_err(&e))?;
    Ok((file, rules))
}

/// `[[flags]]` → the pack's own flag ids, declared for the process (so
/// scorecards, the evaluation scheme, reports and the page know them), with
/// their severities.
fn declare_flags(
    src: &SourceFile,
    flags: &[FlagFile],
) -> Result<HashMap<FlagId, Severity>, PackError> {
    let mut out = HashMap::new();
    for f in flags {
        let severity: Severity = f
            .severity
            .get_ref()
            .parse()
            .map_err(|e: String| src.err_at(f.severity.span(), e))?;
        let (zh, en) = (f.label_zh.trim(), f.label_en.trim());
        if zh.is_empty() || en.is_empty() {
            return Err(src.err_at(
                f.id.span(),
                format!("flag {:?} needs both label_zh and label_en", f.id.get_ref()),
            ));
        }
        let info = crate::domain::FlagInfo {
            label_zh: leak(zh),
            label_en: leak(en),
            severity,
            customer_side: f.customer_side,
        };
        let id = FlagId::declare(f.id.get_ref(), info).map_err(|e| src.err_at(f.id.span(), e))?;
        if out.insert(id, severity).is_some() {
            return Err(src.err_at(
                f.id.span(),
                format!("flag {:?} is declared twice", f.id.get_ref()),
            ));
        }
    }
    Ok(out)
}

/// Labels live as long as the process (a pack is loaded a few times).
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// A pack folder held open, and a path that reaches it through the handle
/// (`/proc/self/fd/N`) whatever is renamed meanwhile; `None` where there is
/// no such path (then the folder is read by its name).
fn pinned(dir: &Path) -> Option<(fs::File, PathBuf)> {
    use std::os::unix::io::AsRawFd;
    let handle = fs::File::open(dir).ok()?;
    let via = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    via.is_dir().then_some((handle, via))
}

/// Whether `dir` now names another folder than the one held open, or the
/// one held open was removed (its inode number may since name another).
fn swapped(dir: &Path, handle: &fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |m: fs::Metadata| (m.dev(), m.ino());
    let held = handle.metadata().ok();
    held.as_ref().is_none_or(|m| m.nlink() == 0) || fs::metadata(dir).ok().map(id) != held.map(id)
}

/// `[matching]` with the language's defaults: negation words and window,
/// quoted speech, approximate matching on call transcripts.
fn matching_options(
    src: &SourceFile,
    m: &MatchingFile,
    language: Language,
) -> Result<MatchOptions, PackError> {
    let default_negations: &[&str] = match language {
        Language::Zh => &["不", "没", "别", "无法", "未"],
        Language::En => &["not", "no", "never", "n't", "cannot"],
    };
    let negations: Vec<String> = if m.negations.is_empty() {
        default_negations.iter().map(|s| s.to_string()).collect()
    } else {
        m.negations.clone()
    };
    let threshold = match &m.approximate_threshold {
        Some(t) if !(*t.get_ref() > 0.0 && *t.get_ref() <= 1.0) => {
            return Err(src.err_at(
                t.span(),
                format!(
                    "approximate_threshold {} must be above 0 and at most 1",
                    t.get_ref()
                ),
            ))
        }
        Some(t) => *t.get_ref(),
        None => 0.85,
    };
    let min_length = match &m.approximate_min_length {
        Some(l) if *l.get_ref() < 2 => {
            return Err(src.err_at(l.span(), "approximate_min_length must be at least 2"))
        }
        Some(l) => *l.get_ref(),
        None => match language {
            Language::Zh => 3,
            Language::En => 2,
        },
    };
    Ok(MatchOptions {
        language,
        negations: negations
            .iter()
            .map(|n| crate::text::normalise(n, language).text)
            .filter(|n| !n.is_empty())
            .collect(),
        negation_window: m.negation_window.unwrap_or(match language {
            Language::Zh => 4,
            Language::En => 3,
        }),
        skip_quoted: m.skip_quoted.unwrap_or(true),
        approximate: Some(ApproxOptions {
            threshold,
            min_length,
        }),
    })
}

/// Checks `[asr] vocabulary`: entries trimmed, not empty, one line each,
/// no duplicates, within the limits.
fn vocabulary(src: &SourceFile, entries: &[Spanned<String>]) -> Result<Vec<String>, PackError> {
    if let Some(extra) = entries.get(MAX_VOCABULARY_ENTRIES) {
        return Err(src.err_at(
            extra.span(),
            format!(
                "vocabulary has {} entries; at most {MAX_VOCABULARY_ENTRIES}",
                entries.len()
            ),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(entries.len());
    let mut total = 0;
    for e in entries {
        let v = e.get_ref().trim();
        let chars = v.chars().count();
        let problem = if v.is_empty() {
            Some("is empty".to_owned())
        } else if v.chars().any(char::is_control) {
            Some("must be one line".to_owned())
        } else if chars > MAX_VOCABULARY_ENTRY_CHARS {
            Some(format!(
                "has {chars} characters; at most {MAX_VOCABULARY_ENTRY_CHARS}"
            ))
        } else if out.iter().any(|o| o == v) {
            Some("is listed twice".to_owned())
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(src.err_at(e.span(), format!("vocabulary entry {v:?} {p}")));
        }
        total += chars;
        if total > MAX_VOCABULARY_CHARS {
            return Err(src.err_at(
                e.span(),
                format!("vocabulary has more than {MAX_VOCABULARY_CHARS} characters in all (Whisper's prompt is short)"),
            ));
        }
        out.push(v.to_owned());
    }
    Ok(out)
}

/// Whether a path's last component starts with a dot.
fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// The packs for every language, from the subdirectories of a rules
/// directory (`rules/zh`, `rules/en`; hidden ones such as `.staging-*`
/// are skipped).
#[derive(Debug, Clone)]
pub struct PackSet {
    packs: Vec<RulePack>,
}

impl PackSet {
    pub fn load(dir: &Path) -> Result<Self, PackError> {
        let mut packs = Vec::new();
        let entries = fs::read_dir(dir).map_err(|e| PackError {
            file: dir.to_path_buf(),
            line: None,
            message: format!("cannot read rule pack directory: {e}"),
        })?;
        // Hidden folders are never packs: the review server stages an
        // edit in `.staging-*` (left behind if it dies mid-edit), and an
        // editor or a backup tool may leave others.
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !is_hidden(p))
            .filter(|p| p.join("rules.toml").is_file())
            .collect();
        dirs.sort();
        for d in dirs {
            let pack = RulePack::load(&d)?;
            if packs.iter().any(|p: &RulePack| p.language == pack.language) {
                return Err(PackError {
                    file: d.join("rules.toml"),
                    line: None,
                    message: format!("a second pack for language {}", pack.language),
                });
            }
            packs.push(pack);
        }
        if packs.is_empty() {
            return Err(PackError {
                file: dir.to_path_buf(),
                line: None,
                message:
                    "no rule packs (expected subdirectories with rules.toml, e.g. zh/ and en/)"
                        .into(),
            });
        }
        Ok(PackSet { packs })
    }

    pub fn get(&self, language: Language) -> Option<&RulePack> {
        self.packs.iter().find(|p| p.language == language)
    }

    pub fn iter(&self) -> impl Iterator<Item = &RulePack> {
        self.packs.iter()
    }

    /// This set with `pack` in place of the pack of its language (or
    /// added): the packs in use with one language's proposed edit.
    pub fn with(&self, pack: RulePack) -> PackSet {
        let mut packs: Vec<RulePack> = self
            .packs
            .iter()
            .filter(|p| p.language != pack.language)
            .cloned()
            .collect();
        packs.push(pack);
        packs.sort_by_key(|p| p.language.as_str());
        PackSet { packs }
    }
}
