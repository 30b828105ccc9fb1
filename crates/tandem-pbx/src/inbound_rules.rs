//! Where calls from carriers go: inbound rules match the trunk, the called
//! number (exact DID, prefix or pattern) and a schedule (days, office
//! hours in the tenant's local time, holidays) and name a destination (an
//! extension, a ring group, or a trunk); the first match wins. Schedules
//! are evaluated on the injected wall clock (`Now::unix_ms`), so the core
//! stays pure and tests run on any date.

/// Where a call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An extension, by number.
    Extension(String),
    /// A ring group, by number.
    RingGroup(String),
    /// Out on a trunk, by index.
    Trunk(usize),
}

/// How a rule matches the called number.
#[derive(Debug, Clone)]
pub enum NumberMatch {
    /// Any number.
    Any,
    /// Exactly this one.
    Exact(String),
    /// Numbers starting so.
    Prefix(String),
    /// Numbers the expression matches.
    Pattern(regex::Regex),
}

impl NumberMatch {
    fn matches(&self, number: &str) -> bool {
        match self {
            NumberMatch::Any => true,
            NumberMatch::Exact(n) => n == number,
            NumberMatch::Prefix(p) => number.starts_with(p.as_str()),
            NumberMatch::Pattern(r) => r.is_match(number),
        }
    }
}

/// When a rule applies, in local time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Days (0 = Monday … 6 = Sunday); empty: every day.
    pub days: Vec<u8>,
    /// From and to, minutes after local midnight (`to` exclusive; a
    /// window with `from > to` spans midnight); none: all day.
    pub window: Option<(u16, u16)>,
    /// Local time minus UTC, minutes.
    pub utc_offset_minutes: i32,
    /// Local dates (`YYYY-MM-DD`) the rule does not apply.
    pub holidays: Vec<String>,
}

/// The civil date of a day number since 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm), as `YYYY-MM-DD`.
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

impl Schedule {
    /// Whether the schedule is open at `unix_ms`.
    pub fn is_open(&self, unix_ms: u64) -> bool {
        let local = (unix_ms / 1000) as i64 + i64::from(self.utc_offset_minutes) * 60;
        let day = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday (index 3).
        let weekday = (day + 3).rem_euclid(7) as u8;
        let minute = (local.rem_euclid(86_400) / 60) as u16;
        if !self.days.is_empty() && !self.days.contains(&weekday) {
            return false;
        }
        if let Some((from, to)) = self.window {
            let inside = if from < to {
                minute >= from && minute < to
            } else {
                minute >= from || minute < to
            };
            if !inside {
                return false;
            }
        }
        self.holidays.is_empty() || !self.holidays.contains(&civil_date(day))
    }
}

/// One inbound rule, compiled.
#[derive(Debug, Clone)]
pub struct InboundRule {
    /// For logs.
    pub name: String,
    /// Only calls from this trunk (index); none: any trunk.
    pub trunk: Option<usize>,
    /// The called number.
    pub number: NumberMatch,
    /// When.
    pub schedule: Schedule,
    /// Where to.
    pub destination: Destination,
}

/// The first rule for a call from `trunk` to `number` at `unix_ms`.
pub(crate) fn decide<'a>(
    rules: &'a [InboundRule],
    trunk: usize,
    number: &str,
    unix_ms: u64,
) -> Option<&'a InboundRule> {
    rules.iter().find(|r| {
        r.trunk.is_none_or(|t| t == trunk)
            && r.number.matches(number)
            && r.schedule.is_open(unix_ms)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 00:00 UTC, a Monday.
    const MONDAY_MS: u64 = 1_796_601_600_000;

    fn at(day: u64, hh: u64, mm: u64) -> u64 {
        MONDAY_MS + ((day * 24 + hh) * 60 + mm) * 60_000
    }

    fn office() -> Schedule {
        Schedule {
            days: vec![0, 1, 2, 3, 4],
            window: Some((8 * 60, 18 * 60)),
            utc_offset_minutes: 0,
            holidays: vec!["2026-12-25".into()],
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date((MONDAY_MS / 86_400_000) as i64), "2026-12-07");
        assert_eq!(civil_date(-1), "1969-12-31");
    }

    #[test]
    fn office_hours_days_and_holidays() {
        let s = office();
        assert!(s.is_open(at(0, 8, 0)), "Monday 08:00 opens");
        assert!(s.is_open(at(0, 17, 59)));
        assert!(
            !s.is_open(at(0, 18, 0)),
            "18:00 is closed (to is exclusive)"
        );
        assert!(!s.is_open(at(0, 7, 59)));
        assert!(!s.is_open(at(5, 10, 0)), "Saturday");
        assert!(!s.is_open(at(6, 10, 0)), "Sunday");
        assert!(s.is_open(at(4, 10, 0)), "Friday");
        // Friday 2026-12-25 is a holiday.
        assert!(!s.is_open(at(18, 10, 0)));
        assert!(s.is_open(at(17, 10, 0)), "the Thursday before is not");
    }

    #[test]
    fn local_time_and_windows_over_midnight() {
        // UTC+1: 07:30 UTC is 08:30 local.
        let s = Schedule {
            utc_offset_minutes: 60,
            ..office()
        };
        assert!(s.is_open(at(0, 7, 30)));
        assert!(!s.is_open(at(0, 17, 30)), "18:30 local");
        // Sunday 23:30 UTC is Monday 00:30 at UTC+1: Monday's rules apply.
        let night = Schedule {
            days: vec![0],
            window: Some((22 * 60, 6 * 60)),
            utc_offset_minutes: 60,
            holidays: Vec::new(),
        };
        assert!(night.is_open(at(6, 23, 30)));
        assert!(night.is_open(at(0, 21, 30)), "Monday 22:30 local");
        assert!(!night.is_open(at(0, 12, 0)));
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = vec![
            InboundRule {
                name: "office".into(),
                trunk: Some(0),
                number: NumberMatch::Exact("4930123".into()),
                schedule: office(),
                destination: Destination::RingGroup("600".into()),
            },
            InboundRule {
                name: "after-hours".into(),
                trunk: None,
                number: NumberMatch::Prefix("4930".into()),
                schedule: Schedule::default(),
                destination: Destination::Extension("1000".into()),
            },
            InboundRule {
                name: "mobile".into(),
                trunk: None,
                number: NumberMatch::Pattern(regex::Regex::new("^49(15|16|17)").unwrap()),
                schedule: Schedule::default(),
                destination: Destination::Trunk(1),
            },
        ];
        let name = |t, n, ms| decide(&rules, t, n, ms).map(|r| r.name.as_str());
        assert_eq!(name(0, "4930123", at(0, 9, 0)), Some("office"));
        assert_eq!(name(0, "4930123", at(0, 20, 0)), Some("after-hours"));
        assert_eq!(
            name(1, "4930123", at(0, 9, 0)),
            Some("after-hours"),
            "another trunk"
        );
        assert_eq!(name(0, "4917012", at(0, 9, 0)), Some("mobile"));
        assert_eq!(name(0, "4340000", at(0, 9, 0)), None);
    }
}
