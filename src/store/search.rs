//! Finding contacts for the review desk: full-text search over stored
//! transcripts (which are redacted before they are stored, so only masked
//! text is ever searched) and filters by agent, team, time, channel,
//! score, rule, flag, severity and review state, a page at a time.
//!
//! Text search is substring search, for Chinese (no word boundaries) and
//! English alike: every whitespace-separated term must occur. SQLite
//! answers terms of three characters or more from its FTS5 trigram index
//! and shorter ones by scanning the indexed text; PostgreSQL uses ILIKE
//! over a pg_trgm index.

use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Store, StoreError};

/// The review state a contact's flags may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    /// A flag nobody has decided yet.
    Pending,
    Confirmed,
    Dismissed,
    /// A flag under an open dispute.
    Disputed,
}

/// What to look for. Flag conditions (`rule`, `flag`, `severity`,
/// `state`) must hold for one and the same flag.
#[derive(Debug, Clone, Default)]
pub struct ContactSearch {
    /// Words or phrases, all of which must occur in the transcript.
    pub text: Option<String>,
    pub agent_id: Option<String>,
    pub team: Option<String>,
    /// Inclusive lower bound on `started_at` (RFC 3339, UTC).
    pub since: Option<String>,
    /// Exclusive upper bound on `started_at`.
    pub until: Option<String>,
    pub channel: Option<String>,
    pub score_min: Option<f64>,
    pub score_max: Option<f64>,
    pub rule: Option<String>,
    pub flag: Option<String>,
    pub severity: Option<String>,
    pub state: Option<ReviewState>,
    pub limit: i64,
    pub offset: i64,
}

/// One contact found.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub job_id: String,
    pub agent_id: String,
    pub team: Option<String>,
    pub kind: String,
    pub language: String,
    pub channel: String,
    pub score: f64,
    pub passed: bool,
    pub flag_count: i64,
    pub started_at: Option<String>,
    /// The transcript around the first term found (redacted text).
    pub snippet: Option<String>,
}

/// A page of contacts and how many match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub total: i64,
    pub contacts: Vec<ContactRow>,
}

enum Bind {
    Text(String),
    Real(f64),
    Int(i64),
}

/// SQL with `$n` placeholders numbered as conditions are added.
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn param(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    fn and(&mut self, cond: &str, b: Bind) {
        let p = self.param(b);
        self.text.push_str(" AND ");
        self.text.push_str(&cond.replace("{}", &p));
    }
}

/// Search terms: split on whitespace, at most 8, each at most 100
/// characters (the API checks lengths before).
fn terms(text: Option<&str>) -> Vec<String> {
    text.map(|t| {
        t.split_whitespace()
            .take(8)
            .map(|w| w.chars().take(100).collect())
            .collect()
    })
    .unwrap_or_default()
}

