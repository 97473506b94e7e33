//! fuzz/README.md's report of the long runs adds up: its totals table
//! names every target of Cargo.toml once, and gives for each the longest
//! run and the sum of the executions of its rows in the runs table, and
//! whether that sum is past 10⁸; the totals are listed from the most
//! executions down. Every row of the runs table names a target and says
//! whether the build traced comparisons. (A unit test of the library:
//! an integration test would make `cargo test` build every fuzz target.)

use std::collections::BTreeMap;

const README: &str = include_str!("../README.md");
const MANIFEST: &str = include_str!("../Cargo.toml");

const RUNS_HEADER: &str = "| date | target | seconds | executions | coverage | trace-compares | found |";
const TOTALS_HEADER: &str = "| target | longest run (s) | executions in all | past 10⁸ |";

/// The rows of the table under `header`: their cells, trimmed.
fn table(header: &str) -> Vec<Vec<&'static str>> {
    let mut lines = README.lines().skip_while(|l| *l != header);
    assert_eq!(lines.next(), Some(header), "README.md has no table {header}");
    let separator = lines.next().expect("a separator line");
    assert!(separator.starts_with("| ---"), "{separator}");
    let columns = header.matches('|').count() - 1;
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), columns, "a row of {columns} cells: {l}");
            cells
        })
        .collect()
}

/// A count as the tables write it: `1,234,567`, or `about 900` where the
/// log no longer says; `None` for an empty cell.
fn number(cell: &str) -> Option<u64> {
    let digits = cell.strip_prefix("about ").unwrap_or(cell);
    if digits.is_empty() {
        return None;
    }
    let groups: Vec<&str> = digits.split(',').collect();
    let well_grouped = groups[0].len() <= 3
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()));
    assert!(well_grouped, "not a count with thousands separated: {cell:?}");
    Some(groups.concat().parse().expect("digits"))
}

/// `name` of a cell that reads `` `name` ``.
fn target(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or_else(|| panic!("not a target name in backquotes: {cell:?}"))
}

/// The fuzz targets, as Cargo.toml names them.
fn targets() -> Vec<&'static str> {
    MANIFEST
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|name| *name != "mailwire-fuzz")
        .collect()
}

#[test]
fn the_totals_are_the_sums_of_the_runs() {
    let targets = targets();
    assert!(targets.len() >= 19, "{targets:?}");
    // Per target: the longest run and the executions of all its runs.
    let mut sums: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let runs = table(RUNS_HEADER);
    assert!(!runs.is_empty());
    for row in &runs {
        let date = row[0].as_bytes();
        assert!(
            date.len() == 10 && date[4] == b'-' && date[7] == b'-',
            "not a date: {}",
            row[0]
        );
        let name = target(row[1]);
        assert!(targets.contains(&name), "no target {name}");
        assert!(
            matches!(row[5], "yes" | "no"),
            "trace-compares is yes or no: {row:?}"
        );
        let sum = sums.entry(name).or_default();
        sum.0 = sum.0.max(number(row[2]).unwrap_or(0));
        sum.1 += number(row[3]).unwrap_or(0);
    }

    let totals = table(TOTALS_HEADER);
    let named: Vec<&str> = totals.iter().map(|row| target(row[0])).collect();
    let mut sorted_names = named.clone();
    sorted_names.sort_unstable();
    let mut sorted_targets = targets.clone();
    sorted_targets.sort_unstable();
    assert_eq!(sorted_names, sorted_targets, "the totals name every target once");
    let mut previous = u64::MAX;
    for row in &totals {
        let name = target(row[0]);
        let (longest, executions) = sums.get(name).copied().unwrap_or_default();
        assert_eq!(number(row[1]), Some(longest), "longest run of {name}");
        assert_eq!(number(row[2]), Some(executions), "executions of {name}");
        let past = if executions >= 100_000_000 { "yes" } else { "no" };
        assert_eq!(row[3], past, "{name} past 10⁸");
        assert!(
            executions <= previous,
            "{name} listed below a target with fewer executions"
        );
        previous = executions;
    }
}

#[test]
fn counts_are_read_as_written() {
    assert_eq!(number("1,802,702,532"), Some(1_802_702_532));
    assert_eq!(number("about 900"), Some(900));
    assert_eq!(number("61"), Some(61));
    assert_eq!(number(""), None);
    for bad in ["1,80", "1234", ",123", "12.5", "about", "1,234 s"] {
        assert!(
            std::panic::catch_unwind(|| number(bad)).is_err(),
            "{bad:?} accepted"
        );
    }
}
