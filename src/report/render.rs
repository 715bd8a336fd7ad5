//! Text forms of a report: a terminal table (teams, agents, coaching), CSV
//! (one row per team and per agent, for spreadsheets and payroll) and JSON
//! (the whole report). The HTML page is in `html`, the spreadsheet in
//! `xlsx` (which shares the team and agent table with the CSV).

use std::fmt::Write;

use super::labels::{words, Words};
use super::{AgentReport, Kpis, Report};
use crate::domain::Language;

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}"))
        .unwrap_or_else(|| "-".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", 100.0 * x))
        .unwrap_or_else(|| "-".into())
}

fn clock(s: f64) -> String {
    let s = s.max(0.0);
    format!("{:02}:{:04.1}", (s / 60.0) as u64, s % 60.0)
}

/// Width in a terminal: CJK characters take two columns.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

fn pad(s: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(display_width(s)));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// The KPI cells shared by team and agent rows (the table and the HTML
/// page).
pub(super) fn kpi_cells(k: &Kpis) -> Vec<String> {
    vec![
        k.contacts.to_string(),
        num(k.avg_score, 1),
        pct(k.pass_rate),
        k.violations.to_string(),
        pct(k.complaint_rate),
        num(k.first_response_chat_s, 1),
        num(k.first_response_call_s, 1),
        num(k.avg_response_s, 1),
        num(k.aht_s, 0),
        pct(k.silence_share),
        num(k.csat, 2),
        num(k.predicted_csat, 2),
        pct(k.fcr_rate),
        pct(k.resolution_rate),
        num(k.sentiment_change, 2),
    ]
}

pub(super) fn kpi_heads(w: &Words) -> Vec<&'static str> {
    vec![
        w.contacts,
        w.qa_score,
        w.pass_rate,
        w.violations,
        w.complaint_rate,
        w.frt_chat,
        w.frt_call,
        w.art,
        w.aht,
        w.silence,
        w.csat,
        w.predicted_csat,
        w.fcr,
        w.resolution,
        w.sentiment,
    ]
}

