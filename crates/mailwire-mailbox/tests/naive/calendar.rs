//! A calendar counted by hand, year by year and month by month: the
//! obviously right reference that the SEARCH tests and the
//! `mailbox_search` fuzz target hold the model's date arithmetic to.

/// Whether `y` is a leap year (Gregorian).
pub fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The calendar date (year, month, day) of a day counted from
/// 1970-01-01 (negative before it).
pub fn civil(mut days: i64) -> (i64, u32, u32) {
    let year_len = |y: i64| if leap(y) { 366 } else { 365 };
    let mut year = 1970;
    while days < 0 {
        year -= 1;
        days += year_len(year);
    }
    while days >= year_len(year) {
        days -= year_len(year);
        year += 1;
    }
    let lengths = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 1;
    for len in lengths {
        if days < len {
            break;
        }
        days -= len;
        month += 1;
    }
    (year, month, days as u32 + 1)
}
