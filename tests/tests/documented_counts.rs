//! Every cause lambda-perf-core counts a drop under (what a record's `lambda_perf.dropped`
//! can carry) is in the table of `docs/reliability.md`, "The counts", and the table names no
//! cause the code never counts: a reader of the data can look up every count it shows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The first part of every cause's name: what was dropped.
const AREAS: [&str; 8] = [
    "cache",
    "capture",
    "client_init",
    "emf",
    "logs",
    "metrics",
    "otel",
    "xray",
];

fn is_cause(text: &str) -> bool {
    text.split_once('.').is_some_and(|(area, name)| {
        AREAS.contains(&area)
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_owned()
}

/// The `.rs` files under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// `source` without its unit tests: up to a `#[cfg(test)]` module.
fn without_unit_tests(source: &str) -> &str {
    let mut searched = 0;
    while let Some(at) = source[searched..].find("#[cfg(test)]") {
        let start = searched + at;
        let next_line = source[start..]
            .lines()
            .nth(1)
            .unwrap_or_default()
            .trim_start();
        if next_line.starts_with("mod ") || next_line.contains(" mod ") {
            return &source[..start];
        }
        searched = start + 1;
    }
    source
}

/// The causes the crate's code counts: its string literals that name one, but for those it
/// compares a name with (`name == "xray.namespace"`, a `tracing` field), outside comments and
/// unit tests.
fn counted_causes() -> BTreeSet<String> {
    let mut causes = BTreeSet::new();
    let src = repository().join("lambda-perf-core/src");
    for file in sources(&src) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name == "tests.rs" || name.ends_with("_tests.rs") || name == "test_util.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        for line in without_unit_tests(&source).lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            let parts: Vec<&str> = line.split('"').collect();
            for (index, literal) in parts.iter().enumerate().skip(1).step_by(2) {
                let before = parts[index - 1].trim_end();
                if is_cause(literal) && !before.ends_with("==") {
                    causes.insert((*literal).to_owned());
                }
            }
        }
    }
    causes
}

/// The causes the table of "The counts" names, in the first column of its rows.
fn documented_causes() -> BTreeSet<String> {
    let page = std::fs::read_to_string(repository().join("docs/reliability.md")).unwrap();
    let section = page
        .split_once("\n## The counts\n")
        .expect("a section \"The counts\" in docs/reliability.md")
        .1;
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut causes = BTreeSet::new();
    for row in section.lines().filter(|line| line.starts_with("| `")) {
        let first_cell = row.split('|').nth(1).unwrap_or_default();
        for (index, text) in first_cell.split('`').enumerate() {
            if index % 2 == 1 && is_cause(text) {
                causes.insert(text.to_owned());
            }
        }
    }
    causes
}

#[test]
fn every_counted_cause_is_documented_and_every_documented_one_counted() {
    let counted = counted_causes();
    let documented = documented_causes();
    assert!(
        counted.len() > 50,
        "the causes were not found in the code: {counted:#?}"
    );
    let undocumented: Vec<&String> = counted.difference(&documented).collect();
    let never_counted: Vec<&String> = documented.difference(&counted).collect();
    assert!(
        undocumented.is_empty() && never_counted.is_empty(),
        "counted but not in docs/reliability.md's table: {undocumented:#?}\n\
         in the table but never counted: {never_counted:#?}"
    );
}
