//! `[[inbound_rules]]` and `[[ring_groups]]`: where calls from carriers go
//! (by trunk, called number and office-hours schedule) and groups of
//! extensions rung together or in turn (RFC 3261 §16.6 forking, §16.8
//! Timer C style per-member timeouts). Checked at start: errors name
//! `inbound_rules[i].key` / `ring_groups[i].key` and the rule; two rules
//! with identical matchers are refused naming both. Keys are documented
//! in docs/trunks.md.

use crate::error::Error;
use serde::Deserialize;
use std::path::Path;

/// One `[[inbound_rules]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InboundRuleEntry {
    /// A name for logs and errors (default `inbound_rules[i]`).
    #[serde(default)]
    pub name: Option<String>,
    /// Only calls from this trunk (default: any trunk).
    #[serde(default)]
    pub trunk: Option<String>,
    /// The called number (DID), exactly.
    #[serde(default)]
    pub number: Option<String>,
    /// Or a prefix of it.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Or a regular expression on it.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Days the rule applies: `mon` … `sun` (default: every day).
    #[serde(default)]
    pub days: Vec<String>,
    /// From this local time, `HH:MM` (with `to`).
    #[serde(default)]
    pub from: Option<String>,
    /// Until this local time, `HH:MM`, exclusive; earlier than `from`
    /// spans midnight.
    #[serde(default)]
    pub to: Option<String>,
    /// The local time's offset from UTC, minutes.
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Dates (`YYYY-MM-DD`, local) the rule does not apply.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// `extension:<number>`, `ring_group:<number>` or `trunk:<name>`.
    pub destination: String,
}

impl InboundRuleEntry {
    /// The rule's name for messages.
    pub fn label(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("inbound_rules[{index}]"))
    }

    /// Whether the rule has a schedule (days, hours or holidays).
    pub fn has_schedule(&self) -> bool {
        !self.days.is_empty() || self.from.is_some() || !self.holidays.is_empty()
    }
}

/// One `[[ring_groups]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RingGroupEntry {
    /// The group's number (dialled by extensions, or a destination).
    pub number: String,
    /// `all` (every member at once) or `sequential` (one after the other).
    #[serde(default = "default_strategy")]
    pub strategy: String,
    /// Extension numbers, in order.
    pub members: Vec<String>,
    /// How long one member rings in `sequential`; how long all ring in
    /// `all`; seconds.
    #[serde(default = "default_member_timeout_secs")]
    pub member_timeout_secs: u32,
    /// Where the call goes when nobody answers: `extension:<number>`.
    #[serde(default)]
    pub fallback: Option<String>,
}

fn default_strategy() -> String {
    "all".into()
}

fn default_member_timeout_secs() -> u32 {
    20
}

/// A destination, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An extension.
    Extension(String),
    /// A ring group, by number.
    RingGroup(String),
    /// Out on a trunk, by name.
    Trunk(String),
}

impl Destination {
    /// Parses `extension:1001`, `ring_group:600`, `trunk:carrier`.
    pub fn parse(text: &str) -> Option<Destination> {
        let (kind, value) = text.split_once(':')?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match kind.trim() {
            "extension" => Some(Destination::Extension(value.into())),
            "ring_group" => Some(Destination::RingGroup(value.into())),
            "trunk" => Some(Destination::Trunk(value.into())),
            _ => None,
        }
    }
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_hhmm(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// The day index of `mon` … `sun` (0 = Monday).
pub fn day_index(day: &str) -> Option<u8> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .position(|d| d.eq_ignore_ascii_case(day))
        .map(|i| i as u8)
}

/// Checks `YYYY-MM-DD`.
pub fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && text[..4].parse::<u16>().is_ok()
        && text[5..7]
            .parse::<u8>()
            .is_ok_and(|m| (1..=12).contains(&m))
        && text[8..].parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))
}

