//! The home of [`Date`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::fmt;
use std::str::FromStr;

use crate::decode::ErrorKind;
use crate::parse::parse_whole;
use crate::parse::{PError, PResult, byte, fail};
use crate::string::TypeError;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The largest zone offset `hhmm` can write, in minutes.
const MAX_ZONE: i16 = 99 * 60 + 59;

/// A calendar date: `date-text = date-day "-" date-month "-" date-year`.
///
/// Ordered by year, month, day.
///
/// Dates and date-times of RFC 9051 section 9: the `date` of SEARCH
/// (`SINCE 1-Feb-1994`) and the `date-time` of INTERNALDATE and APPEND
/// (`"17-Jul-1996 02:44:25 -0700"`).
///
/// Plain validated values on the proleptic Gregorian calendar, without a
/// date crate: a day exists in its month (29 February only in leap
/// years), hours run 00-23, minutes 00-59, seconds 00-60 (60 for a leap
/// second, as RFC 5322 allows), and the zone is `hhmm` with minutes below
/// 60. The decoder never reads a clock; conversions to and from Unix time
/// are offered for the callers that need them.
///
/// Month names are matched case-insensitively (`jul`, `JUL`): they are
/// ABNF strings, and RFC 9051 section 9 says those are case-insensitive
/// unless noted otherwise. They are always sent as `Jul`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Whether `year` is a leap year in the (proleptic) Gregorian
    /// calendar.
    ///
    /// ```
    /// use mailwire_imap::Date;
    ///
    /// assert!(Date::is_leap_year(2024) && Date::is_leap_year(2000));
    /// assert!(!Date::is_leap_year(1900) && !Date::is_leap_year(2023));
    /// ```
    pub const fn is_leap_year(year: u16) -> bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// The number of days in `month` (1-12) of `year`; 0 for a month that
    /// does not exist.
    ///
    /// ```
    /// use mailwire_imap::Date;
    ///
    /// assert_eq!(Date::days_in_month(2024, 2), 29);
    /// assert_eq!(Date::days_in_month(2023, 2), 28);
    /// assert_eq!(Date::days_in_month(2023, 13), 0);
    /// ```
    pub const fn days_in_month(year: u16, month: u8) -> u8 {
        match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if Date::is_leap_year(year) => 29,
            2 => 28,
            _ => 0,
        }
    }

    /// The date, if it exists: year 0000-9999 (`date-year = 4DIGIT`),
    /// month 1-12, day 1 to the length of the month.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, TypeError> {
        if year > 9999 {
            return Err(TypeError::problem("date", "year must have four digits"));
        }
        if !(1..=12).contains(&month) {
            return Err(TypeError::problem("date", "month must be 1 to 12"));
        }
        if day == 0 || day > Date::days_in_month(year, month) {
            return Err(TypeError::problem("date", "day does not exist in that month"));
        }
        Ok(Date { year, month, day })
    }

    /// The year, 0-9999.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Days from 1970-01-01 (negative before it).
    pub fn days_since_epoch(&self) -> i64 {
        // Howard Hinnant's days_from_civil, with years starting in March.
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01, if its year is 0000-9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Self> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let year = u16::try_from(year).ok().filter(|&y| y <= 9999)?;
        // Both are in range by construction.
        Some(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    /// `date = date-text / DQUOTE date-text DQUOTE`
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Self> {
        match input.strip_prefix(b"\"") {
            Some(rest) => {
                let (rest, date) = Self::parse_text(rest)?;
                let (rest, _) = byte(b'"', "'\"'")(rest)?;
                Ok((rest, date))
            }
            None => Self::parse_text(input),
        }
    }

    /// `date-text = date-day "-" date-month "-" date-year`,
    /// `date-day = 1*2DIGIT`, `date-year = 4DIGIT`
    fn parse_text(input: &[u8]) -> PResult<'_, Self> {
        let (rest, day) = digits(input, 1, 2, "day of the month")?;
        Self::parse_month_year(input, rest, day)
    }

    /// `"-" date-month "-" date-year`, then checks that `day` (which
    /// started at `day_at`) exists.
    fn parse_month_year<'a>(day_at: &'a [u8], input: &'a [u8], day: u16) -> PResult<'a, Self> {
        let (rest, _) = byte(b'-', "'-'")(input)?;
        let (rest, month) = month(rest)?;
        let (rest, _) = byte(b'-', "'-'")(rest)?;
        let (rest, year) = digits(rest, 4, 4, "four-digit year")?;
        match u8::try_from(day)
            .ok()
            .filter(|d| (1..=Date::days_in_month(year, month)).contains(d))
        {
            Some(day) => Ok((rest, Date { year, month, day })),
            None => Err(out_of_range(day_at, "day that exists in that month")),
        }
    }

    /// Writes `date-text`, the unquoted form (`1-Feb-1994`).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        if self.day >= 10 {
            out.push(b'0' + self.day / 10);
        }
        out.push(b'0' + self.day % 10);
        self.encode_month_year(out);
    }

    fn encode_month_year(&self, out: &mut Vec<u8>) {
        out.push(b'-');
        out.extend_from_slice(MONTHS[usize::from(self.month - 1)].as_bytes());
        out.push(b'-');
        let y = self.year;
        out.extend_from_slice(&[
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
        ]);
    }
}