fn table_of(out: &mut String, heads: &[&str], rows: &[Vec<String>], left_cols: usize) {
    let widths: Vec<usize> = (0..heads.len())
        .map(|i| {
            rows.iter()
                .map(|r| display_width(&r[i]))
                .chain(std::iter::once(display_width(heads[i])))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // Numbers right; text, and a free-text last column, left.
                let last = i + 1 == cells.len();
                let right = i >= left_cols && (!last || c == "-" || c.parse::<f64>().is_ok());
                pad(c, widths[i], right)
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let _ = writeln!(
        out,
        "{}",
        line(heads.iter().map(|h| h.to_string()).collect())
    );
    for r in rows {
        let _ = writeln!(out, "{}", line(r.clone()));
    }
}

fn team_name(t: &Option<String>) -> String {
    t.clone().unwrap_or_else(|| "-".into())
}

fn agent_label(a: &AgentReport) -> String {
    match &a.name {
        Some(n) => format!("{} ({n})", a.agent_id),
        None => a.agent_id.clone(),
    }
}

/// The terminal table, headings in `lang`; coaching in each agent's language.
pub fn table(r: &Report, lang: Language) -> String {
    let w = words(lang);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {} {} ({} … {}, UTC{}), {} {}",
        w.report,
        w.period,
        r.period.label,
        r.period.first_day,
        r.period.last_day,
        r.period.utc_offset,
        w.scheme,
        r.scheme
    );
    if r.dismissed_flags > 0 {
        let _ = writeln!(out, "{} {}", r.dismissed_flags, w.excluded);
    }
    if r.placed_by_processing_time > 0 {
        let _ = writeln!(
            out,
            "{} {}",
            r.placed_by_processing_time, w.placed_by_processing
        );
    }
    if r.overall.contacts == 0 {
        let _ = writeln!(out, "\n{}", w.empty_period);
        return out;
    }
    teams_section(&mut out, r, w);
    agents_section(&mut out, r, w);
    if !r.unscoreable.is_empty() {
        let _ = writeln!(out, "\n{}", w.unscoreable);
        let rows: Vec<Vec<String>> = r
            .unscoreable
            .iter()
            .map(|u| {
                vec![
                    u.job_id.clone(),
                    u.agent_id.clone(),
                    u.started.clone().unwrap_or_else(|| "-".into()),
                    u.reason.clone(),
                ]
            })
            .collect();
        table_of(&mut out, &[w.job, w.agent, w.started, w.reason], &rows, 4);
    }

    if !r.plans.is_empty() {
        let _ = writeln!(out, "\n{}", w.review_plans);
        let rows: Vec<Vec<String>> = r.plans.iter().map(plan_cells).collect();
        table_of(&mut out, &plan_heads(w), &rows, 1);
    }

    let _ = writeln!(out, "\n{}", w.coaching);
    for a in &r.agents {
        agent_coaching(&mut out, a);
    }
    out
}

fn teams_section(out: &mut String, r: &Report, w: &Words) {
    let _ = writeln!(out, "\n{}", w.teams);
    let mut heads = vec![w.team, w.agents];
    heads.extend(kpi_heads(w));
    heads.push(w.composite);
    let rows: Vec<Vec<String>> = r
        .teams
        .iter()
        .map(|t| {
            let mut row = vec![team_name(&t.team), t.agents.to_string()];
            row.extend(kpi_cells(&t.kpis));
            row.push(num(t.avg_composite, 1));
            row
        })
        .collect();
    table_of(out, &heads, &rows, 1);
}

fn agents_section(out: &mut String, r: &Report, w: &Words) {
    let _ = writeln!(out, "\n{}", w.agents);
    let mut heads = vec![w.agent, w.team, w.role];
    heads.extend(kpi_heads(w));
    heads.extend([w.composite, w.grade, w.bonus, w.note]);
    let rows: Vec<Vec<String>> = r
        .agents
        .iter()
        .map(|a| {
            let mut row = vec![
                agent_label(a),
                team_name(&a.team),
                a.role.clone().unwrap_or_else(|| "-".into()),
            ];
            row.extend(kpi_cells(&a.kpis));
            row.push(num(a.composite.total, 1));
            row.push(a.grade.clone().unwrap_or_else(|| "-".into()));
            row.push(num(a.bonus, 1));
            row.push(a.grade_note.clone().unwrap_or_default());
            row
        })
        .collect();
    table_of(out, &heads, &rows, 3);
}

/// One agent's weeks and weaknesses, in the agent's language.
fn agent_coaching(out: &mut String, a: &AgentReport) {
    let aw = words(a.language);
    let _ = writeln!(out, "{}:", agent_label(a));
    if a.weeks.len() > 1 {
        let weeks: Vec<String> = a
            .weeks
            .iter()
            .map(|wk| format!("{} {} {}", wk.week, num(wk.avg_score, 1), pct(wk.pass_rate)))
            .collect();
        let _ = writeln!(out, "  {}: {}", aw.weeks, weeks.join(" · "));
    }
    if a.coaching.is_empty() {
        let _ = writeln!(out, "  {}", aw.no_weaknesses);
    }
    for wk in &a.coaching {
        let _ = writeln!(out, "  - {}", wk.summary);
        if !wk.suggestion.is_empty() {
            let _ = writeln!(out, "    → {}", wk.suggestion);
        }
        for e in &wk.examples {
            let who = e.speaker.map(|s| s.as_str()).unwrap_or("-");
            let _ = writeln!(
                out,
                "    · {} {} {} “{}”",
                e.job_id,
                clock(e.start),
                who,
                e.text
            );
        }
    }
}

fn csv_cell(s: &str) -> String {
    // Cells starting with = + - @ are formulas to spreadsheets: quote them
    // with a leading apostrophe so an agent name cannot run one.
    let s = if s.starts_with(['=', '+', '@']) || (s.starts_with('-') && s.parse::<f64>().is_err()) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{}", super::round_to::<4>(x)))
        .unwrap_or_default()
}

/// CSV columns: machine name, English and Chinese heading.
const CSV_COLUMNS: [(&str, &str); 34] = [
    ("level", "层级"),
    ("team", "班组"),
    ("agent_id", "坐席工号"),
    ("name", "姓名"),
    ("role", "岗位"),
    ("contacts", "通数"),
    ("avg_score", "质检均分"),
    ("pass_rate", "质检合格率"),
    ("violations", "违规数"),
    ("complaint_rate", "投诉率"),
    ("first_response_chat_s", "在线首响(秒)"),
    ("first_response_call_s", "电话接起(秒)"),
    ("avg_response_s", "平均响应(秒)"),
    ("handle_time_s", "处理时长(秒)"),
    ("after_call_work_s", "话后处理(秒)"),
    ("aht_s", "平均处理时长(秒)"),
    ("silence_share", "静音占比"),
    ("csat5", "满意度(/5)"),
    ("csat_responses", "满意度回复数"),
    ("predicted_csat5", "预测满意度(/5)"),
    ("fcr_rate", "一次解决率"),
    ("resolution_rate", "解决率"),
    ("sentiment_change", "情绪变化"),
    ("common_score", "通用项得分"),
    ("role_score", "岗位项得分"),
    ("data_score", "数据得分"),
    ("supervisor_score", "主管评分"),
    ("composite", "综合得分"),
    ("rank", "排名"),
    ("grade", "等级"),
    ("bonus", "绩效系数"),
    ("graded_by", "评定方式"),
    ("grade_note", "说明"),
    ("unscoreable", "无法评分通数"),
];

/// A byte-order mark, so Excel (on Chinese Windows too) reads UTF-8.
pub const BOM: &str = "\u{feff}";

/// A review plan's progress: plan, tasks, done (with its share), overdue,
/// unassigned (the table and the HTML page).
pub(super) fn plan_cells(p: &crate::desk::progress::PlanProgress) -> Vec<String> {
    let share = if p.total == 0 {
        String::new()
    } else {
        format!(" ({})", pct(Some(p.done as f64 / p.total as f64)))
    };
    vec![
        p.plan.clone(),
        p.total.to_string(),
        format!("{}{share}", p.done),
        p.overdue.to_string(),
        p.unassigned.to_string(),
    ]
}

pub(super) fn plan_heads(w: &Words) -> Vec<&'static str> {
    vec![w.plan, w.tasks, w.done, w.overdue, w.unassigned]
}