pub(crate) fn check(config: &crate::Config, path: &Path) -> Result<(), Error> {
    let invalid = |key: String, problem: String| Error::Invalid {
        path: path.to_owned(),
        key,
        problem,
    };
    let trunk_known = |n: &str| config.trunks.iter().any(|t| t.name == n);
    let group_known = |n: &str| config.ring_groups.iter().any(|g| g.number == n);
    let mut numbers = std::collections::HashSet::new();
    for (i, g) in config.ring_groups.iter().enumerate() {
        let key = |k: &str| format!("ring_groups[{i}].{k}");
        if !crate::is_valid_extension_number(&g.number) {
            return Err(invalid(
                key("number"),
                format!("{:?}: use digits, letters or - _ . +", g.number),
            ));
        }
        if !numbers.insert(g.number.as_str()) {
            return Err(invalid(
                key("number"),
                format!("ring group {} is listed twice", g.number),
            ));
        }
        if config.extensions.iter().any(|e| e.number == g.number) {
            return Err(invalid(
                key("number"),
                format!("{} is also an extension", g.number),
            ));
        }
        if !matches!(g.strategy.as_str(), "all" | "sequential") {
            return Err(invalid(
                key("strategy"),
                format!("{:?} is not \"all\" or \"sequential\"", g.strategy),
            ));
        }
        if g.members.is_empty() {
            return Err(invalid(
                key("members"),
                "name at least one extension".into(),
            ));
        }
        for (j, m) in g.members.iter().enumerate() {
            if !crate::is_valid_extension_number(m) {
                return Err(invalid(
                    format!("ring_groups[{i}].members[{j}]"),
                    format!("{m:?} is not an extension number"),
                ));
            }
        }
        if !(1..=600).contains(&g.member_timeout_secs) {
            return Err(invalid(
                key("member_timeout_secs"),
                format!("{} is out of range 1..=600", g.member_timeout_secs),
            ));
        }
        if let Some(f) = &g.fallback {
            if !matches!(Destination::parse(f), Some(Destination::Extension(_))) {
                return Err(invalid(
                    key("fallback"),
                    format!("{f:?} is not extension:<number>"),
                ));
            }
        }
    }
    let mut seen: Vec<(String, &InboundRuleEntry)> = Vec::new();
    for (i, r) in config.inbound_rules.iter().enumerate() {
        let label = r.label(i);
        let key = |k: &str| format!("inbound_rules[{i}].{k}");
        if let Some(t) = &r.trunk {
            if !trunk_known(t) {
                return Err(invalid(
                    key("trunk"),
                    format!("rule {label}: unknown trunk {t:?}"),
                ));
            }
        }
        let matchers = [&r.number, &r.prefix, &r.pattern]
            .iter()
            .filter(|m| m.is_some())
            .count();
        if matchers > 1 {
            return Err(invalid(
                key("number"),
                format!("rule {label}: give one of number, prefix or pattern"),
            ));
        }
        if let Some(p) = &r.pattern {
            if let Err(e) = regex::Regex::new(p) {
                return Err(invalid(
                    key("pattern"),
                    format!("rule {label}: invalid pattern {p:?}: {e}"),
                ));
            }
        }
        for (j, d) in r.days.iter().enumerate() {
            if day_index(d).is_none() {
                return Err(invalid(
                    format!("inbound_rules[{i}].days[{j}]"),
                    format!("rule {label}: {d:?} is not one of mon, tue, wed, thu, fri, sat, sun"),
                ));
            }
        }
        match (&r.from, &r.to) {
            (None, None) => {}
            (Some(f), Some(t)) => {
                for (k, v) in [("from", f), ("to", t)] {
                    if parse_hhmm(v).is_none() {
                        return Err(invalid(key(k), format!("rule {label}: {v:?} is not HH:MM")));
                    }
                }
                if f == t {
                    return Err(invalid(
                        key("to"),
                        format!("rule {label}: from and to are equal"),
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    key("from"),
                    format!("rule {label}: give both from and to"),
                ))
            }
        }
        if !(-840..=840).contains(&r.utc_offset_minutes) {
            return Err(invalid(
                key("utc_offset_minutes"),
                format!(
                    "rule {label}: {} is out of range -840..=840",
                    r.utc_offset_minutes
                ),
            ));
        }
        for (j, h) in r.holidays.iter().enumerate() {
            if !is_date(h) {
                return Err(invalid(
                    format!("inbound_rules[{i}].holidays[{j}]"),
                    format!("rule {label}: {h:?} is not YYYY-MM-DD"),
                ));
            }
        }
        match Destination::parse(&r.destination) {
            Some(Destination::Extension(_)) => {}
            Some(Destination::RingGroup(g)) if group_known(&g) => {}
            Some(Destination::RingGroup(g)) => {
                return Err(invalid(key("destination"), format!("rule {label}: unknown ring group {g:?}")))
            }
            Some(Destination::Trunk(t)) if trunk_known(&t) => {}
            Some(Destination::Trunk(t)) => {
                return Err(invalid(key("destination"), format!("rule {label}: unknown trunk {t:?}")))
            }
            None => {
                return Err(invalid(
                    key("destination"),
                    format!("rule {label}: {:?} is not extension:<number>, ring_group:<number> or trunk:<name>", r.destination),
                ))
            }
        }
        let same = |a: &InboundRuleEntry, b: &InboundRuleEntry| {
            let sorted = |v: &[String]| {
                let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
                v.sort();
                v
            };
            a.trunk == b.trunk
                && a.number == b.number
                && a.prefix == b.prefix
                && a.pattern == b.pattern
                && sorted(&a.days) == sorted(&b.days)
                && a.from == b.from
                && a.to == b.to
                && a.utc_offset_minutes == b.utc_offset_minutes
                && sorted(&a.holidays) == sorted(&b.holidays)
        };
        if let Some((other, _)) = seen.iter().find(|(_, o)| same(o, r)) {
            return Err(invalid(
                key("number"),
                format!("rule {label} overlaps rule {other}: the same trunk, number and schedule, so it could never match"),
            ));
        }
        seen.push((label, r));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn err(text: &str) -> String {
        Config::from_toml(text, Path::new("t.toml"), Path::new("."))
            .unwrap_err()
            .to_string()
    }

    const BASE: &str = "[[trunks]]\nname = \"c\"\nproxy = \"192.0.2.1\"\n\n[[ring_groups]]\nnumber = \"600\"\nmembers = [\"1000\", \"1001\"]\n\n";

    #[test]
    fn inbound_rules_and_ring_groups_load() {
        let c = Config::from_toml(
            &format!("{BASE}[[inbound_rules]]\ntrunk = \"c\"\nnumber = \"4930123\"\ndays = [\"mon\", \"fri\"]\nfrom = \"08:00\"\nto = \"18:00\"\nholidays = [\"2026-12-25\"]\ndestination = \"ring_group:600\"\n\n[[inbound_rules]]\ntrunk = \"c\"\nnumber = \"4930123\"\ndestination = \"extension:1000\"\n"),
            Path::new("t.toml"),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(c.inbound_rules.len(), 2);
        assert_eq!(c.ring_groups[0].strategy, "all");
        assert_eq!(parse_hhmm("08:30"), Some(510));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(
            Destination::parse("trunk:c"),
            Some(Destination::Trunk("c".into()))
        );
        assert_eq!(Destination::parse("voicemail:1"), None);
    }

    #[test]
    fn errors_name_the_rule() {
        let e = err(&format!("{BASE}[[inbound_rules]]\nname = \"office\"\nnumber = \"1\"\ndestination = \"ring_group:601\"\n"));
        assert!(
            e.contains("inbound_rules[0].destination")
                && e.contains("office")
                && e.contains("\"601\""),
            "{e}"
        );
        let e = err(&format!("{BASE}[[inbound_rules]]\nname = \"a\"\nprefix = \"49\"\ndays = [\"mon\"]\ndestination = \"extension:1000\"\n\n[[inbound_rules]]\nname = \"b\"\nprefix = \"49\"\ndays = [\"MON\"]\ndestination = \"extension:1001\"\n"));
        assert!(
            e.contains("inbound_rules[1]") && e.contains("rule b overlaps rule a"),
            "{e}"
        );
        let e = err(&format!(
            "{BASE}[[inbound_rules]]\npattern = \"(\"\ndestination = \"extension:1000\"\n"
        ));
        assert!(e.contains("inbound_rules[0].pattern"), "{e}");
        let e = err(&format!("{BASE}[[inbound_rules]]\nfrom = \"8:00\"\nto = \"18:00\"\ndestination = \"extension:1000\"\n"));
        assert!(e.contains("inbound_rules[0].from"), "{e}");
        let e = err(&format!("{BASE}[[inbound_rules]]\nholidays = [\"2026-13-01\"]\ndestination = \"extension:1000\"\n"));
        assert!(e.contains("inbound_rules[0].holidays[0]"), "{e}");
        let e =
            err("[[ring_groups]]\nnumber = \"600\"\nstrategy = \"random\"\nmembers = [\"1\"]\n");
        assert!(e.contains("ring_groups[0].strategy"), "{e}");
        let e =
            err("[[ring_groups]]\nnumber = \"600\"\nmembers = [\"1\"]\nfallback = \"trunk:x\"\n");
        assert!(e.contains("ring_groups[0].fallback"), "{e}");
    }
}
