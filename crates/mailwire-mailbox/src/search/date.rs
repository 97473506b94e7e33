//! Dates for SEARCH: the calendar date a search key carries, the local date
//! of an INTERNALDATE, and the RFC 5322 `Date:` header with its obsolete
//! forms.
//!
//! RFC 9051 compares dates "disregarding time and timezone": BEFORE, ON and
//! SINCE compare the INTERNALDATE's calendar date in the zone the
//! INTERNALDATE is shown in, and SENTBEFORE, SENTON and SENTSINCE the date
//! as written in the `Date:` header, in the sender's zone.

use mailwire_imap::Date;

use super::text::skip_cfws;
use crate::types::InternalDate;

/// The calendar date of an INTERNALDATE in its own time zone; `None`
/// outside years 0-9999 (the calendar is mailwire-imap's [`Date`]).
pub fn date_of_internal(date: InternalDate) -> Option<Date> {
    Date::from_days_since_epoch(internal_day(date))
}

/// The days since 1970-01-01 of an INTERNALDATE's calendar date in its own
/// zone (saturating for absurd values).
pub(crate) fn internal_day(date: InternalDate) -> i64 {
    let local = date
        .unix_seconds
        .saturating_add(i64::from(date.zone_minutes) * 60);
    local.div_euclid(86_400)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A `Date:` header value as read by [`parse_date_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderDate {
    /// The date as written (in the sender's zone).
    pub date: Date,
    /// Hour, 0-23 (0 when the time is missing).
    pub hour: u8,
    /// Minute, 0-59.
    pub minute: u8,
    /// Second, 0-60 (a leap second is kept).
    pub second: u8,
    /// The zone's offset from UTC in minutes; `None` when unknown: written
    /// as `-0000`, a military letter, an unknown name, or missing (RFC 5322
    /// section 4.3 treats those as `-0000`).
    pub zone_minutes: Option<i16>,
}

impl HeaderDate {
    /// Seconds since 1970-01-01T00:00:00Z, an unknown zone taken as UTC.
    pub fn unix_seconds(&self) -> i64 {
        let local = self.date.days_since_epoch() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        local - i64::from(self.zone_minutes.unwrap_or(0)) * 60
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a [u8]),
    Number(&'a [u8]),
    Punct(u8),
}

/// Splits a header value into words, numbers and punctuation, dropping
/// whitespace and (nested) comments. `None` for an unterminated comment.
fn tokens(value: &[u8]) -> Option<Vec<Token<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | b'(' => i = skip_cfws(value, i)?,
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => {
                let start = i;
                let digit = b.is_ascii_digit();
                while value.get(i).is_some_and(|c| {
                    if digit {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                }) {
                    i += 1;
                }
                let text = value.get(start..i).unwrap_or_default();
                out.push(if digit {
                    Token::Number(text)
                } else {
                    Token::Word(text)
                });
            }
            _ => {
                out.push(Token::Punct(b));
                i += 1;
            }
        }
        // Nothing useful is ever past the first few dozen tokens.
        if out.len() > 64 {
            break;
        }
    }
    Some(out)
}

fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits
        .iter()
        .try_fold(0u32, |n, &d| n.checked_mul(10)?.checked_add(u32::from(d - b'0')))
}

/// A month by its three-letter abbreviation or full English name.
fn month(word: &[u8]) -> Option<u8> {
    let found = MONTHS
        .iter()
        .position(|m| word.eq_ignore_ascii_case(m.as_bytes()))
        .or_else(|| {
            MONTH_NAMES
                .iter()
                .position(|m| word.eq_ignore_ascii_case(m.as_bytes()))
        })?;
    u8::try_from(found + 1).ok()
}

fn is_day_name(word: &[u8]) -> bool {
    DAY_NAMES
        .iter()
        .any(|d| word.eq_ignore_ascii_case(d.as_bytes()) || word.eq_ignore_ascii_case(&d.as_bytes()[..3]))
}

/// The zone of an obsolete zone name (RFC 5322 section 4.3): the US zones
/// and UT/GMT are known; military letters and other names are unknown.
fn named_zone(word: &[u8]) -> Option<i16> {
    const NAMED: [(&str, i16); 10] = [
        ("UT", 0),
        ("GMT", 0),
        ("EST", -5 * 60),
        ("EDT", -4 * 60),
        ("CST", -6 * 60),
        ("CDT", -5 * 60),
        ("MST", -7 * 60),
        ("MDT", -6 * 60),
        ("PST", -8 * 60),
        ("PDT", -7 * 60),
    ];
    NAMED
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, zone)| *zone)
}

/// Parses an RFC 5322 `date-time` (section 3.3), obsolete syntax included
/// (section 4.3): comments and folding anywhere between tokens, an optional
/// day of the week with or without its comma, one- or two-digit days, two-
/// and three-digit years (`00`-`49` are 2000-2049, `50`-`99` and three
/// digits add 1900), missing seconds, and the obsolete zones (`UT`, `GMT`,
/// the US zones; military letters and other names count as unknown).
///
/// Beyond the grammar it also accepts full month and day names in any case,
/// a one-digit hour, a missing time (midnight) or zone (unknown), and
/// anything after the zone. It refuses dates that do not exist (`30 Feb`),
/// years past 9999, and any other order of the parts.
pub fn parse_date_header(value: &[u8]) -> Option<HeaderDate> {
    let toks = tokens(value)?;
    let mut t = toks.iter().copied().peekable();
    if let Some(Token::Word(w)) = t.peek().copied() {
        if !is_day_name(w) {
            return None;
        }
        t.next();
        if t.peek() == Some(&Token::Punct(b',')) {
            t.next();
        }
    }
    let Some(Token::Number(d)) = t.next() else {
        return None;
    };
    if d.len() > 2 {
        return None;
    }
    let day = u8::try_from(number(d)?).ok()?;
    let Some(Token::Word(m)) = t.next() else {
        return None;
    };
    let month = month(m)?;
    let Some(Token::Number(y)) = t.next() else {
        return None;
    };
    let year = match (y.len(), number(y)?) {
        (2, n @ 0..=49) => n + 2000,
        (2 | 3, n) => n + 1900,
        (4, n) => n,
        _ => return None,
    };
    let date = Date::new(u16::try_from(year).ok()?, month, day).ok()?;
    let mut out = HeaderDate {
        date,
        hour: 0,
        minute: 0,
        second: 0,
        zone_minutes: None,
    };
    // time-of-day = hour ":" minute [ ":" second ]
    if let Some(Token::Number(h)) = t.peek().copied() {
        t.next();
        let two = |n: &[u8], max: u32| -> Option<u8> {
            let v = number(n)?;
            (n.len() <= 2 && v <= max).then(|| u8::try_from(v).ok())?
        };
        out.hour = two(h, 23)?;
        if t.next() != Some(Token::Punct(b':')) {
            return None;
        }
        let Some(Token::Number(mi)) = t.next() else {
            return None;
        };
        out.minute = two(mi, 59)?;
        if t.peek() == Some(&Token::Punct(b':')) {
            t.next();
            let Some(Token::Number(s)) = t.next() else {
                return None;
            };
            out.second = two(s, 60)?;
        }
        out.zone_minutes = match t.next() {
            Some(Token::Punct(sign @ (b'+' | b'-'))) => {
                let Some(Token::Number(z)) = t.next() else {
                    return None;
                };
                if z.len() != 4 {
                    return None;
                }
                let n = number(z)?;
                let (hh, mm) = (n / 100, n % 100);
                if mm > 59 {
                    return None;
                }
                let minutes = i16::try_from(hh * 60 + mm).ok()?;
                match (sign, minutes) {
                    (b'-', 0) => None,
                    (b'-', m) => Some(-m),
                    (_, m) => Some(m),
                }
            }
            Some(Token::Word(w)) => named_zone(w),
            _ => None,
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: u16, m: u8, day: u8) -> Date {
        Date::new(y, m, day).unwrap()
    }

    #[test]
    fn internal_dates_use_their_own_zone() {
        // 2024-03-01T23:30:00Z
        let utc = InternalDate::from_unix(1_709_335_800);
        assert_eq!(date_of_internal(utc), Some(d(2024, 3, 1)));
        let east = InternalDate {
            unix_seconds: utc.unix_seconds,
            zone_minutes: 60,
        };
        assert_eq!(date_of_internal(east), Some(d(2024, 3, 2)));
        let west = InternalDate {
            unix_seconds: 1_709_337_600, // 2024-03-02T00:00:00Z
            zone_minutes: -1,
        };
        assert_eq!(date_of_internal(west), Some(d(2024, 3, 1)));
        assert_eq!(
            date_of_internal(InternalDate::from_unix(-1)),
            Some(d(1969, 12, 31))
        );
        assert_eq!(date_of_internal(InternalDate::from_unix(i64::MAX)), None);
        assert_eq!(
            internal_day(InternalDate::from_unix(i64::MIN)),
            i64::MIN.div_euclid(86_400)
        );
    }

    fn p(s: &str) -> Option<(Date, u8, u8, u8, Option<i16>)> {
        parse_date_header(s.as_bytes()).map(|h| (h.date, h.hour, h.minute, h.second, h.zone_minutes))
    }

    #[test]
    fn current_syntax() {
        assert_eq!(
            p("Fri, 21 Nov 1997 09:55:06 -0600"),
            Some((d(1997, 11, 21), 9, 55, 6, Some(-360)))
        );
        assert_eq!(
            p("21 Nov 1997 09:55 +0130"),
            Some((d(1997, 11, 21), 9, 55, 0, Some(90)))
        );
        assert_eq!(
            p("1 Jan 2000 00:00:00 -0000"),
            Some((d(2000, 1, 1), 0, 0, 0, None))
        );
        let h = parse_date_header(b"Thu, 1 Jan 1970 01:00:00 +0100").unwrap();
        assert_eq!(h.unix_seconds(), 0);
    }

    #[test]
    fn obsolete_syntax() {
        // Comments, folding, no comma, two- and three-digit years.
        assert_eq!(
            p("Fri(day) 21 (x (nested)) Nov\r\n 97 09 : 55 : 06 GMT (Greenwich)"),
            Some((d(1997, 11, 21), 9, 55, 6, Some(0)))
        );
        assert_eq!(p("3 Mar 49 1:02 EST"), Some((d(2049, 3, 3), 1, 2, 0, Some(-300))));
        assert_eq!(
            p("3 Mar 50 10:00 PDT"),
            Some((d(1950, 3, 3), 10, 0, 0, Some(-420)))
        );
        assert_eq!(p("3 Mar 103 10:00 Z"), Some((d(2003, 3, 3), 10, 0, 0, None)));
        assert_eq!(p("3 Mar 2003 10:00 CEST"), Some((d(2003, 3, 3), 10, 0, 0, None)));
        assert_eq!(p("Sunday, 3 march 2003"), Some((d(2003, 3, 3), 0, 0, 0, None)));
        assert_eq!(
            p("3 Mar 2003 10:00:00 +0100 CET"),
            Some((d(2003, 3, 3), 10, 0, 0, Some(60)))
        );
    }

    #[test]
    fn broken_dates() {
        for bad in [
            "",
            "Someday, 3 Mar 2003",
            "Mon Mar  3 10:00:00 2003",
            "2003-03-03T10:00:00Z",
            "30 Feb 2003 10:00 +0000",
            "3 Mar 12345 10:00 +0000",
            "3 Mar 2003 24:00 +0000",
            "3 Mar 2003 10:60 +0000",
            "3 Mar 2003 10 +0000",
            "3 Mar 2003 10:00 +100",
            "3 Mar 2003 10:00 +0160",
            "123 Mar 2003",
            "3 (unterminated Mar 2003",
            "3 Mar",
            "99999999999 Mar 2003",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }
}
