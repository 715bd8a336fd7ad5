//! The words of reports in Chinese and English: column headings, flag
//! names, and the coaching sentence that compares an agent with the team.

use super::grade::{Basis, Method};
use super::FatalNote;
use crate::domain::{FlagId, Language};

/// Column headings and section titles.
pub struct Words {
    pub report: &'static str,
    pub period: &'static str,
    pub scheme: &'static str,
    pub generated: &'static str,
    pub agents: &'static str,
    pub teams: &'static str,
    pub agent: &'static str,
    pub team: &'static str,
    pub role: &'static str,
    pub contacts: &'static str,
    pub qa_score: &'static str,
    pub pass_rate: &'static str,
    pub violations: &'static str,
    pub complaint_rate: &'static str,
    pub frt_chat: &'static str,
    pub frt_call: &'static str,
    pub art: &'static str,
    pub aht: &'static str,
    pub silence: &'static str,
    pub csat: &'static str,
    pub predicted_csat: &'static str,
    pub fcr: &'static str,
    pub resolution: &'static str,
    pub sentiment: &'static str,
    pub composite: &'static str,
    pub grade: &'static str,
    pub bonus: &'static str,
    pub coaching: &'static str,
    pub suggestion: &'static str,
    pub examples: &'static str,
    pub score_trend: &'static str,
    pub violations_by_kind: &'static str,
    pub agent_vs_team: &'static str,
    pub team_average: &'static str,
    pub excluded: &'static str,
    pub no_data: &'static str,
    pub no_weaknesses: &'static str,
    pub note: &'static str,
    pub unscoreable: &'static str,
    pub job: &'static str,
    pub kind: &'static str,
    pub started: &'static str,
    pub reason: &'static str,
    pub empty_period: &'static str,
    pub placed_by_processing: &'static str,
    pub weeks: &'static str,
    pub week: &'static str,
    pub top_violation: &'static str,
    pub review_plans: &'static str,
    pub plan: &'static str,
    pub tasks: &'static str,
    pub done: &'static str,
    pub overdue: &'static str,
    pub unassigned: &'static str,
}

pub const EN: Words = Words {
    report: "Agent evaluation report",
    period: "Period",
    scheme: "Scheme",
    generated: "Generated",
    agents: "Agents",
    teams: "Teams",
    agent: "Agent",
    team: "Team",
    role: "Role",
    contacts: "Contacts",
    qa_score: "QA score",
    pass_rate: "Pass rate",
    violations: "Violations",
    complaint_rate: "Complaints",
    frt_chat: "FRT chat (s)",
    frt_call: "FRT call (s)",
    art: "ART (s)",
    aht: "AHT (s)",
    silence: "Silence",
    csat: "CSAT (/5)",
    predicted_csat: "Pred. CSAT",
    fcr: "FCR",
    resolution: "Resolved",
    sentiment: "Sentiment Δ",
    composite: "Composite",
    grade: "Grade",
    bonus: "Bonus",
    coaching: "Coaching",
    suggestion: "Suggestion",
    examples: "Examples",
    score_trend: "QA score by day",
    violations_by_kind: "Violations by kind",
    agent_vs_team: "Agents vs team average (composite)",
    team_average: "team average",
    excluded: "flags dismissed by reviewers are left out",
    no_data: "no data",
    no_weaknesses: "No recurring weaknesses.",
    note: "Note",
    unscoreable: "Not scoreable (listen to these)",
    job: "Job",
    kind: "Kind",
    started: "Started",
    reason: "Reason",
    empty_period: "No contacts in this period.",
    placed_by_processing: "results without a start time are placed by the time they were processed",
    weeks: "Weekly trend",
    week: "Week",
    top_violation: "Top violation",
    review_plans: "Review plans (sampled for people)",
    plan: "Plan",
    tasks: "Tasks",
    done: "Done",
    overdue: "Overdue",
    unassigned: "Unassigned",
};

pub const ZH: Words = Words {
    report: "坐席考核报告",
    period: "考核周期",
    scheme: "考核方案",
    generated: "生成时间",
    agents: "坐席",
    teams: "班组",
    agent: "坐席",
    team: "班组",
    role: "岗位",
    contacts: "通数",
    qa_score: "质检均分",
    pass_rate: "质检合格率",
    violations: "违规数",
    complaint_rate: "投诉率",
    frt_chat: "在线首响(秒)",
    frt_call: "电话接起(秒)",
    art: "平均响应(秒)",
    aht: "平均处理时长(秒)",
    silence: "静音占比",
    csat: "满意度(/5)",
    predicted_csat: "预测满意度",
    fcr: "一次解决率",
    resolution: "解决率",
    sentiment: "情绪变化",
    composite: "综合得分",
    grade: "等级",
    bonus: "绩效系数",
    coaching: "辅导建议",
    suggestion: "建议",
    examples: "示例",
    score_trend: "每日质检均分",
    violations_by_kind: "违规类型分布",
    agent_vs_team: "坐席综合得分与班组平均",
    team_average: "班组平均",
    excluded: "已剔除复核驳回的告警",
    no_data: "无数据",
    no_weaknesses: "无反复出现的问题。",
    note: "说明",
    unscoreable: "无法评分的通话（请人工复听）",
    job: "工单",
    kind: "类型",
    started: "开始时间",
    reason: "原因",
    empty_period: "本周期内没有会话记录。",
    placed_by_processing: "条结果没有开始时间，按处理时间计入",
    weeks: "每周趋势",
    week: "周",
    top_violation: "主要违规",
    review_plans: "人工抽检计划进度",
    plan: "抽检计划",
    tasks: "任务数",
    done: "已完成",
    overdue: "已逾期",
    unassigned: "未分配",
};

