//! The Date header (RFC 3261 §20.17): an RFC 1123 date, always in GMT
//! (RFC 4475 §3.1.2.12 rejects other zones).

use crate::error::HeaderProblem;

/// A calendar date and time in GMT, as carried by the Date header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipDate {
    /// Year, four digits.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 60 (leap second).
    pub second: u8,
}

const WKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl SipDate {
    /// Parses `wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"`.
    pub fn parse(s: &str) -> Result<SipDate, HeaderProblem> {
        let s = s.trim_matches([' ', '\t']);
        let err = HeaderProblem::Date;
        let (wk, rest) = s.split_once(", ").ok_or(err)?;
        if !WKDAYS.contains(&wk) {
            return Err(err);
        }
        let parts: Vec<&str> = rest.split(' ').collect();
        let [day, month, year, time, zone] = parts[..] else {
            return Err(err);
        };
        if zone != "GMT" {
            return Err(err);
        }
        let num = |t: &str, len: usize| -> Result<u16, HeaderProblem> {
            if t.len() == len && t.bytes().all(|b| b.is_ascii_digit()) {
                t.parse().map_err(|_| err)
            } else {
                Err(err)
            }
        };
        let day = num(day, 2)?;
        let month = MONTHS.iter().position(|m| *m == month).ok_or(err)? as u8 + 1;
        let year = num(year, 4)?;
        let t: Vec<&str> = time.split(':').collect();
        let [h, m, sec] = t[..] else {
            return Err(err);
        };
        let (hour, minute, second) = (num(h, 2)?, num(m, 2)?, num(sec, 2)?);
        if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
            return Err(err);
        }
        Ok(SipDate {
            year,
            month,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = SipDate::parse("Sat, 13 Nov 2010 23:29:00 GMT").unwrap();
        assert_eq!((d.year, d.month, d.day, d.hour), (2010, 11, 13, 23));
        assert!(SipDate::parse("Fri, 01 Jan 2010 16:00:00 EST").is_err());
        assert!(SipDate::parse("Fri, 1 Jan 2010 16:00:00 GMT").is_err());
        assert!(SipDate::parse("Fri, 01 Jan 2010 25:00:00 GMT").is_err());
    }
}
