//! Report periods: a month (`2026-11`), a day (`2026-11-03`) or an
//! inclusive range of days (`2026-11-01..2026-11-15`), cut in the contact
//! centre's local time (the scheme's `utc_offset`) and turned into the UTC
//! bounds the store compares against.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Period {
    /// As given, e.g. `2026-11`.
    pub label: String,
    /// Inclusive start, local time.
    pub start: DateTime<FixedOffset>,
    /// Exclusive end, local time.
    pub end: DateTime<FixedOffset>,
}

fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date like 2026-11-03"))
}

fn midnight(d: NaiveDate, tz: FixedOffset) -> Result<DateTime<FixedOffset>, String> {
    d.and_hms_opt(0, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).single())
        .ok_or_else(|| format!("{d} has no midnight in {tz}"))
}

impl Period {
    /// Parses a period in the given local offset.
    pub fn parse(s: &str, tz: FixedOffset) -> Result<Period, String> {
        let s = s.trim();
        let (first, last) = if let Some((a, b)) = s.split_once("..") {
            (date(a)?, date(b)?)
        } else if s.len() == 7 {
            let first = date(&format!("{s}-01"))
                .map_err(|_| format!("period {s:?} is not a month like 2026-11"))?;
            let next = if first.month() == 12 {
                NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
            }
            .ok_or("month out of range")?;
            (first, next.pred_opt().ok_or("month out of range")?)
        } else {
            let d = date(s).map_err(|_| {
                format!("period {s:?}: expected a month (2026-11), a day (2026-11-03) or days (2026-11-01..2026-11-15)")
            })?;
            (d, d)
        };
        if last < first {
            return Err(format!("period {s:?} ends before it starts"));
        }
        if (last - first).num_days() > 366 {
            return Err(format!("period {s:?} is longer than a year"));
        }
        Ok(Period {
            label: s.to_owned(),
            start: midnight(first, tz)?,
            end: midnight(last.succ_opt().ok_or("date out of range")?, tz)?,
        })
    }

    /// The store's form of a time: RFC 3339 UTC with milliseconds and `Z`.
    pub fn utc(t: DateTime<FixedOffset>) -> String {
        t.with_timezone(&Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    pub fn since_utc(&self) -> String {
        Self::utc(self.start)
    }

    pub fn until_utc(&self) -> String {
        Self::utc(self.end)
    }

    /// First day, local time: `2026-11-01`.
    pub fn first_day(&self) -> String {
        self.start.format("%Y-%m-%d").to_string()
    }

    /// Last day (inclusive), local time: `2026-11-30`.
    pub fn last_day(&self) -> String {
        (self.end - chrono::Duration::seconds(1))
            .format("%Y-%m-%d")
            .to_string()
    }

    pub fn contains(&self, t: DateTime<FixedOffset>) -> bool {
        t >= self.start && t < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_table() {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap();
        let cases: &[(&str, &str, &str)] = &[
            (
                "2026-11",
                "2026-10-31T16:00:00.000Z",
                "2026-11-30T16:00:00.000Z",
            ),
            (
                "2026-12",
                "2026-11-30T16:00:00.000Z",
                "2026-12-31T16:00:00.000Z",
            ),
            (
                "2026-02",
                "2026-01-31T16:00:00.000Z",
                "2026-02-28T16:00:00.000Z",
            ),
            (
                "2026-11-03",
                "2026-11-02T16:00:00.000Z",
                "2026-11-03T16:00:00.000Z",
            ),
            (
                "2026-11-01..2026-11-15",
                "2026-10-31T16:00:00.000Z",
                "2026-11-15T16:00:00.000Z",
            ),
        ];
        for (s, since, until) in cases {
            let p = Period::parse(s, cst).unwrap();
            assert_eq!(
                (p.since_utc().as_str(), p.until_utc().as_str()),
                (*since, *until),
                "{s}"
            );
        }
        // Headers show local days, not the UTC bounds.
        let p = Period::parse("2026-11", cst).unwrap();
        assert_eq!(
            (p.first_day(), p.last_day()),
            ("2026-11-01".into(), "2026-11-30".into())
        );
        let p = Period::parse("2026-11-03", cst).unwrap();
        assert_eq!(
            (p.first_day(), p.last_day()),
            ("2026-11-03".into(), "2026-11-03".into())
        );
        for bad in [
            "2026-13",
            "2026/11",
            "november",
            "2026-11-15..2026-11-01",
            "",
        ] {
            assert!(Period::parse(bad, cst).is_err(), "{bad}");
        }
    }
}
