//! `Scorecard::apply` as a table (issue 14, seam 5): one line per case,
//! flags in, score, verdict, section scores and fatal items out, on a small
//! scorecard written here so every number can be checked by hand.
//!
//! | section | weight | items |
//! |---|---|---|
//! | script | 20 | greeting (rule `greeting`, 10 points, max 10); closing (flag `closing_missing`, by severity, max 10) |
//! | attitude | 30 | buck (rule `buck_passing`, 15 points, max 30); rude (flag `forbidden_phrase`, 20 points, max 20) |
//! | compliance | 50 | pii (flag `pii_exposure`, fatal, 50 points, max 50) |
//!
//! Pass at 80; a fatal item scores 0; by severity: info 0, minor 5,
//! major 10, critical 20.

use callqa::domain::{Flag, FlagId, RuleId, Severity};
use callqa::score::{Item, Scorecard, Section};

fn item(id: &str, rules: &[&str], flags: &[FlagId], points: Option<f64>, max: f64) -> Item {
    Item {
        id: id.into(),
        name: id.into(),
        rules: rules.iter().map(|r| RuleId::new(*r)).collect(),
        flags: flags.to_vec(),
        points,
        max,
        fatal: false,
    }
}

fn card() -> Scorecard {
    let section = |id: &str, weight: f64, items: Vec<Item>| Section {
        id: id.into(),
        name: id.into(),
        weight,
        items,
    };
    Scorecard {
        id: "table".into(),
        version: "1".into(),
        pass_score: 80.0,
        fatal_score: 0.0,
        severity_points: [0.0, 5.0, 10.0, 20.0],
        sections: vec![
            section(
                "script",
                20.0,
                vec![
                    item("greeting", &["greeting"], &[], Some(10.0), 10.0),
                    item("closing", &[], &[FlagId::ClosingMissing], None, 10.0),
                ],
            ),
            section(
                "attitude",
                30.0,
                vec![
                    item("buck", &["buck_passing"], &[], Some(15.0), 30.0),
                    item("rude", &[], &[FlagId::ForbiddenPhrase], Some(20.0), 20.0),
                ],
            ),
            section(
                "compliance",
                50.0,
                vec![Item {
                    fatal: true,
                    ..item("pii", &[], &[FlagId::PiiExposure], Some(50.0), 50.0)
                }],
            ),
        ],
    }
}

fn flag(id: FlagId, rule: &str, severity: Severity) -> Flag {
    Flag {
        id,
        rule: RuleId::new(rule),
        severity,
        message: String::new(),
        evidence: Vec::new(),
    }
}

use FlagId::*;
use Severity::*;

/// Name, flags, then the expected score, verdict, section scores (script,
/// attitude, compliance) and fatal items.
type Case = (
    &'static str,
    Vec<Flag>,
    f64,
    bool,
    [f64; 3],
    &'static [&'static str],
);

#[test]
fn scorecard_apply_table() {
    let greeting = || flag(GreetingMissing, "greeting", Minor);
    let buck = || flag(ScriptMissing, "buck_passing", Major);
    let closing = |s| flag(ClosingMissing, "closing", s);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // name                              flags                                     score  pass   script attitude compliance  fatal
        ("no flags",                         vec![],                                   100.0, true,  [20.0, 30.0, 50.0], &[]),
        ("item points, not severity",        vec![greeting()],                          90.0, true,  [10.0, 30.0, 50.0], &[]),
        ("by severity: minor",               vec![closing(Minor)],                      95.0, true,  [15.0, 30.0, 50.0], &[]),
        ("by severity: info costs nothing",  vec![closing(Info)],                      100.0, true,  [20.0, 30.0, 50.0], &[]),
        ("by severity, capped at item max",  vec![closing(Critical)],                   90.0, true,  [10.0, 30.0, 50.0], &[]),
        ("exactly the pass score passes",    vec![greeting(), closing(Critical)],       80.0, true,  [ 0.0, 30.0, 50.0], &[]),
        ("each occurrence costs",            vec![buck(), buck()],                      70.0, false, [20.0,  0.0, 50.0], &[]),
        ("item capped at its max",           vec![buck(), buck(), buck()],              70.0, false, [20.0,  0.0, 50.0], &[]),
        ("section floored at zero: 15 + 20 > 30", vec![buck(), flag(ForbiddenPhrase, "rude_words", Major)],
                                                                                        70.0, false, [20.0,  0.0, 50.0], &[]),
        ("one flag, two items (rule, flag id)", vec![flag(ForbiddenPhrase, "buck_passing", Major)],
                                                                                        70.0, false, [20.0,  0.0, 50.0], &[]),
        ("a flag no item names is free",     vec![flag(CustomerAnger, "anger", Critical)], 100.0, true, [20.0, 30.0, 50.0], &[]),
        ("fatal: score 0, failed",           vec![flag(PiiExposure, "pii", Critical)],   0.0, false, [20.0, 30.0,  0.0], &["pii"]),
        ("fatal beats a clean rest",         vec![greeting(), flag(PiiExposure, "pii", Minor)],
                                                                                         0.0, false, [10.0, 30.0,  0.0], &["pii"]),
    ];
    let card = card();
    let mut wrong = Vec::new();
    for (name, flags, score, passed, sections, fatal) in &cases {
        let s = card.apply(flags);
        let got_sections: Vec<f64> = s.sections.iter().map(|x| x.score).collect();
        let got_fatal: Vec<&str> = s.fatal.iter().map(|f| f.item.as_str()).collect();
        if (
            s.score,
            s.passed,
            got_sections.as_slice(),
            got_fatal.as_slice(),
        ) != (*score, *passed, sections.as_slice(), *fatal)
        {
            wrong.push(format!(
                "{name}: got score {} passed {} sections {got_sections:?} fatal {got_fatal:?}",
                s.score, s.passed
            ));
        }
        // Every point lost is explained by a deduction.
        let deducted: f64 = s
            .sections
            .iter()
            .flat_map(|x| &x.deductions)
            .map(|d| d.points)
            .sum();
        let lost: f64 = s.sections.iter().map(|x| x.weight - x.score).sum();
        if deducted < lost - 1e-9 {
            wrong.push(format!("{name}: {lost} lost but {deducted} deducted"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