/// A cell of the team and agent table: text, or a number (empty when
/// there is none), so a spreadsheet gets numbers it can sum.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Num(Option<f64>),
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    fn count(n: usize) -> Cell {
        Cell::Num(Some(n as f64))
    }
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => csv_cell(s),
            Cell::Num(v) => opt(*v),
        }
    }
}

/// The team and agent table of the CSV and of the spreadsheet: headings in
/// the report's language (English by default), a row per team, then per
/// agent.
pub fn summary_table(r: &Report) -> (Vec<&'static str>, Vec<Vec<Cell>>) {
    let zh = r.lang == Some(Language::Zh);
    let heads = CSV_COLUMNS
        .iter()
        .map(|(en, cn)| if zh { *cn } else { *en })
        .collect();
    let kcells = |k: &Kpis| -> Vec<Cell> {
        vec![
            Cell::count(k.contacts),
            Cell::Num(k.avg_score),
            Cell::Num(k.pass_rate),
            Cell::count(k.violations),
            Cell::Num(k.complaint_rate),
            Cell::Num(k.first_response_chat_s),
            Cell::Num(k.first_response_call_s),
            Cell::Num(k.avg_response_s),
            Cell::Num(k.handle_time_s),
            Cell::Num(k.after_call_work_s),
            Cell::Num(k.aht_s),
            Cell::Num(k.silence_share),
            Cell::Num(k.csat),
            Cell::count(k.csat_responses),
            Cell::Num(k.predicted_csat),
            Cell::Num(k.fcr_rate),
            Cell::Num(k.resolution_rate),
            Cell::Num(k.sentiment_change),
        ]
    };
    let blank = || Cell::text("");
    let mut rows = Vec::new();
    for t in &r.teams {
        let mut row = vec![
            Cell::text("team"),
            Cell::text(t.team.clone().unwrap_or_default()),
            blank(),
            blank(),
            blank(),
        ];
        row.extend(kcells(&t.kpis));
        row.extend([
            Cell::Num(None),
            Cell::Num(None),
            Cell::Num(None),
            Cell::Num(None),
        ]);
        row.push(Cell::Num(t.avg_composite));
        row.extend([Cell::Num(None), blank(), Cell::Num(None), blank(), blank()]);
        row.push(Cell::count(t.kpis.unscoreable));
        rows.push(row);
    }
    for a in &r.agents {
        let c = &a.composite;
        let mut row = vec![
            Cell::text("agent"),
            Cell::text(a.team.clone().unwrap_or_default()),
            Cell::text(a.agent_id.clone()),
            Cell::text(a.name.clone().unwrap_or_default()),
            Cell::text(a.role.clone().unwrap_or_default()),
        ];
        row.extend(kcells(&a.kpis));
        row.extend([
            Cell::Num(c.common),
            Cell::Num(c.role_score),
            Cell::Num(c.data),
            Cell::Num(c.supervisor),
            Cell::Num(c.total),
            Cell::Num(a.rank.map(|r| r as f64)),
            Cell::text(a.grade.clone().unwrap_or_default()),
            Cell::Num(a.bonus),
            Cell::text(a.graded_by.as_str()),
            Cell::text(a.grade_note.clone().unwrap_or_default()),
            Cell::count(a.kpis.unscoreable),
        ]);
        rows.push(row);
    }
    (heads, rows)
}