/// An FTS5 phrase: the term in double quotes, quotes doubled, so nothing
/// the user types is read as query syntax.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// A LIKE pattern matching the term anywhere, with `\` escaping the
/// wildcards the user typed.
fn like_pattern(term: &str) -> String {
    let mut p = String::from("%");
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Up to `width` characters either side of the first term found.
fn snippet(body: &str, terms: &[String], width: usize) -> Option<String> {
    let lower: Vec<char> = body.chars().flat_map(char::to_lowercase).collect();
    let chars: Vec<char> = body.chars().collect();
    // Lower-casing may change lengths; fall back to the start if so.
    let aligned = lower.len() == chars.len();
    let (pos, len) = terms
        .iter()
        .filter_map(|t| {
            let t: Vec<char> = t.chars().flat_map(char::to_lowercase).collect();
            (aligned && !t.is_empty())
                .then(|| lower.windows(t.len()).position(|w| w == t.as_slice()))
                .flatten()
                .map(|p| (p, t.len()))
        })
        .min()?;
    let from = pos.saturating_sub(width);
    let to = (pos + len + width).min(chars.len());
    let mut s: String = chars[from..to].iter().collect();
    s = s.replace('\n', " / ");
    if from > 0 {
        s.insert(0, '…');
    }
    if to < chars.len() {
        s.push('…');
    }
    Some(s)
}

impl Store {
    /// Contacts matching `q`, newest first, one page at a time.
    pub async fn search_contacts(&self, q: &ContactSearch) -> Result<SearchPage, StoreError> {
        let terms = terms(q.text.as_deref());
        let body_join = match self.backend {
            Backend::Sqlite => "LEFT JOIN transcript_search s ON s.rowid = r.rowid",
            Backend::Postgres => "LEFT JOIN transcript_search s ON s.job_id = r.job_id",
        };
        let mut sql = Sql {
            text: format!(
                "SELECT r.job_id, r.agent_id, r.team, r.kind, r.language, r.channel, r.score,
                        CASE WHEN r.passed THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS passed,
                        r.flag_count, r.started_at, {} AS body, COUNT(*) OVER () AS total
                 FROM results r {body_join} WHERE 1 = 1",
                if terms.is_empty() { "NULL" } else { "s.body" }
            ),
            binds: Vec::new(),
        };
        let text = |v: &Option<String>| v.clone().map(Bind::Text);
        for (cond, v) in [
            ("r.agent_id = {}", text(&q.agent_id)),
            ("r.team = {}", text(&q.team)),
            ("r.started_at >= {}", text(&q.since)),
            ("r.started_at < {}", text(&q.until)),
            ("r.channel = {}", text(&q.channel)),
            ("r.score >= {}", q.score_min.map(Bind::Real)),
            ("r.score <= {}", q.score_max.map(Bind::Real)),
        ] {
            if let Some(b) = v {
                sql.and(cond, b);
            }
        }
        self.flag_conditions(&mut sql, q);
        for t in &terms {
            match self.backend {
                Backend::Sqlite if t.chars().count() >= 3 => sql.and(
                    "r.rowid IN (SELECT rowid FROM transcript_search WHERE transcript_search MATCH {})",
                    Bind::Text(fts_phrase(t)),
                ),
                Backend::Sqlite => sql.and(
                    "instr(lower(s.body), lower({})) > 0",
                    Bind::Text(t.clone()),
                ),
                Backend::Postgres => sql.and(
                    "s.body ILIKE {} ESCAPE '\\'",
                    Bind::Text(like_pattern(t)),
                ),
            }
        }
        sql.text
            .push_str(" ORDER BY COALESCE(r.started_at, r.processed_at) DESC, r.job_id");
        let lim = sql.param(Bind::Int(q.limit));
        let off = sql.param(Bind::Int(q.offset));
        sql.text.push_str(&format!(" LIMIT {lim} OFFSET {off}"));
        let text = match self.backend {
            Backend::Postgres => sql.text,
            Backend::Sqlite => sql.text.replace('$', "?"),
        };
        let mut query = sqlx::query(AssertSqlSafe(text));
        for b in sql.binds {
            query = match b {
                Bind::Text(s) => query.bind(s),
                Bind::Real(x) => query.bind(x),
                Bind::Int(n) => query.bind(n),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut total = 0;
        let contacts = rows
            .iter()
            .map(|r| {
                total = r.try_get("total")?;
                let body: Option<String> = r.try_get("body")?;
                Ok(ContactRow {
                    job_id: r.try_get("job_id")?,
                    agent_id: r.try_get("agent_id")?,
                    team: r.try_get("team")?,
                    kind: r.try_get("kind")?,
                    language: r.try_get("language")?,
                    channel: r.try_get("channel")?,
                    score: r.try_get("score")?,
                    // Any cannot decode SQLite booleans; read it as an integer.
                    passed: r.try_get::<i64, _>("passed")? != 0,
                    flag_count: r.try_get("flag_count")?,
                    started_at: r.try_get("started_at")?,
                    snippet: body.and_then(|b| snippet(&b, &terms, 30)),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if contacts.is_empty() && q.offset > 0 {
            // Past the last page: still say how many there are.
            let mut all = q.clone();
            all.offset = 0;
            all.limit = 1;
            return Ok(SearchPage {
                total: Box::pin(self.search_contacts(&all)).await?.total,
                contacts,
            });
        }
        Ok(SearchPage { total, contacts })
    }

    /// One EXISTS over the contact's flags, with their review and dispute.
    fn flag_conditions(&self, sql: &mut Sql, q: &ContactSearch) {
        if q.rule.is_none() && q.flag.is_none() && q.severity.is_none() && q.state.is_none() {
            return;
        }
        let mut inner = String::from(
            "EXISTS (SELECT 1 FROM flags f
               LEFT JOIN flag_reviews v ON v.job_id = f.job_id AND v.idx = f.idx
               LEFT JOIN disputes d ON d.job_id = f.job_id AND d.idx = f.idx
             WHERE f.job_id = r.job_id",
        );
        for (col, v) in [
            ("f.rule", &q.rule),
            ("f.flag", &q.flag),
            ("f.severity", &q.severity),
        ] {
            if let Some(v) = v {
                let p = sql.param(Bind::Text(v.clone()));
                inner.push_str(&format!(" AND {col} = {p}"));
            }
        }
        inner.push_str(match q.state {
            None => "",
            Some(ReviewState::Pending) => " AND v.decision IS NULL",
            Some(ReviewState::Confirmed) => " AND v.decision = 'confirmed'",
            Some(ReviewState::Dismissed) => " AND v.decision = 'dismissed'",
            Some(ReviewState::Disputed) => " AND d.status = 'open'",
        });
        inner.push(')');
        sql.text.push_str(" AND ");
        sql.text.push_str(&inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_quoted_and_escaped() {
        assert_eq!(fts_phrase("退款"), "\"退款\"");
        assert_eq!(fts_phrase("a\"b OR c"), "\"a\"\"b OR c\"");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(
            terms(Some("  我要 退款  refund ")),
            ["我要", "退款", "refund"]
        );
        assert!(terms(None).is_empty());
    }

    #[test]
    fn snippets_centre_on_the_first_term() {
        let body = "您好\n我想办理退款，订单号是 ****\n好的";
        assert_eq!(
            snippet(body, &["退款".into()], 3).as_deref(),
            Some("…想办理退款，订单…")
        );
        assert_eq!(
            snippet("Hello THERE", &["there".into()], 2).as_deref(),
            Some("…o THERE")
        );
        assert_eq!(snippet("abc", &["zzz".into()], 2), None);
    }
}
