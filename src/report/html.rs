//! The report as one self-contained HTML page: inline CSS and inline SVG
//! charts (QA score by day, violations by kind, agents against their team
//! average), no scripts and nothing fetched — contact-centre machines are
//! often offline, and the file can be mailed or archived as it is.

use std::fmt::Write;

use super::labels::{flag_label, words, Words};
use super::{AgentReport, Kpis, Report};
use crate::domain::{FlagId, Language};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

fn num(v: Option<f64>, d: usize) -> String {
    v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "–".into())
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", 100.0 * x))
        .unwrap_or_else(|| "–".into())
}

/// The trend chart's box: width, height and the left, right, top and
/// bottom margins around the plot.
const TREND_BOX: (f64, f64, f64, f64, f64, f64) = (680.0, 260.0, 40.0, 130.0, 16.0, 40.0);

/// Where the trend chart puts things: dates along x, scores from `lo` to
/// 100 up y.
struct TrendScale<'a> {
    dates: Vec<&'a str>,
    lo: f64,
}

impl TrendScale<'_> {
    fn x(&self, i: usize) -> f64 {
        let (width, _, left, right, _, _) = TREND_BOX;
        let plot_w = width - left - right;
        if self.dates.len() == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (self.dates.len() - 1) as f64
        }
    }

    fn y(&self, v: f64) -> f64 {
        let (_, height, _, _, top, bottom) = TREND_BOX;
        let plot_h = height - top - bottom;
        top + plot_h * (1.0 - (v - self.lo) / (100.0 - self.lo))
    }
}

/// Line chart of the daily mean QA score: all contacts, and each team.
fn trend_chart(r: &Report, w: &Words) -> String {
    let (width, height, _, _, _, _) = TREND_BOX;
    let mut dates: Vec<&str> = r.trend.iter().map(|p| p.date.as_str()).collect();
    dates.sort();
    dates.dedup();
    let mut s = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        esc(w.score_trend)
    );
    if dates.is_empty() {
        let _ = write!(s, r#"<text x="20" y="40">{}</text></svg>"#, esc(w.no_data));
        return s;
    }
    let lo = r.trend.iter().map(|p| p.avg_score).fold(100.0f64, f64::min);
    let lo = ((lo / 10.0).floor() * 10.0).clamp(0.0, 90.0);
    let scale = TrendScale { dates, lo };
    trend_axes(&mut s, &scale);
    let mut series: Vec<Option<String>> = vec![None];
    for p in &r.trend {
        if p.team.is_some() && !series.contains(&p.team) {
            series.push(p.team.clone());
        }
    }
    // One team: its line is the overall line.
    if series.len() == 2 {
        series.truncate(1);
    }
    for (si, team) in series.iter().enumerate() {
        trend_line(&mut s, r, &scale, si, team);
    }
    s.push_str("</svg>");
    s
}

/// The score grid lines with their values, and the dates below.
fn trend_axes(s: &mut String, scale: &TrendScale<'_>) {
    let (width, height, left, right, _, bottom) = TREND_BOX;
    let plot_w = width - left - right;
    let lo = scale.lo;
    for k in 0..=4 {
        let v = lo + (100.0 - lo) * k as f64 / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{v:.0}</text>"##,
            left + plot_w,
            left - 4.0,
            scale.y(v) + 4.0,
            y = scale.y(v)
        );
    }
    let step = (scale.dates.len() / 8).max(1);
    for (i, d) in scale.dates.iter().enumerate().step_by(step) {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"#,
            scale.x(i),
            height - bottom + 16.0,
            esc(&d[5..])
        );
    }
}