/// One header line (in the report's language: `lang`, English by
/// default), then a row per team and per agent; starts with a UTF-8 BOM.
pub fn csv(r: &Report) -> String {
    let (heads, rows) = summary_table(r);
    let mut out = String::from(BOM);
    out.push_str(&heads.join(","));
    out.push('\n');
    for row in rows {
        out.push_str(&row.iter().map(Cell::csv).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// The whole report as pretty JSON.
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{build, html, Inputs, Options, Period, Scheme};
    use std::path::Path;

    #[test]
    fn csv_has_a_bom_and_local_headings_and_an_empty_period_says_so() {
        let scheme =
            Scheme::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/evaluation.toml"))
                .unwrap();
        let period = Period::parse("2026-11", scheme.utc_offset).unwrap();
        let report = |lang| {
            build(
                &Inputs::default(),
                &Options {
                    scheme: &scheme,
                    period: &period,
                    team: None,
                    agent: None,
                    lang,
                    packs: None,
                },
            )
        };
        let zh = report(Some(Language::Zh));
        assert!(csv(&zh).starts_with("\u{feff}层级,班组,坐席工号,姓名,岗位,通数,质检均分"));
        let en = report(None);
        assert!(csv(&en).starts_with("\u{feff}level,team,agent_id,name,role,contacts,avg_score"));
        assert_eq!(csv(&en).lines().count(), 1, "only the header");
        let t = table(&zh, Language::Zh);
        assert!(
            t.starts_with("坐席考核报告 — 考核周期 2026-11 (2026-11-01 … 2026-11-30, UTC+08:00)"),
            "{t}"
        );
        assert!(t.trim_end().ends_with("本周期内没有会话记录。"), "{t}");
        assert!(!t.contains("班组  "), "no empty tables: {t}");
        let h = html::page(&en, Language::En);
        assert!(h.contains("<p id=\"empty\">No contacts in this period.</p>"));
        assert!(h.contains("2026-11-01 … 2026-11-30 (UTC+08:00)"));
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("-0.25"), "-0.25");
        assert_eq!(pad("张三", 6, false), "张三  ");
    }
}
