//! One `[[rules]]` table of `rules.toml` → a compiled [`Rule`]: the fields
//! every rule has, then the kind's own (phrase matchers, personal-data
//! kinds, channel limits, model thresholds), each mistake reported with the
//! file and line.

use std::collections::HashMap;
use std::ops::Range;

use super::approx::ApproxPhrase;
use super::matcher::{alternation, MatchOptions, PhraseMatcher};
use super::{
    fields, ChannelLimits, PackError, PiiKind, Rule, RuleFile, RuleKind, RuleMeta, SourceFile,
    Window,
};
use crate::domain::{FlagId, RuleId, Severity, Speaker};

/// Compiles one rule.
pub(super) fn rule(
    src: &SourceFile,
    r: RuleFile,
    matching: &MatchOptions,
    approximate_default: bool,
    declared: &HashMap<FlagId, Severity>,
) -> Result<Rule, PackError> {
    let flag: FlagId = r
        .flag
        .get_ref()
        .parse()
        .map_err(|e: String| src.err_at(r.flag.span(), e))?;
    if matches!(flag, FlagId::Custom(_)) && !declared.contains_key(&flag) {
        return Err(src.err_at(
            r.flag.span(),
            format!(
                "flag {:?} is not built in and this pack does not declare it in [[flags]]",
                r.flag.get_ref()
            ),
        ));
    }
    let severity: Severity = match (&r.severity, declared.get(&flag)) {
        (Some(s), _) => s
            .get_ref()
            .parse()
            .map_err(|e: String| src.err_at(s.span(), e))?,
        (None, Some(s)) => *s,
        (None, None) => {
            return Err(src.err_at(
                r.id.span(),
                format!(
                    "rule {:?} has no severity (only rules raising a flag the pack declares may leave it out)",
                    r.id.get_ref()
                ),
            ))
        }
    };
    let rid = r.id.get_ref().clone();
    let valid_id = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if rid.is_empty() || !rid.chars().all(valid_id) {
        return Err(src.err_at(
            r.id.span(),
            format!("rule id {rid:?} must be letters, digits, '_', '-' or '.'"),
        ));
    }
    let meta = RuleMeta {
        id: RuleId::new(rid.clone()),
        flag,
        severity,
        message: r.message.clone(),
        coaching: r.coaching.clone(),
    };
    let phrase_kind = matches!(
        r.kind.get_ref().as_str(),
        "required_phrase" | "forbidden_phrase" | "customer_trigger"
    );
    if r.approximate.is_some() && !phrase_kind {
        return Err(src.err_at(
            r.id.span(),
            format!(
                "rule {rid:?} ({}): only phrase rules (required_phrase, forbidden_phrase, customer_trigger) match approximately",
                r.kind.get_ref()
            ),
        ));
    }
    fields::check(src, &r)?;
    let cx = Cx {
        src,
        r: &r,
        rid: &rid,
        id_span: r.id.span(),
        matching,
        approximate_default,
    };
    Ok(Rule {
        meta,
        kind: cx.kind()?,
    })
}

/// What compiling one rule's kind needs.
struct Cx<'a> {
    src: &'a SourceFile,
    r: &'a RuleFile,
    rid: &'a str,
    id_span: Range<usize>,
    matching: &'a MatchOptions,
    approximate_default: bool,
}