impl fmt::Display for Date {
    /// `1-Feb-1994`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(11);
        self.encode(&mut out);
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

impl FromStr for Date {
    type Err = TypeError;
    /// Parses `date` (`1-Feb-1994`, optionally quoted).
    fn from_str(s: &str) -> Result<Self, TypeError> {
        parse_whole("date", s.as_bytes(), Date::parse)
    }
}

/// A date, time and zone: `date-time = DQUOTE date-day-fixed "-"
/// date-month "-" date-year SP time SP zone DQUOTE`.
///
/// Two values are equal when all their fields are: `02:44:25 -0700` and
/// `09:44:25 +0000` are the same instant ([`DateTime::unix_timestamp`])
/// but different values. The zone `-0000` (RFC 5322: local zone unknown)
/// reads as `+0000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    zone: i16,
}

impl DateTime {
    /// The date-time, if valid: hour 0-23, minute 0-59, second 0-60, zone
    /// in minutes east of Greenwich, at most 99 hours 59 minutes either
    /// way.
    pub fn new(date: Date, hour: u8, minute: u8, second: u8, zone_minutes: i16) -> Result<Self, TypeError> {
        if hour > 23 || minute > 59 || second > 60 {
            return Err(TypeError::problem("date-time", "time out of range"));
        }
        if !(-MAX_ZONE..=MAX_ZONE).contains(&zone_minutes) {
            return Err(TypeError::problem("date-time", "zone out of range"));
        }
        Ok(DateTime {
            date,
            hour,
            minute,
            second,
            zone: zone_minutes,
        })
    }

    /// The local date.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The hour, 0-23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0-59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// The second, 0-60.
    pub fn second(&self) -> u8 {
        self.second
    }

    /// The zone: minutes east of Greenwich (`-0700` is -420).
    pub fn zone_minutes(&self) -> i16 {
        self.zone
    }

    /// Seconds since 1970-01-01 00:00:00 UTC (a leap second counts as the
    /// first second of the next minute).
    pub fn unix_timestamp(&self) -> i64 {
        let local = self.date.days_since_epoch() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        local - i64::from(self.zone) * 60
    }

    /// The instant `timestamp` (seconds since the Unix epoch) as local time
    /// in the zone `zone_minutes` east of Greenwich; refused when the zone
    /// is out of range or the year is not 0000-9999.
    pub fn from_unix_timestamp(timestamp: i64, zone_minutes: i16) -> Result<Self, TypeError> {
        if !(-MAX_ZONE..=MAX_ZONE).contains(&zone_minutes) {
            return Err(TypeError::problem("date-time", "zone out of range"));
        }
        let local = timestamp.checked_add(i64::from(zone_minutes) * 60);
        let date = local.and_then(|l| Date::from_days_since_epoch(l.div_euclid(86_400)));
        let (Some(local), Some(date)) = (local, date) else {
            return Err(TypeError::problem("date-time", "year outside 0000-9999"));
        };
        let seconds = local.rem_euclid(86_400);
        // Each part is below 60 or 24.
        let (hour, minute, second) = (
            (seconds / 3600) as u8,
            (seconds / 60 % 60) as u8,
            (seconds % 60) as u8,
        );
        Ok(DateTime {
            date,
            hour,
            minute,
            second,
            zone: zone_minutes,
        })
    }