/// One series of the trend (`si` 0: everyone, dashed; then each team):
/// its line, its points with their values, and its legend entry.
fn trend_line(
    s: &mut String,
    r: &Report,
    scale: &TrendScale<'_>,
    si: usize,
    team: &Option<String>,
) {
    let (width, _, _, right, top, _) = TREND_BOX;
    let color = if si == 0 {
        "#333"
    } else {
        PALETTE[(si - 1) % PALETTE.len()]
    };
    let pts: Vec<(usize, f64, usize)> = r
        .trend
        .iter()
        .filter(|p| &p.team == team)
        .filter_map(|p| {
            scale
                .dates
                .iter()
                .position(|d| *d == p.date)
                .map(|i| (i, p.avg_score, p.contacts))
        })
        .collect();
    let path: Vec<String> = pts
        .iter()
        .map(|(i, v, _)| format!("{:.1},{:.1}", scale.x(*i), scale.y(*v)))
        .collect();
    let dash = if si == 0 {
        r#" stroke-dasharray="5 3""#
    } else {
        ""
    };
    let _ = write!(
        s,
        r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#,
        path.join(" ")
    );
    let name = team.clone().unwrap_or_else(|| "all".into());
    for (i, v, n) in &pts {
        let _ = write!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} {}: {v:.1} ({n})</title></circle>"#,
            scale.x(*i),
            scale.y(*v),
            esc(&name),
            esc(scale.dates[*i])
        );
    }
    let ly = top + 14.0 * si as f64 + 6.0;
    let _ = write!(
        s,
        r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/><text x="{}" y="{}" class="tick">{}</text>"#,
        width - right + 10.0,
        width - right + 28.0,
        width - right + 32.0,
        ly + 4.0,
        esc(&name)
    );
}

