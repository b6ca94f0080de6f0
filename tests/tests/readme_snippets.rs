//! Every Rust snippet of the README builds in a new crate whose dependencies are exactly the
//! ones the README lists (its `[dependencies]` blocks, lambda-perf-core in the path form
//! pointed at this checkout), as a newcomer would copy them.

mod support;

use support::standalone::{Standalone, workspace};
use toml::{Table, Value};

/// A fenced block of the README: its info string, first line number and text.
struct Block {
    info: String,
    line: usize,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_owned(),
                    line: n + 2,
                    text: String::new(),
                });
            }
            (Some(_), Some("")) => blocks.push(open.take().expect("an open block")),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block in the README");
    blocks
}

/// The union of the README's `[dependencies]` blocks; a dependency listed twice must be
/// listed the same way.
fn dependencies(blocks: &[Block]) -> Table {
    let mut all = Table::new();
    for block in blocks.iter().filter(|b| b.info == "toml") {
        let table: Table = block
            .text
            .parse()
            .unwrap_or_else(|error| panic!("README line {}: not TOML: {error}", block.line));
        let Some(Value::Table(dependencies)) = table.get("dependencies") else {
            continue;
        };
        for (name, spec) in dependencies {
            if let Some(earlier) = all.get(name) {
                assert_eq!(
                    earlier, spec,
                    "README line {}: {name} is listed twice, differently",
                    block.line
                );
            }
            all.insert(name.clone(), spec.clone());
        }
    }
    all
}

#[test]
fn every_readme_snippet_builds_with_the_dependencies_the_readme_lists() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let blocks = blocks(&readme);
    let dependencies = dependencies(&blocks);
    for needed in [
        "lambda-perf-core",
        "lambda_runtime",
        "tokio",
        "tower",
        "tracing",
    ] {
        assert!(
            dependencies.contains_key(needed),
            "the README lists no {needed}: {dependencies:#?}"
        );
    }
    let mut manifest = Table::new();
    let package: Table = toml::from_str(
        r#"name = "readme-snippets"
version = "0.1.0"
edition = "2024"
publish = false"#,
    )
    .unwrap();
    manifest.insert("package".into(), Value::Table(package));
    manifest.insert("dependencies".into(), Value::Table(dependencies));
    let copy = Standalone::new(&toml::to_string(&manifest).unwrap());

    let snippets: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.info.split(',').next() == Some("rust"))
        .collect();
    assert!(
        snippets.len() >= 3,
        "the README's Rust snippets went missing"
    );
    for snippet in &snippets {
        assert!(
            snippet.text.contains("fn main()"),
            "README line {}: a snippet to copy is a whole program",
            snippet.line
        );
        copy.write(
            &format!("src/bin/readme_line_{}.rs", snippet.line),
            &snippet.text,
        );
    }
    copy.cargo(&["build", "--bins"]);
}

#[test]
fn the_readme_gives_lambda_perf_core_in_a_form_that_builds_before_it_is_published() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let dependencies = dependencies(&blocks(&readme));
    let core = dependencies["lambda-perf-core"]
        .as_table()
        .unwrap_or_else(|| panic!("a registry version: {}", dependencies["lambda-perf-core"]));
    assert!(
        core.contains_key("path") || core.contains_key("git"),
        "{core}"
    );
    assert!(
        readme.contains("not on crates.io yet"),
        "the README says why it is not a version"
    );
}