    /// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP
    /// time SP zone DQUOTE`, `date-day-fixed = (SP DIGIT) / 2DIGIT`,
    /// `time = 2DIGIT ":" 2DIGIT ":" 2DIGIT`, `zone = ("+" / "-") 4DIGIT`.
    ///
    /// With `unpadded_day`, a single-digit day without the space is also
    /// accepted (`"8-Mar-2023 ..."`, sent by some servers in INTERNALDATE
    /// and by some clients in APPEND).
    pub(crate) fn parse(input: &[u8], unpadded_day: bool) -> PResult<'_, Self> {
        match Self::parse_common(input) {
            Some(parsed) => Ok(parsed),
            None => Self::parse_any(input, unpadded_day),
        }
    }

    /// The form nearly every server sends, `"dd-Mon-yyyy hh:mm:ss +zzzz"`
    /// with a two-digit day, read at fixed positions with each field
    /// checked; `None` for any other input, which [`DateTime::parse_any`]
    /// then reads (or refuses with the precise error).
    #[inline]
    fn parse_common(input: &[u8]) -> Option<(&[u8], Self)> {
        let b: &[u8; 28] = input.first_chunk()?;
        let punctuation = [
            (0, b'"'),
            (3, b'-'),
            (7, b'-'),
            (12, b' '),
            (15, b':'),
            (18, b':'),
            (21, b' '),
            (27, b'"'),
        ];
        let digit = |i: usize| b[i].wrapping_sub(b'0');
        let digits = [1, 2, 8, 9, 10, 11, 13, 14, 16, 17, 19, 20, 23, 24, 25, 26];
        if punctuation.iter().any(|&(i, c)| b[i] != c) || digits.iter().any(|&i| digit(i) > 9) {
            return None;
        }
        let two = |i: usize| digit(i) * 10 + digit(i + 1);
        let year = u16::from(two(8)) * 100 + u16::from(two(10));
        let month = month_number([b[4], b[5], b[6]])?;
        let sign = match b[22] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (zone_hours, zone_minutes) = (two(23), two(25));
        if zone_minutes > 59 {
            return None;
        }
        let zone = sign * (i16::from(zone_hours) * 60 + i16::from(zone_minutes));
        // The constructors check the day against the month and the time's
        // ranges, as for any other date-time.
        let date = Date::new(year, month, two(1)).ok()?;
        let time = DateTime::new(date, two(13), two(16), two(19), zone).ok()?;
        Some((&input[28..], time))
    }

    /// [`DateTime::parse`] for every form, with its errors.
    fn parse_any(input: &[u8], unpadded_day: bool) -> PResult<'_, Self> {
        let (rest, _) = byte(b'"', "'\"'")(input)?;
        let day_at = rest;
        let (rest, day) = match rest {
            [b' ', rest @ ..] => digits(rest, 1, 1, "digit of the day")?,
            _ if unpadded_day => digits(rest, 1, 2, "day of the month")?,
            _ => digits(rest, 2, 2, "two-digit day, or space and digit")?,
        };
        let (rest, date) = Date::parse_month_year(day_at, rest, day)?;
        let (rest, _) = byte(b' ', "space")(rest)?;
        let (rest, hour) = field(rest, 23, "hour (00-23)")?;
        let (rest, _) = byte(b':', "':'")(rest)?;
        let (rest, minute) = field(rest, 59, "minute (00-59)")?;
        let (rest, _) = byte(b':', "':'")(rest)?;
        let (rest, second) = field(rest, 60, "second (00-60)")?;
        let (rest, _) = byte(b' ', "space")(rest)?;
        let zone_at = rest;
        let (rest, sign) = match rest.first() {
            Some(b'+') => (&rest[1..], 1),
            Some(b'-') => (&rest[1..], -1),
            _ => return fail(rest, "zone ('+' or '-' and hhmm)"),
        };
        let (rest, hhmm) = digits(rest, 4, 4, "four-digit zone (hhmm)")?;
        if hhmm % 100 > 59 {
            return Err(out_of_range(zone_at, "zone with minutes 00-59"));
        }
        let (rest, _) = byte(b'"', "'\"'")(rest)?;
        // At most 99 * 60 + 59.
        let zone = sign * ((hhmm / 100) * 60 + hhmm % 100) as i16;
        Ok((
            rest,
            DateTime {
                date,
                hour,
                minute,
                second,
                zone,
            },
        ))
    }

    /// Writes `date-time`, a single-digit day padded with a space
    /// (`" 1-Feb-1994 ..."`), as `date-day-fixed` requires.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        self.encode_unquoted(out, true);
        out.push(b'"');
    }

    fn encode_unquoted(&self, out: &mut Vec<u8>, pad: bool) {
        let day = self.date.day;
        if day >= 10 {
            out.push(b'0' + day / 10);
        } else if pad {
            out.push(b' ');
        }
        out.push(b'0' + day % 10);
        self.date.encode_month_year(out);
        out.push(b' ');
        put2(out, self.hour);
        out.push(b':');
        put2(out, self.minute);
        out.push(b':');
        put2(out, self.second);
        out.push(b' ');
        out.push(if self.zone < 0 { b'-' } else { b'+' });
        let zone = self.zone.unsigned_abs();
        // Below 100 by construction.
        put2(out, (zone / 60) as u8);
        put2(out, (zone % 60) as u8);
    }
}