pub fn words(lang: Language) -> &'static Words {
    match lang {
        Language::Zh => &ZH,
        Language::En => &EN,
    }
}

/// A flag's name for people: a pack-declared flag's own label, or its id
/// where no loaded pack declares it.
pub fn flag_label(f: FlagId, lang: Language) -> &'static str {
    use FlagId::*;
    match (lang, f) {
        (_, Custom(c)) => match (f.info(), lang) {
            (Some(i), Language::Zh) => i.label_zh,
            (Some(i), Language::En) => i.label_en,
            (None, _) => c.as_str(),
        },
        (Language::En, GreetingMissing) => "Greeting missing",
        (Language::En, ClosingMissing) => "Closing missing",
        (Language::En, ScriptMissing) => "Required script item missing",
        (Language::En, ForbiddenPhrase) => "Forbidden phrase",
        (Language::En, UnauthorizedPromise) => "Unauthorised promise",
        (Language::En, PiiExposure) => "Personal data exposed",
        (Language::En, CustomerAnger) => "Customer anger",
        (Language::En, ComplaintThreat) => "Complaint threat",
        (Language::En, ChurnRisk) => "Churn risk",
        (Language::En, LongSilence) => "Long silence",
        (Language::En, Interruption) => "Interrupting the customer",
        (Language::En, SlowFirstResponse) => "Slow first response",
        (Language::En, SlowResponse) => "Slow responses",
        (Language::En, NoSpeech) => "No speech",
        (Language::Zh, GreetingMissing) => "未使用标准开场白",
        (Language::Zh, ClosingMissing) => "未使用标准结束语",
        (Language::Zh, ScriptMissing) => "缺少必备话术",
        (Language::Zh, ForbiddenPhrase) => "服务禁语",
        (Language::Zh, UnauthorizedPromise) => "违规承诺",
        (Language::Zh, PiiExposure) => "泄露客户信息",
        (Language::Zh, CustomerAnger) => "客户情绪激动",
        (Language::Zh, ComplaintThreat) => "客户投诉倾向",
        (Language::Zh, ChurnRisk) => "客户流失风险",
        (Language::Zh, LongSilence) => "长时间静音",
        (Language::Zh, Interruption) => "抢话",
        (Language::Zh, SlowFirstResponse) => "首次响应超时",
        (Language::Zh, SlowResponse) => "平均响应超时",
        (Language::Zh, NoSpeech) => "无人声",
    }
}

/// A count that may be fractional, without a needless `.0`.
pub fn count(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if (r - r.round()).abs() < 1e-9 {
        format!("{}", r.round() as i64)
    } else {
        format!("{r:.1}")
    }
}

/// "Greeting missing in 7 of 40 contacts; team average 3 of 40".
pub fn weakness_line(lang: Language, label: &str, k: usize, n: usize, team_eq: f64) -> String {
    match lang {
        Language::En => format!(
            "{label} in {k} of {n} contacts; team average {} of {n}",
            count(team_eq)
        ),
        Language::Zh => format!(
            "{label}：{n} 通中有 {k} 通；班组平均 {n} 通中 {} 通",
            count(team_eq)
        ),
    }
}

/// The reason shown next to a grade, or why there is none; `None` for a
/// plain forced distribution over a full pool.
#[allow(clippy::too_many_arguments)]
pub fn grade_note(
    lang: Language,
    basis: Basis,
    method: Method,
    fatal: &[FatalNote],
    contacts: usize,
    min_contacts: usize,
    pool: usize,
    min_pool: usize,
) -> Option<String> {
    let zh = lang == Language::Zh;
    match basis {
        Basis::Forced | Basis::NoScore => None,
        Basis::Fatal => {
            let mut what: Vec<String> = Vec::new();
            for f in fatal {
                let s = format!("{} ({})", f.label, f.job_id);
                if !what.contains(&s) {
                    what.push(s);
                }
            }
            Some(if zh {
                format!("一票否决：{}", what.join("；"))
            } else {
                format!("Fatal item: {}", what.join("; "))
            })
        }
        Basis::InsufficientData => Some(if zh {
            format!("数据不足：有效通数 {contacts}，少于 {min_contacts}")
        } else {
            format!("Insufficient data: {contacts} scoreable contacts, fewer than {min_contacts}")
        }),
        Basis::Thresholds if method == Method::Thresholds => None,
        Basis::Thresholds => Some(if zh {
            format!("按分数线评定：评定组仅 {pool} 人，少于强制分布所需的 {min_pool} 人")
        } else {
            format!("By score thresholds: a pool of {pool}, fewer than the {min_pool} forced distribution needs")
        }),
        Basis::ForcedMerged => Some(if zh {
            format!("小班组合并后强制分布（共 {pool} 人）")
        } else {
            format!("Forced distribution over small teams merged ({pool} people)")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakness_lines_read_well_in_both_languages() {
        assert_eq!(
            weakness_line(Language::En, "Greeting missing", 7, 40, 3.0),
            "Greeting missing in 7 of 40 contacts; team average 3 of 40"
        );
        assert_eq!(
            weakness_line(Language::Zh, "未使用标准开场白", 7, 40, 2.5),
            "未使用标准开场白：40 通中有 7 通；班组平均 40 通中 2.5 通"
        );
        for f in FlagId::ALL {
            assert!(!flag_label(f, Language::Zh).is_empty());
        }
    }
}
