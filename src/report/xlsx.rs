//! The report as an Excel workbook (`callqa report --format xlsx`), one
//! sheet per table, headings in the report's language: teams and agents
//! (the CSV's table, with numbers as numbers), each agent's weeks, coaching
//! items with their evidence, every contact, and every flag that counts
//! with its first piece of evidence, the review plans' progress. Text cells are written as text, never
//! as formulas, so an agent's name cannot run one. This module owns
//! `rust_xlsxwriter`.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::labels::{flag_label, words};
use super::render::{summary_table, Cell};
use super::Report;
use crate::domain::Language;

/// Sheet and column names in both languages.
struct Names {
    summary: &'static str,
    weeks: &'static str,
    coaching: &'static str,
    contacts: &'static str,
    flags: &'static str,
    unscoreable: &'static str,
    plans: &'static str,
    plan_cols: [&'static str; 6],
    week_cols: [&'static str; 8],
    coaching_cols: [&'static str; 10],
    contact_cols: [&'static str; 16],
    flag_cols: [&'static str; 11],
    unscoreable_cols: [&'static str; 5],
    yes: &'static str,
    no: &'static str,
}

const EN: Names = Names {
    summary: "Teams and agents",
    weeks: "Weekly trend",
    coaching: "Coaching",
    contacts: "Contacts",
    flags: "Flags",
    unscoreable: "Not scoreable",
    plans: "Review plans",
    plan_cols: ["plan", "period", "tasks", "done", "overdue", "unassigned"],
    week_cols: [
        "team",
        "agent_id",
        "name",
        "week",
        "contacts",
        "avg_score",
        "pass_rate",
        "violations",
    ],
    coaching_cols: [
        "agent_id",
        "name",
        "flag",
        "rule",
        "severity",
        "contacts",
        "of",
        "summary",
        "suggestion",
        "example",
    ],
    contact_cols: [
        "job_id",
        "agent_id",
        "name",
        "team",
        "kind",
        "language",
        "started",
        "score",
        "passed",
        "fatal",
        "scoreable",
        "reason",
        "csat5",
        "predicted_csat5",
        "resolved",
        "flags",
    ],
    flag_cols: [
        "job_id", "agent_id", "team", "flag", "flag_id", "rule", "severity", "speaker", "start_s",
        "end_s", "evidence",
    ],
    unscoreable_cols: ["job_id", "agent_id", "kind", "started", "reason"],
    yes: "yes",
    no: "no",
};

const ZH: Names = Names {
    summary: "班组与坐席",
    weeks: "每周趋势",
    coaching: "辅导建议",
    contacts: "会话明细",
    flags: "标记明细",
    unscoreable: "无法评分",
    plans: "抽检计划进度",
    plan_cols: ["抽检计划", "周期", "任务数", "已完成", "已逾期", "未分配"],
    week_cols: [
        "班组",
        "坐席工号",
        "姓名",
        "周",
        "通数",
        "质检均分",
        "质检合格率",
        "违规数",
    ],
    coaching_cols: [
        "坐席工号",
        "姓名",
        "标记",
        "规则",
        "严重程度",
        "命中通数",
        "总通数",
        "说明",
        "建议",
        "示例",
    ],
    contact_cols: [
        "工单",
        "坐席工号",
        "姓名",
        "班组",
        "类型",
        "语言",
        "开始时间",
        "质检得分",
        "合格",
        "一票否决",
        "可评分",
        "原因",
        "满意度(/5)",
        "预测满意度(/5)",
        "已解决",
        "标记",
    ],
    flag_cols: [
        "工单",
        "坐席工号",
        "班组",
        "标记",
        "标记编号",
        "规则",
        "严重程度",
        "说话人",
        "开始(秒)",
        "结束(秒)",
        "证据",
    ],
    unscoreable_cols: ["工单", "坐席工号", "类型", "开始时间", "原因"],
    yes: "是",
    no: "否",
};

impl Names {
    fn yes_no(&self, b: bool) -> &'static str {
        if b {
            self.yes
        } else {
            self.no
        }
    }

    fn opt_yes_no(&self, b: Option<bool>) -> &'static str {
        b.map(|b| self.yes_no(b)).unwrap_or("")
    }
}

/// The workbook's bytes.
pub fn workbook(r: &Report, lang: Language) -> Result<Vec<u8>, XlsxError> {
    let n = match lang {
        Language::Zh => &ZH,
        Language::En => &EN,
    };
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();

    let (heads, rows) = summary_table(r);
    sheet(&mut wb, n.summary, &heads, rows, &bold)?;
    sheet(&mut wb, n.weeks, &n.week_cols, week_rows(r), &bold)?;
    sheet(
        &mut wb,
        n.coaching,
        &n.coaching_cols,
        coaching_rows(r),
        &bold,
    )?;
    let (contacts, flags) = contact_rows(r, lang, n);
    sheet(&mut wb, n.contacts, &n.contact_cols, contacts, &bold)?;
    sheet(&mut wb, n.flags, &n.flag_cols, flags, &bold)?;
    sheet(
        &mut wb,
        n.unscoreable,
        &n.unscoreable_cols,
        unscoreable_rows(r),
        &bold,
    )?;
    sheet(&mut wb, n.plans, &n.plan_cols, plan_rows(r), &bold)?;
    about_sheet(&mut wb, r, lang, &bold)?;
    wb.save_to_buffer()
}

/// Each agent's weeks.
fn week_rows(r: &Report) -> Vec<Vec<Cell>> {
    let mut weeks = Vec::new();
    for a in &r.agents {
        for w in &a.weeks {
            weeks.push(vec![
                text(a.team.as_deref().unwrap_or("")),
                text(&a.agent_id),
                text(a.name.as_deref().unwrap_or("")),
                text(&w.week),
                Cell::Num(Some(w.contacts as f64)),
                Cell::Num(w.avg_score),
                Cell::Num(w.pass_rate),
                Cell::Num(Some(w.violations as f64)),
            ]);
        }
    }
    weeks
}

/// Each agent's weaknesses, their examples in one cell.
fn coaching_rows(r: &Report) -> Vec<Vec<Cell>> {
    let mut coaching = Vec::new();
    for a in &r.agents {
        for c in &a.coaching {
            let example = c
                .examples
                .iter()
                .map(|e| {
                    let who = e.speaker.map(|s| s.as_str()).unwrap_or("");
                    format!("{} {who} {}: {}", e.job_id, clock(e.start), e.text)
                })
                .collect::<Vec<_>>()
                .join("\n");
            coaching.push(vec![
                text(&a.agent_id),
                text(a.name.as_deref().unwrap_or("")),
                text(&c.label),
                text(&c.rule),
                text(c.severity.as_str()),
                Cell::Num(Some(c.contacts as f64)),
                Cell::Num(Some(c.of as f64)),
                text(&c.summary),
                text(&c.suggestion),
                text(&example),
            ]);
        }
    }
    coaching
}

/// Every contact, and every flag that counts with its first evidence.
fn contact_rows(r: &Report, lang: Language, n: &Names) -> (Vec<Vec<Cell>>, Vec<Vec<Cell>>) {
    let mut contacts = Vec::new();
    let mut flags = Vec::new();
    for c in &r.contacts {
        let labels: Vec<&str> = c.flags.iter().map(|f| flag_label(f.id, lang)).collect();
        contacts.push(vec![
            text(&c.job_id),
            text(&c.agent_id),
            text(c.agent_name.as_deref().unwrap_or("")),
            text(c.team.as_deref().unwrap_or("")),
            text(kind(c.kind)),
            text(c.language.as_str()),
            text(c.started.as_deref().unwrap_or("")),
            Cell::Num(Some(c.score)),
            text(n.yes_no(c.passed)),
            text(n.yes_no(c.fatal)),
            text(n.yes_no(c.scoreable)),
            text(c.unscoreable_reason.as_deref().unwrap_or("")),
            Cell::Num(c.csat5),
            Cell::Num(c.predicted_csat),
            text(n.opt_yes_no(c.resolved)),
            text(&labels.join("; ")),
        ]);
        for f in &c.flags {
            let e = f.evidence.as_ref();
            flags.push(vec![
                text(&c.job_id),
                text(&c.agent_id),
                text(c.team.as_deref().unwrap_or("")),
                text(flag_label(f.id, lang)),
                text(f.id.as_str()),
                text(&f.rule),
                text(f.severity.as_str()),
                text(e.and_then(|e| e.speaker).map(|s| s.as_str()).unwrap_or("")),
                Cell::Num(e.map(|e| e.start)),
                Cell::Num(e.map(|e| e.end)),
                text(e.map(|e| e.text.as_str()).unwrap_or("")),
            ]);
        }
    }
    (contacts, flags)
}

fn unscoreable_rows(r: &Report) -> Vec<Vec<Cell>> {
    r.unscoreable
        .iter()
        .map(|u| {
            vec![
                text(&u.job_id),
                text(&u.agent_id),
                text(kind(u.kind)),
                text(u.started.as_deref().unwrap_or("")),
                text(&u.reason),
            ]
        })
        .collect()
}

fn plan_rows(r: &Report) -> Vec<Vec<Cell>> {
    let count = |n: usize| Cell::Num(Some(n as f64));
    r.plans
        .iter()
        .map(|p| {
            vec![
                text(&p.plan),
                text(&p.period),
                count(p.total),
                count(p.done),
                count(p.overdue),
                count(p.unassigned),
            ]
        })
        .collect()
}

/// The period and scheme, so a forwarded file says what it is.
fn about_sheet(
    wb: &mut Workbook,
    r: &Report,
    lang: Language,
    bold: &Format,
) -> Result<(), XlsxError> {
    let w = words(lang);
    let about = wb.add_worksheet();
    about.set_name(w.report)?;
    for (i, (k, v)) in [
        (w.period, r.period.label.as_str()),
        (w.scheme, r.scheme.as_str()),
        (w.generated, r.generated_at.as_str()),
    ]
    .into_iter()
    .enumerate()
    {
        about.write_string_with_format(i as u32, 0, k, bold)?;
        about.write_string(i as u32, 1, v)?;
    }
    about.set_column_width(0, 16)?;
    about.set_column_width(1, 40)?;
    Ok(())
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

fn kind(k: crate::wire::job::JobKind) -> &'static str {
    match k {
        crate::wire::job::JobKind::Chat => "chat",
        crate::wire::job::JobKind::Call => "call",
    }
}

fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// One sheet: a bold heading row, frozen, then the rows; numbers as
/// numbers, empty numbers as empty cells, text as text.
fn sheet(
    wb: &mut Workbook,
    name: &str,
    heads: &[&str],
    rows: Vec<Vec<Cell>>,
    bold: &Format,
) -> Result<(), XlsxError> {
    let ws: &mut Worksheet = wb.add_worksheet();
    ws.set_name(name)?;
    for (c, h) in heads.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, bold)?;
        let width = heads_width(h);
        ws.set_column_width(c as u16, width)?;
    }
    ws.set_freeze_panes(1, 0)?;
    for (i, row) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text(s) if s.is_empty() => {}
                Cell::Text(s) => {
                    ws.write_string(r, c as u16, s)?;
                }
                Cell::Num(Some(x)) if x.is_finite() => {
                    ws.write_number(r, c as u16, *x)?;
                }
                Cell::Num(_) => {}
            }
        }
    }
    Ok(())
}

/// A column wide enough for its heading (CJK characters count double).
fn heads_width(h: &str) -> f64 {
    let w: usize = h.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    (w as f64 + 2.0).max(10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{build, Inputs, Options, Period, Scheme};
    use std::path::Path;

    #[test]
    fn an_empty_period_still_makes_a_workbook_with_every_sheet() {
        let scheme =
            Scheme::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/evaluation.toml"))
                .unwrap();
        let period = Period::parse("2026-11", scheme.utc_offset).unwrap();
        let r = build(
            &Inputs::default(),
            &Options {
                scheme: &scheme,
                period: &period,
                team: None,
                agent: None,
                lang: Some(Language::Zh),
                packs: None,
            },
        );
        let bytes = workbook(&r, Language::Zh).unwrap();
        assert_eq!(&bytes[..2], b"PK", "a zip file");
        assert!(bytes.len() > 3000, "{} bytes", bytes.len());
    }
}