impl fmt::Display for DateTime {
    /// `17-Jul-1996 02:44:25 -0700`: without the quotes and without the
    /// space that pads a single-digit day on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(26);
        self.encode_unquoted(&mut out, false);
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

impl FromStr for DateTime {
    type Err = TypeError;
    /// Parses the wire form, quotes included (`"17-Jul-1996 02:44:25
    /// -0700"`), strictly.
    fn from_str(s: &str) -> Result<Self, TypeError> {
        parse_whole("date-time", s.as_bytes(), |i| DateTime::parse(i, false))
    }
}

fn out_of_range(at: &[u8], expected: &'static str) -> nom::Err<PError> {
    nom::Err::Error(PError::kind(at, ErrorKind::NumberOutOfRange, expected))
}

/// `min` to `max` ASCII digits as a number.
fn digits<'a>(input: &'a [u8], min: usize, max: usize, expected: &'static str) -> PResult<'a, u16> {
    let n = input.iter().take(max).take_while(|b| b.is_ascii_digit()).count();
    if n < min {
        return fail(&input[n..], expected);
    }
    let value = input[..n].iter().fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'));
    Ok((&input[n..], value))
}

/// `2DIGIT` of at most `max`.
fn field<'a>(input: &'a [u8], max: u8, expected: &'static str) -> PResult<'a, u8> {
    let (rest, n) = digits(input, 2, 2, expected)?;
    match u8::try_from(n).ok().filter(|&n| n <= max) {
        Some(n) => Ok((rest, n)),
        None => Err(out_of_range(input, expected)),
    }
}

/// `date-month`, case-insensitively, as 1-12.
fn month(input: &[u8]) -> PResult<'_, u8> {
    match input.first_chunk::<3>().and_then(|&name| month_number(name)) {
        Some(m) => Ok((&input[3..], m)),
        None => fail(input, "month name (Jan-Dec)"),
    }
}

/// The month (1-12) named by `name`, case-insensitively.
#[inline]
fn month_number([a, b, c]: [u8; 3]) -> Option<u8> {
    // Setting bit 5 lower-cases a letter, and only the two cases of a
    // letter end up as that lower-case letter: one comparison per month.
    Some(match [a | 0x20, b | 0x20, c | 0x20] {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    })
}