/// Horizontal bars of violations by flag kind.
fn violations_chart(k: &Kpis, lang: Language, w: &Words) -> String {
    let mut rows: Vec<(String, usize)> = k
        .violations_by_flag
        .iter()
        .map(|(f, n)| {
            let label = f
                .parse::<FlagId>()
                .map(|id| flag_label(id, lang).to_owned())
                .unwrap_or_else(|_| f.clone());
            (label, *n)
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let bar_h = 22.0;
    let (width, left) = (680.0, 200.0);
    let height = 20.0 + bar_h * rows.len().max(1) as f64;
    let mut s = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        esc(w.violations_by_kind)
    );
    if rows.is_empty() {
        let _ = write!(s, r#"<text x="20" y="24">{}</text></svg>"#, esc(w.no_data));
        return s;
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = 10.0 + bar_h * i as f64;
        let len = (width - left - 60.0) * *n as f64 / max;
        let _ = write!(
            s,
            r##"<text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text><rect x="{left}" y="{y:.1}" width="{len:.1}" height="{}" fill="#d62728"/><text x="{:.1}" y="{:.1}" class="tick">{n}</text>"##,
            left - 6.0,
            y + 15.0,
            esc(label),
            bar_h - 6.0,
            left + len + 4.0,
            y + 15.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Each agent's composite as a bar, with their team's average as a mark.
fn agents_chart(r: &Report, w: &Words) -> String {
    let agents: Vec<&AgentReport> = r
        .agents
        .iter()
        .filter(|a| a.composite.total.is_some())
        .collect();
    let bar_h = 22.0;
    let (width, left) = (680.0, 200.0);
    let height = 34.0 + bar_h * agents.len().max(1) as f64;
    let mut s = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        esc(w.agent_vs_team)
    );
    if agents.is_empty() {
        let _ = write!(s, r#"<text x="20" y="24">{}</text></svg>"#, esc(w.no_data));
        return s;
    }
    let plot = width - left - 60.0;
    for (i, a) in agents.iter().enumerate() {
        let y = 10.0 + bar_h * i as f64;
        let v = a.composite.total.unwrap_or(0.0);
        let team_avg = r
            .teams
            .iter()
            .find(|t| t.team == a.team)
            .and_then(|t| t.avg_composite);
        let color = if team_avg.is_some_and(|t| v < t) {
            "#ff7f0e"
        } else {
            "#1f77b4"
        };
        let name = match &a.name {
            Some(n) => format!("{} {}", a.agent_id, n),
            None => a.agent_id.clone(),
        };
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text><rect x="{left}" y="{y:.1}" width="{:.1}" height="{}" fill="{color}"><title>{v:.1}</title></rect><text x="{:.1}" y="{:.1}" class="tick">{v:.1} {}</text>"#,
            left - 6.0,
            y + 15.0,
            esc(&name),
            plot * v / 100.0,
            bar_h - 6.0,
            left + plot * v / 100.0 + 4.0,
            y + 15.0,
            esc(a.grade.as_deref().unwrap_or(""))
        );
        if let Some(t) = team_avg {
            let tx = left + plot * t / 100.0;
            let _ = write!(
                s,
                r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{:.1}" y2="{:.1}" stroke="#000" stroke-width="2"><title>{} {t:.1}</title></line>"##,
                y - 2.0,
                y + bar_h - 4.0,
                esc(w.team_average)
            );
        }
    }
    let ly = height - 12.0;
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#000" stroke-width="2"/><text x="{}" y="{ly}" class="tick">{}</text>"##,
        left,
        ly - 10.0,
        ly + 2.0,
        left + 6.0,
        esc(w.team_average)
    );
    s.push_str("</svg>");
    s
}

fn kpi_cells(k: &Kpis) -> String {
    super::render::kpi_cells(k)
        .iter()
        .map(|c| format!("<td class=\"n\">{}</td>", esc(c)))
        .collect()
}

fn kpi_heads(w: &Words) -> String {
    super::render::kpi_heads(w)
        .iter()
        .map(|h| format!("<th>{}</th>", esc(h)))
        .collect()
}

const STYLE: &str = "body{font:14px/1.45 system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:24px;color:#222}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}p.meta{color:#666;margin:0}\
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 6px}th{background:#f4f4f4;font-weight:600}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.chart{width:100%;max-width:680px;height:auto;display:block;margin:8px 0}\
.tick{font-size:11px;fill:#444}.grade{font-weight:700}.coach li{margin:6px 0}.ex{color:#555;font-size:13px}\
.charts{display:flex;flex-wrap:wrap;gap:24px}.charts figure{margin:0;flex:1 1 440px;max-width:680px}figcaption{font-weight:600}.scroll{overflow-x:auto}";

/// The page, headings in `lang`; each agent's coaching in their language.
pub fn page(r: &Report, lang: Language) -> String {
    let w = words(lang);
    let mut s = String::new();
    page_head(&mut s, r, lang, w);
    if r.overall.contacts == 0 {
        let _ = writeln!(
            s,
            "<p id=\"empty\">{}</p></body></html>",
            esc(w.empty_period)
        );
        return s;
    }
    let _ = write!(
        s,
        "<div class=\"charts\"><figure><figcaption>{}</figcaption>{}</figure><figure><figcaption>{}</figcaption>{}</figure><figure><figcaption>{}</figcaption>{}</figure></div>",
        esc(w.score_trend),
        trend_chart(r, w),
        esc(w.violations_by_kind),
        violations_chart(&r.overall, lang, w),
        esc(w.agent_vs_team),
        agents_chart(r, w)
    );
    teams_table(&mut s, r, w);
    agents_table(&mut s, r, w);
    if !r.unscoreable.is_empty() {
        unscoreable_table(&mut s, r, w);
    }
    if !r.plans.is_empty() {
        plans_table(&mut s, r, w);
    }
    let _ = write!(s, "<h2>{}</h2>", esc(w.coaching));
    for a in &r.agents {
        agent_coaching(&mut s, a);
    }
    s.push_str("</body></html>\n");
    s
}

/// The document head, the title and the lines saying what the report
/// covers and what it leaves out.
fn page_head(s: &mut String, r: &Report, lang: Language, w: &Words) {
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} {}</title><style>{STYLE}</style></head><body>",
        lang.as_str(),
        esc(w.report),
        esc(&r.period.label)
    );
    let _ = write!(
        s,
        "<h1>{} — {}</h1><p class=\"meta\">{} {} … {} (UTC{}) · {} {} · {} {}</p>",
        esc(w.report),
        esc(&r.period.label),
        esc(w.period),
        esc(&r.period.first_day),
        esc(&r.period.last_day),
        esc(&r.period.utc_offset),
        esc(w.scheme),
        esc(&r.scheme),
        esc(w.generated),
        esc(&r.generated_at)
    );
    if r.dismissed_flags > 0 {
        let _ = write!(
            s,
            "<p class=\"meta\">{} {}</p>",
            r.dismissed_flags,
            esc(w.excluded)
        );
    }
    if r.placed_by_processing_time > 0 {
        let _ = write!(
            s,
            "<p class=\"meta\">{} {}</p>",
            r.placed_by_processing_time,
            esc(w.placed_by_processing)
        );
    }
}

fn teams_table(s: &mut String, r: &Report, w: &Words) {
    let _ = write!(
        s,
        "<h2>{}</h2><div class=\"scroll\"><table id=\"teams\"><tr><th>{}</th><th>{}</th>{}<th>{}</th></tr>",
        esc(w.teams),
        esc(w.team),
        esc(w.agents),
        kpi_heads(w),
        esc(w.composite)
    );
    for t in &r.teams {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td>{}<td class=\"n\">{}</td></tr>",
            esc(t.team.as_deref().unwrap_or("–")),
            t.agents,
            kpi_cells(&t.kpis),
            num(t.avg_composite, 1)
        );
    }
    s.push_str("</table></div>");
}