impl Cx<'_> {
    fn err(&self, message: String) -> PackError {
        self.src.err_at(self.id_span.clone(), message)
    }

    fn need(&self, cond: bool, what: &str) -> Result<(), PackError> {
        if cond {
            return Ok(());
        }
        Err(self.err(format!(
            "rule {:?} ({}) needs {what}",
            self.rid,
            self.r.kind.get_ref()
        )))
    }

    fn kind(&self) -> Result<RuleKind, PackError> {
        let r = self.r;
        let speaker = |default| r.speaker.unwrap_or(default);
        Ok(match r.kind.get_ref().as_str() {
            "required_phrase" => RuleKind::RequiredPhrase {
                speaker: speaker(Speaker::Agent),
                matcher: self.matcher(false)?,
                window: self.window(),
            },
            "forbidden_phrase" => RuleKind::ForbiddenPhrase {
                speaker: speaker(Speaker::Agent),
                matcher: self.matcher(true)?,
            },
            "customer_trigger" => RuleKind::CustomerTrigger {
                speaker: speaker(Speaker::Customer),
                matcher: self.matcher(true)?,
            },
            "pii" => self.pii()?,
            "first_response" => RuleKind::FirstResponse {
                limits: self.limits()?,
            },
            "response_time" => RuleKind::ResponseTime {
                limits: self.limits()?,
            },
            "long_silence" => RuleKind::LongSilence {
                min_seconds: self.positive(r.min_seconds, "min_seconds")?,
            },
            "interruption" => RuleKind::Interruption {
                min_seconds: self.positive(r.min_seconds, "min_seconds")?,
            },
            "no_speech" => RuleKind::NoSpeech,
            "semantic" => {
                self.need(!r.examples.is_empty(), "examples")?;
                let threshold = r.threshold.unwrap_or(0.6);
                self.need(
                    (0.0..=1.0).contains(&threshold),
                    "a threshold between 0 and 1",
                )?;
                RuleKind::Semantic {
                    speaker: speaker(Speaker::Agent),
                    required: r.required.unwrap_or(true),
                    examples: r.examples.clone(),
                    threshold,
                    window: self.window(),
                    when_customer: r.when_customer.clone(),
                }
            }
            "customer_anger" => {
                let threshold = r.threshold.unwrap_or(0.8);
                self.need(
                    (0.0..=1.0).contains(&threshold),
                    "a threshold between 0 and 1",
                )?;
                self.need(
                    r.examples.is_empty() || !r.counter_examples.is_empty(),
                    "counter_examples (calm turns) when it has examples",
                )?;
                RuleKind::CustomerAnger {
                    threshold,
                    min_turns: r.min_turns.unwrap_or(1).max(1),
                    examples: r.examples.clone(),
                    counter_examples: r.counter_examples.clone(),
                    margin: r.margin.unwrap_or(0.1),
                }
            }
            other => {
                return Err(self.src.err_at(
                    r.kind.span(),
                    format!("unknown rule kind {other:?} ({})", fields::KINDS.join(", ")),
                ))
            }
        })
    }

    fn window(&self) -> Window {
        Window {
            first_turns: self.r.first_turns,
            first_seconds: self.r.first_seconds,
            last_turns: self.r.last_turns,
            last_seconds: self.r.last_seconds,
        }
    }

    fn matcher(&self, negation_default: bool) -> Result<PhraseMatcher, PackError> {
        let (r, rid, src) = (self.r, self.rid, self.src);
        let language = self.matching.language;
        let patterns: Vec<String> = r.patterns.iter().map(|p| p.get_ref().clone()).collect();
        let find = alternation(&r.phrases, &patterns, language)
            .map_err(|(i, e)| match r.patterns.get(i) {
                Some(p) => src.err_at(p.span(), format!("invalid pattern in rule {rid:?}: {e}")),
                None => self.err(format!("rule {rid:?}: {e}")),
            })?
            .ok_or_else(|| {
                self.err(format!(
                    "rule {rid:?} ({}) needs phrases or patterns",
                    r.kind.get_ref()
                ))
            })?;
        let exclude = alternation(&r.exclude, &[], language)
            .map_err(|(_, e)| self.err(format!("rule {rid:?} exclude: {e}")))?;
        let matcher = PhraseMatcher::new(find, exclude, r.negation.unwrap_or(negation_default));
        let approx = match &self.matching.approximate {
            Some(o) if r.approximate.unwrap_or(self.approximate_default) => o,
            _ => return Ok(matcher),
        };
        let prepare = |phrases: &[String]| -> Vec<ApproxPhrase> {
            phrases
                .iter()
                .filter_map(|p| {
                    ApproxPhrase::new(p, language, &self.matching.negations, approx.min_length)
                })
                .collect()
        };
        Ok(matcher.approximate(prepare(&r.phrases), prepare(&r.exclude)))
    }

    fn pii(&self) -> Result<RuleKind, PackError> {
        let r = self.r;
        self.need(
            !r.detect.is_empty(),
            "detect = [\"bank_card\", \"cn_mobile\", \"cn_id\", \"email\"]",
        )?;
        let kind_named = |name: &str| PiiKind::ALL.into_iter().find(|k| k.as_str() == name);
        let mut detect = Vec::new();
        for d in &r.detect {
            let k = kind_named(d.get_ref()).ok_or_else(|| {
                self.src.err_at(
                    d.span(),
                    format!(
                        "unknown personal-data kind {:?} (bank_card, cn_mobile, cn_id, email)",
                        d.get_ref()
                    ),
                )
            })?;
            detect.push(k);
        }
        let mut context = HashMap::new();
        for (k, words) in &r.context {
            let kind = kind_named(k).ok_or_else(|| {
                self.err(format!("rule {:?}: unknown context kind {k:?}", self.rid))
            })?;
            let language = self.matching.language;
            context.insert(
                kind,
                words
                    .iter()
                    .map(|w| crate::text::normalise(w, language).text)
                    .collect(),
            );
        }
        Ok(RuleKind::Pii {
            speaker: r.speaker.unwrap_or(Speaker::Agent),
            detect,
            context,
        })
    }

    fn limits(&self) -> Result<ChannelLimits, PackError> {
        let r = self.r;
        self.need(
            !r.max_seconds.is_empty(),
            "max_seconds (e.g. { chat = 30 })",
        )?;
        for (ch, v) in &r.max_seconds {
            if !(v.is_finite() && *v > 0.0) {
                return Err(self.err(format!(
                    "rule {:?}: max_seconds.{ch} must be positive",
                    self.rid
                )));
            }
        }
        Ok(ChannelLimits(r.max_seconds.clone()))
    }

    fn positive(&self, v: Option<f64>, what: &str) -> Result<f64, PackError> {
        match v {
            Some(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(self.err(format!("rule {:?} needs a positive {what}", self.rid))),
        }
    }
}