fn put2(out: &mut Vec<u8>, n: u8) {
    out.extend_from_slice(&[b'0' + n / 10, b'0' + n % 10]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date_time(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    fn encoded(d: &DateTime) -> String {
        let mut out = Vec::new();
        d.encode(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn error(input: &[u8]) -> crate::DecodeError {
        match DateTime::parse(input, false) {
            Err(nom::Err::Error(e)) => e.into_decode_error(input),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn month_names_match_case_insensitively_and_nothing_else() {
        for (i, name) in MONTHS.iter().enumerate() {
            let name = name.as_bytes();
            for at in 0..3 {
                for b in 0..=255u8 {
                    let mut m = [name[0], name[1], name[2]];
                    m[at] = b;
                    let expected = MONTHS
                        .iter()
                        .position(|n| m.eq_ignore_ascii_case(n.as_bytes()))
                        .map(|j| j as u8 + 1);
                    assert_eq!(month(&m).ok().map(|(_, n)| n), expected, "{m:?}");
                    if b.eq_ignore_ascii_case(&name[at]) {
                        assert_eq!(expected, Some(i as u8 + 1));
                    }
                }
            }
        }
        assert!(month(b"Ja").is_err());
    }

    #[test]
    fn rfc_examples() {
        // RFC 9051 section 6.3.12 (APPEND).
        let d = date_time("\"17-Jul-1996 02:44:25 -0700\"");
        assert_eq!((d.date().year(), d.date().month(), d.date().day()), (1996, 7, 17));
        assert_eq!(
            (d.hour(), d.minute(), d.second(), d.zone_minutes()),
            (2, 44, 25, -420)
        );
        assert_eq!(encoded(&d), "\"17-Jul-1996 02:44:25 -0700\"");
        assert_eq!(d.to_string(), "17-Jul-1996 02:44:25 -0700");
        assert_eq!(d.unix_timestamp(), 837_596_665);
        // RFC 9051 section 6.4.4 (SEARCH): date-text and its quoted form.
        let (rest, date) = Date::parse(b"1-Feb-1994 NOT").unwrap();
        assert_eq!((rest, date), (&b" NOT"[..], Date::new(1994, 2, 1).unwrap()));
        assert_eq!(Date::parse(b"\"1-Feb-1994\"").unwrap().1, date);
        assert_eq!(Date::parse(b"01-Feb-1994").unwrap().1, date);
        assert_eq!(date.to_string(), "1-Feb-1994");
    }

    #[test]
    fn single_digit_days_are_padded_with_a_space() {
        let d = DateTime::new(Date::new(1994, 2, 1).unwrap(), 9, 5, 0, 0).unwrap();
        assert_eq!(encoded(&d), "\" 1-Feb-1994 09:05:00 +0000\"");
        assert_eq!(date_time("\" 1-Feb-1994 09:05:00 +0000\""), d);
        assert_eq!(date_time("\"01-Feb-1994 09:05:00 +0000\""), d);
        assert_eq!(d.to_string(), "1-Feb-1994 09:05:00 +0000");
        // Strictly, "1-Feb" lacks the padding; leniently it is accepted.
        let unpadded = b"\"1-Feb-1994 09:05:00 +0000\"";
        let e = error(unpadded);
        assert_eq!((e.offset, e.found), (2, Some(b'-')));
        assert_eq!(DateTime::parse(unpadded, true).unwrap().1, d);
        // A space goes with a single digit only.
        assert_eq!(error(b"\" 11-Feb-1994 09:05:00 +0000\"").offset, 3);
    }

    #[test]
    fn month_names_are_case_insensitive() {
        let d = date_time("\"17-jUL-1996 02:44:25 -0700\"");
        assert_eq!(encoded(&d), "\"17-Jul-1996 02:44:25 -0700\"");
        assert_eq!(
            "1-FEB-1994".parse::<Date>().unwrap(),
            Date::new(1994, 2, 1).unwrap()
        );
        let e = error(b"\"17-Jly-1996 02:44:25 -0700\"");
        assert_eq!((e.offset, e.expected), (4, "month name (Jan-Dec)"));
    }

    #[test]
    fn days_must_exist() {
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(2000, 2, 29).is_ok());
        assert!(Date::new(1900, 2, 29).is_err());
        assert!(Date::new(2023, 2, 29).is_err());
        assert!(Date::new(2023, 4, 31).is_err());
        assert!(Date::new(2023, 1, 0).is_err() && Date::new(2023, 13, 1).is_err());
        assert!(Date::new(10_000, 1, 1).is_err());
        let e = error(b"\"30-Feb-2024 00:00:00 +0000\"");
        assert_eq!((e.offset, e.kind), (1, ErrorKind::NumberOutOfRange));
        let e = error(b"\" 0-Jan-2024 00:00:00 +0000\"");
        assert_eq!((e.offset, e.kind), (1, ErrorKind::NumberOutOfRange));
        let t = "29-Feb-2023".parse::<Date>().unwrap_err();
        assert_eq!((t.position, t.byte), (Some(0), Some(b'2')));
        assert!("29-Feb-2024".parse::<Date>().is_ok());
    }

    #[test]
    fn rejections_name_the_position() {
        let ok = b"\"17-Jul-1996 02:44:25 -0700\"";
        assert!(DateTime::parse(ok, false).unwrap().0.is_empty());
        let e = error(b"17-Jul-1996 02:44:25 -0700");
        assert_eq!(e.offset, 0);
        let e = error(b"\"17-Jul-96 02:44:25 -0700\"");
        assert_eq!((e.offset, e.expected), (10, "four-digit year"));
        let e = error(b"\"17-Jul-1996 24:00:00 -0700\"");
        assert_eq!((e.offset, e.kind), (13, ErrorKind::NumberOutOfRange));
        let e = error(b"\"17-Jul-1996 02:60:25 -0700\"");
        assert_eq!(e.offset, 16);
        let (rest, leap) = DateTime::parse(b"\"31-Dec-2016 23:59:60 +0000\"", false).unwrap();
        assert!(rest.is_empty());
        assert_eq!(leap.to_string(), "31-Dec-2016 23:59:60 +0000");
        let e = error(b"\"17-Jul-1996 02:44:61 -0700\"");
        assert_eq!(e.offset, 19);
        let e = error(b"\"17-Jul-1996 02:44:25 0700\"");
        assert_eq!(e.offset, 22);
        let e = error(b"\"17-Jul-1996 02:44:25 -0760\"");
        assert_eq!((e.offset, e.kind), (22, ErrorKind::NumberOutOfRange));
        let e = error(b"\"17-Jul-1996 02:44:25 -070\"");
        assert_eq!(e.offset, 26);
        let e = error(b"\"17-Jul-1996 02:44:25 -0700");
        assert_eq!((e.offset, e.found), (27, None));
        let e = error(b"\"17-Jul-1996 2:44:25 -0700\"");
        assert_eq!(e.offset, 14);
        let t = "\"17-Jul-1996 02:44:25 -0700\" ".parse::<DateTime>().unwrap_err();
        assert_eq!(t.position, Some(28));
        assert!(DateTime::new(Date::new(2000, 1, 1).unwrap(), 24, 0, 0, 0).is_err());
        assert!(DateTime::new(Date::new(2000, 1, 1).unwrap(), 0, 0, 0, 6000).is_err());
    }

    #[test]
    fn zones() {
        let d = date_time("\"01-Jan-2000 00:00:00 -0000\"");
        assert_eq!(encoded(&d), "\" 1-Jan-2000 00:00:00 +0000\"");
        let d = date_time("\"01-Jan-2000 00:00:00 +9959\"");
        assert_eq!(d.zone_minutes(), MAX_ZONE);
        let d = date_time("\"01-Jan-2000 00:00:00 -0530\"");
        assert_eq!(
            (d.zone_minutes(), encoded(&d).as_str()),
            (-330, "\" 1-Jan-2000 00:00:00 -0530\"")
        );
        assert_eq!(d.unix_timestamp(), 946_684_800 + 330 * 60);
    }

    #[test]
    fn unix_time() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(
            Date::from_days_since_epoch(-1),
            Some(Date::new(1969, 12, 31).unwrap())
        );
        assert_eq!(
            Date::from_days_since_epoch(Date::new(0, 1, 1).unwrap().days_since_epoch() - 1),
            None
        );
        assert_eq!(
            Date::from_days_since_epoch(Date::new(9999, 12, 31).unwrap().days_since_epoch() + 1),
            None
        );
        assert_eq!(Date::from_days_since_epoch(i64::MAX), None);
        let d = DateTime::from_unix_timestamp(837_596_665, -420).unwrap();
        assert_eq!(d, date_time("\"17-Jul-1996 02:44:25 -0700\""));
        assert!(DateTime::from_unix_timestamp(i64::MAX, 0).is_err());
        assert!(DateTime::from_unix_timestamp(0, i16::MIN).is_err());
    }

    fn date() -> impl Strategy<Value = Date> {
        (0u16..=9999, 1u8..=12, 1u8..=31)
            .prop_map(|(y, m, d)| Date::new(y, m, d.min(Date::days_in_month(y, m))).unwrap())
    }

    fn date_times() -> impl Strategy<Value = DateTime> {
        (date(), 0u8..24, 0u8..60, 0u8..=60, -MAX_ZONE..=MAX_ZONE)
            .prop_map(|(date, h, m, s, z)| DateTime::new(date, h, m, s, z).unwrap())
    }

    #[test]
    fn common_form_edges() {
        let accepted = [
            "\"29-Feb-2024 23:59:60 +9959\"",
            "\"31-dec-0000 00:00:00 -0000\"",
            "\"01-JAN-9999 12:30:45 -1230\"",
        ];
        let refused = [
            "\"29-Feb-2025 10:00:00 +0000\"",
            "\"31-Apr-2025 10:00:00 +0000\"",
            "\"00-Jan-2025 10:00:00 +0000\"",
            "\"10-Jan-2025 24:00:00 +0000\"",
            "\"10-Jan-2025 10:60:00 +0000\"",
            "\"10-Jan-2025 10:00:61 +0000\"",
            "\"10-Jan-2025 10:00:00 +0060\"",
            "\"10-Jan-2025 10:00:00 0100\" ",
            "\"10-Jun-2025 10:00:00 *0100\"",
            "\"10-Jux-2025 10:00:00 +0100\"",
            "\" 1-Jan-2025 10:00:00 +0100\"",
            "\"10-Jan-2025 10:00:00 +0100",
        ];
        for text in accepted {
            let common = DateTime::parse_common(text.as_bytes());
            assert!(common.is_some(), "{text}");
            assert_eq!(
                Ok(common.unwrap()),
                DateTime::parse_any(text.as_bytes(), false),
                "{text}"
            );
        }
        for text in refused {
            assert_eq!(DateTime::parse_common(text.as_bytes()), None, "{text}");
        }
        // What the fast path leaves is still read, or refused, in full.
        let (_, padded) = DateTime::parse(b"\" 1-Jan-2025 10:00:00 +0100\"", false).unwrap();
        assert_eq!(padded.date().day(), 1);
        assert_eq!(error(b"\"31-Apr-2025 10:00:00 +0000\"").offset, 1);
    }

    proptest! {
        #[test]
        fn date_time_round_trip(d in date_times()) {
            let text = encoded(&d);
            prop_assert_eq!(text.len(), 28);
            let (rest, back) = DateTime::parse(text.as_bytes(), false).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, d);
        }

        /// The fixed-position reading of the common form agrees with the
        /// general parser wherever it answers, and answers for every
        /// two-digit-day value the encoder writes.
        #[test]
        fn common_form_agrees_with_the_general_parser(
            d in date_times(),
            edits in proptest::collection::vec((0usize..28, any::<u8>()), 0..3),
        ) {
            let mut text = encoded(&d).into_bytes();
            if d.date().day() >= 10 {
                prop_assert!(DateTime::parse_common(&text).is_some());
            }
            for (at, byte) in edits {
                text[at] = if byte % 2 == 0 { b"0123456789 -:+\"aZ"[usize::from(byte) % 17] } else { byte };
            }
            text.extend_from_slice(b" x");
            if let Some(common) = DateTime::parse_common(&text) {
                prop_assert_eq!(Ok(common), DateTime::parse_any(&text, false));
            }
        }

        #[test]
        fn date_round_trip(d in date()) {
            let mut out = Vec::new();
            d.encode(&mut out);
            prop_assert_eq!(Date::parse(&out).unwrap(), (&b""[..], d));
            prop_assert_eq!(Date::from_days_since_epoch(d.days_since_epoch()), Some(d));
            prop_assert_eq!(d.to_string().parse::<Date>().unwrap(), d);
        }

        #[test]
        fn unix_time_round_trip(d in date_times()) {
            prop_assume!(d.second() < 60);
            let back = DateTime::from_unix_timestamp(d.unix_timestamp(), d.zone_minutes()).unwrap();
            prop_assert_eq!(back, d);
        }

        #[test]
        fn days_are_consecutive(days in -719_528i64..2_932_896) {
            let a = Date::from_days_since_epoch(days).unwrap();
            prop_assert_eq!(a.days_since_epoch(), days);
            let b = Date::from_days_since_epoch(days + 1).unwrap();
            prop_assert!(a < b);
        }
    }
}
