//! Scoring: a scorecard (weighted sections of items, deductions by
//! severity, fatal auto-fail items and a pass threshold, all from
//! `scorecard.toml`) turns flags into a 0–100 score and explains which item
//! cost which points.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{Deduction, FatalHit, Flag, FlagId, RuleId, Scored, SectionScore, Severity};
use crate::rules::{PackError, Rule, SourceFile};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScorecardFile {
    scorecard: Header,
    #[serde(default)]
    sections: Vec<SectionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    id: String,
    version: String,
    pass_score: Spanned<f64>,
    #[serde(default)]
    fatal_score: f64,
    #[serde(default)]
    severity_points: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionFile {
    id: Spanned<String>,
    name: String,
    weight: Spanned<f64>,
    #[serde(default)]
    items: Vec<ItemFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemFile {
    id: Spanned<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    rules: Vec<Spanned<String>>,
    #[serde(default)]
    flags: Vec<Spanned<String>>,
    points: Option<f64>,
    max: Option<f64>,
    #[serde(default)]
    fatal: bool,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub rules: Vec<RuleId>,
    pub flags: Vec<FlagId>,
    /// Points per occurrence; `None` means by the flag's severity.
    pub points: Option<f64>,
    pub max: f64,
    pub fatal: bool,
}

impl Item {
    fn matches(&self, flag: &Flag) -> bool {
        self.rules.contains(&flag.rule) || self.flags.contains(&flag.id)
    }
}

#[derive(Debug, Clone)]
pub struct Section {
    pub id: String,
    pub name: String,
    pub weight: f64,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub struct Scorecard {
    pub id: String,
    pub version: String,
    pub pass_score: f64,
    pub fatal_score: f64,
    pub severity_points: [f64; 4],
    pub sections: Vec<Section>,
}

fn severity_index(s: Severity) -> usize {
    match s {
        Severity::Info => 0,
        Severity::Minor => 1,
        Severity::Major => 2,
        Severity::Critical => 3,
    }
}

/// Points per severity: the defaults, with the file's `severity_points`
/// over them.
fn severity_points(
    src: &SourceFile,
    points: &BTreeMap<String, f64>,
) -> Result<[f64; 4], PackError> {
    let mut severity_points = [0.0, 2.0, 5.0, 10.0];
    for (k, v) in points {
        let s: Severity = k.parse().map_err(|e: String| PackError {
            file: src.path.clone(),
            line: None,
            message: format!("severity_points: {e}"),
        })?;
        severity_points[severity_index(s)] = *v;
    }
    Ok(severity_points)
}

/// One item of a section of `weight`: its rules exist in the pack, its
/// flags are known, it names at least one of them, and its points are not
/// negative.
fn item(
    src: &SourceFile,
    it: ItemFile,
    weight: f64,
    known_rules: &HashSet<&str>,
) -> Result<Item, PackError> {
    let mut item_rules = Vec::new();
    for r in &it.rules {
        if !known_rules.contains(r.get_ref().as_str()) {
            return Err(src.err_at(
                r.span(),
                format!(
                    "item {:?} names rule {:?}, which the pack does not have (or it is disabled)",
                    it.id.get_ref(),
                    r.get_ref()
                ),
            ));
        }
        item_rules.push(RuleId::new(r.get_ref().clone()));
    }
    let mut item_flags = Vec::new();
    for f in &it.flags {
        item_flags.push(
            f.get_ref()
                .parse::<FlagId>()
                .map_err(|e| src.err_at(f.span(), e))?,
        );
    }
    if item_rules.is_empty() && item_flags.is_empty() {
        return Err(src.err_at(
            it.id.span(),
            format!("item {:?} names no rules or flags", it.id.get_ref()),
        ));
    }
    if let Some(p) = it.points {
        if !(p.is_finite() && p >= 0.0) {
            return Err(src.err_at(it.id.span(), "points must not be negative"));
        }
    }
    Ok(Item {
        id: it.id.get_ref().clone(),
        name: if it.name.is_empty() {
            it.id.get_ref().clone()
        } else {
            it.name
        },
        rules: item_rules,
        flags: item_flags,
        points: it.points,
        max: it.max.unwrap_or(weight).min(weight),
        fatal: it.fatal,
    })
}

impl Scorecard {
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    /// Loads and checks a scorecard against the pack's rules: section
    /// weights add up to 100, every item names existing rules or flags, and
    /// no rule is counted by two items.
    pub fn load(path: &Path, rules: &[Rule]) -> Result<Self, PackError> {
        let src = SourceFile::read(path)?;
        let file: ScorecardFile = src.parse()?;
        let h = &file.scorecard;
        let pass = *h.pass_score.get_ref();
        if !(0.0..=100.0).contains(&pass) {
            return Err(src.err_at(h.pass_score.span(), "pass_score must be between 0 and 100"));
        }
        let severity_points = severity_points(&src, &h.severity_points)?;
        let total: f64 = file.sections.iter().map(|s| *s.weight.get_ref()).sum();
        if (total - 100.0).abs() > 1e-6 {
            let span = file
                .sections
                .first()
                .map(|s| s.weight.span())
                .unwrap_or(0..0);
            return Err(src.err_at(span, format!("section weights add up to {total}, not 100")));
        }
        let known_rules: HashSet<&str> = rules.iter().map(|r| r.meta.id.as_str()).collect();
        let mut sections = Vec::new();
        let mut item_ids = HashSet::new();
        for s in file.sections {
            let weight = *s.weight.get_ref();
            if weight < 0.0 {
                return Err(src.err_at(s.weight.span(), "weight must not be negative"));
            }
            let mut items = Vec::new();
            for it in s.items {
                if !item_ids.insert(it.id.get_ref().clone()) {
                    return Err(src.err_at(
                        it.id.span(),
                        format!("duplicate item id {:?}", it.id.get_ref()),
                    ));
                }
                items.push(item(&src, it, weight, &known_rules)?);
            }
            sections.push(Section {
                id: s.id.get_ref().clone(),
                name: s.name,
                weight,
                items,
            });
        }
        let card = Scorecard {
            id: h.id.clone(),
            version: h.version.clone(),
            pass_score: pass,
            fatal_score: h.fatal_score,
            severity_points,
            sections,
        };
        card.check_counted_once(&src, rules)?;
        Ok(card)
    }

    /// A rule counted by two items would be deducted twice.
    fn check_counted_once(&self, src: &SourceFile, rules: &[Rule]) -> Result<(), PackError> {
        for r in rules {
            let probe = Flag {
                id: r.meta.flag,
                rule: r.meta.id.clone(),
                severity: r.meta.severity,
                message: String::new(),
                evidence: Vec::new(),
            };
            let hits: Vec<&str> = self
                .sections
                .iter()
                .flat_map(|s| s.items.iter())
                .filter(|i| i.matches(&probe))
                .map(|i| i.id.as_str())
                .collect();
            if hits.len() > 1 {
                return Err(PackError {
                    file: src.path.clone(),
                    line: None,
                    message: format!(
                        "rule {:?} is counted by more than one item: {}",
                        r.meta.id.as_str(),
                        hits.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Scores a conversation's flags. Each flag costs its item's points (or
    /// its severity's), items are capped at their `max`, sections at their
    /// weight; a fatal item fails the conversation outright.
    pub fn apply(&self, flags: &[Flag]) -> Scored {
        let mut sections = Vec::with_capacity(self.sections.len());
        let mut fatal = Vec::new();
        for s in &self.sections {
            let mut deductions = Vec::new();
            let mut lost = 0.0;
            for item in &s.items {
                let mut item_lost = 0.0;
                for (i, f) in flags.iter().enumerate().filter(|(_, f)| item.matches(f)) {
                    if item.fatal {
                        fatal.push(FatalHit {
                            item: item.id.clone(),
                            flag_index: i,
                        });
                    }
                    let want = item
                        .points
                        .unwrap_or(self.severity_points[severity_index(f.severity)]);
                    let points = want.min(item.max - item_lost).max(0.0);
                    item_lost += points;
                    deductions.push(Deduction {
                        item: item.id.clone(),
                        flag: f.id,
                        rule: f.rule.clone(),
                        points,
                        flag_index: i,
                    });
                }
                lost += item_lost;
            }
            sections.push(SectionScore {
                id: s.id.clone(),
                name: s.name.clone(),
                weight: s.weight,
                score: (s.weight - lost).max(0.0),
                deductions,
            });
        }
        let total: f64 = sections.iter().map(|s| s.score).sum();
        let score = if fatal.is_empty() {
            total
        } else {
            self.fatal_score
        };
        Scored {
            score,
            passed: fatal.is_empty() && score >= self.pass_score,
            pass_score: self.pass_score,
            sections,
            fatal,
        }
    }
}