fn agents_table(s: &mut String, r: &Report, w: &Words) {
    let _ = write!(
        s,
        "<h2>{}</h2><div class=\"scroll\"><table id=\"agents\"><tr><th>{}</th><th>{}</th><th>{}</th>{}<th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.agents),
        esc(w.agent),
        esc(w.team),
        esc(w.role),
        kpi_heads(w),
        esc(w.composite),
        esc(w.grade),
        esc(w.bonus),
        esc(w.note)
    );
    for a in &r.agents {
        let name = match &a.name {
            Some(n) => format!("{} {}", a.agent_id, n),
            None => a.agent_id.clone(),
        };
        let _ = write!(
            s,
            "<tr data-agent=\"{}\"><td>{}</td><td>{}</td><td>{}</td>{}<td class=\"n\">{}</td><td class=\"grade\">{}</td><td class=\"n\">{}</td><td class=\"note\">{}</td></tr>",
            esc(&a.agent_id),
            esc(&name),
            esc(a.team.as_deref().unwrap_or("–")),
            esc(a.role.as_deref().unwrap_or("–")),
            kpi_cells(&a.kpis),
            num(a.composite.total, 1),
            esc(a.grade.as_deref().unwrap_or("–")),
            num(a.bonus, 1),
            esc(a.grade_note.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</table></div>");
}

fn unscoreable_table(s: &mut String, r: &Report, w: &Words) {
    let _ = write!(
        s,
        "<h2>{}</h2><table id=\"unscoreable\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.unscoreable),
        esc(w.job),
        esc(w.agent),
        esc(w.started),
        esc(w.reason)
    );
    for u in &r.unscoreable {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.job_id),
            esc(&u.agent_id),
            esc(u.started.as_deref().unwrap_or("–")),
            esc(&u.reason)
        );
    }
    s.push_str("</table>");
}

fn plans_table(s: &mut String, r: &Report, w: &Words) {
    let _ = write!(
        s,
        "<h2>{}</h2><table id=\"plans\"><tr>",
        esc(w.review_plans)
    );
    for h in super::render::plan_heads(w) {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>");
    for p in &r.plans {
        s.push_str("<tr>");
        for (i, c) in super::render::plan_cells(p).iter().enumerate() {
            let class = if i == 0 { "" } else { " class=\"n\"" };
            let _ = write!(s, "<td{class}>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
}

/// One agent's coaching, in their language: their weeks, then each
/// weakness with its suggestion and examples.
fn agent_coaching(s: &mut String, a: &AgentReport) {
    let aw = words(a.language);
    let _ = write!(
        s,
        "<h3>{}{}</h3><ul class=\"coach\" lang=\"{}\">",
        esc(&a.agent_id),
        a.name
            .as_deref()
            .map(|n| format!(" {}", esc(n)))
            .unwrap_or_default(),
        a.language.as_str()
    );
    if !a.weeks.is_empty() {
        agent_weeks(s, a, aw);
    }
    if a.coaching.is_empty() {
        let _ = write!(s, "<li>{}</li>", esc(aw.no_weaknesses));
    }
    for wk in &a.coaching {
        let _ = write!(s, "<li><b>{}</b>", esc(&wk.summary));
        if !wk.suggestion.is_empty() {
            let _ = write!(s, "<br>{}: {}", esc(aw.suggestion), esc(&wk.suggestion));
        }
        for e in &wk.examples {
            let _ = write!(
                s,
                "<div class=\"ex\">{} · {} {:.1}s · “{}”</div>",
                esc(&e.job_id),
                esc(e.speaker.map(|x| x.as_str()).unwrap_or("-")),
                e.start,
                esc(&e.text)
            );
        }
        s.push_str("</li>");
    }
    s.push_str("</ul>");
}

/// An agent's weeks as a small table inside their coaching list.
fn agent_weeks(s: &mut String, a: &AgentReport, aw: &Words) {
    let _ = write!(
        s,
        "<li><b>{}</b><table class=\"weeks\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(aw.weeks),
        esc(aw.week),
        esc(aw.contacts),
        esc(aw.qa_score),
        esc(aw.pass_rate),
        esc(aw.top_violation)
    );
    for wk in &a.weeks {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&wk.week),
            wk.contacts,
            num(wk.avg_score, 1),
            pct(wk.pass_rate),
            esc(wk.top_violation.as_deref().unwrap_or("–"))
        );
    }
    s.push_str("</table></li>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
