//! Input checks at the edge (lengths, identifiers, times, windows) and
//! the access helpers every handler uses: an agent is narrowed to their
//! own agent id, and a result they may not read is "not found".

use super::*;

/// Free text (comments, reasons): trimmed, at most `max` characters, no
/// control characters but newlines and tabs.
pub(super) fn text(field: &str, v: &str, max: usize, required: bool) -> ApiResult<String> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(ApiError::BadRequest(format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::BadRequest(format!(
            "{field} contains control characters"
        )));
    }
    Ok(v.to_owned())
}

/// Names and ids: 1–`max` characters, letters (any script), digits and
/// `- _ . @ :`.
pub(super) fn ident(field: &str, v: &str, max: usize) -> ApiResult<String> {
    let ok = !v.is_empty()
        && v.chars().count() <= max
        && v.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ApiError::BadRequest(format!(
            "{field} must be 1 to {max} letters, digits or - _ . @ :"
        )))
    }
}

/// A job id from a path: what intake accepts, bounded.
pub(super) fn job_id(v: &str) -> ApiResult<&str> {
    if v.is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "job id must be 1 to 200 printable characters".into(),
        ));
    }
    Ok(v)
}

pub(super) fn limit(v: Option<i64>, default: i64) -> ApiResult<i64> {
    match v.unwrap_or(default) {
        n @ 1..=1000 => Ok(n),
        n => Err(ApiError::BadRequest(format!(
            "limit {n} is not between 1 and 1000"
        ))),
    }
}

/// Where a page starts: 0 to 1,000,000 items in.
pub(super) fn offset(v: Option<i64>) -> ApiResult<i64> {
    match v.unwrap_or(0) {
        n @ 0..=1_000_000 => Ok(n),
        n => Err(ApiError::BadRequest(format!(
            "offset {n} is not between 0 and 1000000"
        ))),
    }
}

pub(super) fn utc_time(field: &str, v: &str) -> ApiResult<String> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(Period::utc)
        .map_err(|_| ApiError::BadRequest(format!("{field} {v:?} is not an RFC 3339 time")))
}

/// A time window from `period` (in the scheme's local time) or `since`/`until`.
#[derive(Debug, Default)]
pub(super) struct Window {
    pub(super) period: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
}

impl Window {
    pub(super) async fn resolve(
        &self,
        st: &AppState,
    ) -> ApiResult<(Option<String>, Option<String>)> {
        if let Some(p) = &self.period {
            if self.since.is_some() || self.until.is_some() {
                return Err(ApiError::BadRequest(
                    "give period or since/until, not both".into(),
                ));
            }
            let p = parse_period(st, p).await?;
            return Ok((Some(p.since_utc()), Some(p.until_utc())));
        }
        Ok((
            self.since
                .as_deref()
                .map(|s| utc_time("since", s))
                .transpose()?,
            self.until
                .as_deref()
                .map(|s| utc_time("until", s))
                .transpose()?,
        ))
    }
}

pub(super) async fn parse_period(st: &AppState, p: &str) -> ApiResult<Period> {
    if p.len() > 40 {
        return Err(ApiError::BadRequest("period is too long".into()));
    }
    let tz = st.scheme().await?.utc_offset;
    Period::parse(p, tz).map_err(ApiError::BadRequest)
}

/// An agent asking for someone else's data is refused; everyone else may
/// filter as they like.
pub(super) fn narrow_agent(user: &User, asked: Option<&str>) -> ApiResult<Option<String>> {
    if let Some(a) = asked {
        ident("agent", a, 128)?;
    }
    match (user.own_agent(), asked) {
        (Some(own), Some(a)) if a != own => Err(ApiError::Forbidden(
            "agents can only see their own results".into(),
        )),
        (Some(own), _) => Ok(Some(own.to_owned())),
        (None, a) => Ok(a.map(str::to_owned)),
    }
}

/// A stored result the user may read; anything else is "not found", so an
/// agent cannot even learn that another agent's job exists.
pub(super) async fn readable_result(
    st: &AppState,
    user: &User,
    job: &str,
) -> ApiResult<ResultWire> {
    let job = job_id(job)?;
    match st.store().get_result(job).await? {
        Some(r) if user.may_read(&r.agent_id) => Ok(r),
        _ => Err(ApiError::NotFound(format!("no result {job:?}"))),
    }
}

/// Whether a flag took points off the agent's score: a deduction or a
/// fatal item names it. Customer-side flags (a complaint threat) and
/// flags outside the scorecard cost nothing, so there is nothing to
/// dispute.
pub(super) fn costs_points(r: &ResultWire, idx: usize) -> bool {
    r.sections
        .iter()
        .flat_map(|s| s.deductions.iter())
        .any(|d| d.flag_index == idx && d.points > 0.0)
        || r.fatal.iter().any(|f| f.flag_index == idx)
}

pub(super) fn check_idx(r: &ResultWire, idx: usize) -> ApiResult<()> {
    if idx < r.flags.len() {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "result {} has no flag {idx} (it has {})",
            r.job_id,
            r.flags.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_text_are_checked() {
        assert!(ident("name", "li.wei@cc", 64).is_ok());
        assert!(ident("name", "王芳", 64).is_ok());
        for bad in ["", "a b", "x/y", "<script>", &"x".repeat(65)] {
            assert!(ident("name", bad, 64).is_err(), "{bad:?}");
        }
        assert_eq!(text("comment", "  ok \n", 10, true).unwrap(), "ok");
        assert!(text("comment", " ", 10, true).is_err());
        assert!(text("comment", "", 10, false).is_ok());
        assert!(text("comment", "12345678901", 10, false).is_err());
        assert!(text("comment", "a\u{7}b", 10, false).is_err());
        assert_eq!(
            super::super::audio::encode_segment("a b/ç"),
            "a%20b%2F%C3%A7"
        );
        assert!(job_id(&"j".repeat(201)).is_err());
        assert_eq!(limit(None, 100).unwrap(), 100);
        assert!(limit(Some(0), 100).is_err());
    }
}
