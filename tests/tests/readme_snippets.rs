//! Every Rust snippet of the README builds in a new crate whose dependencies are exactly the
//! ones the README lists above it (its `[dependencies]` blocks down to the snippet,
//! lambda-perf-core in the path form pointed at this checkout), as a newcomer reading down
//! the page would copy them: the quick start with the quick start's block alone. And every
//! `lambda-perf run` or `tune` command of the READMEs gives the function its variables with
//! `--env`, where they reach it.

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

/// The dependencies of one `[dependencies]` block (none for other TOML blocks).
fn block_dependencies(block: &Block) -> Table {
    let table: Table = block
        .text
        .parse()
        .unwrap_or_else(|error| panic!("README line {}: not TOML: {error}", block.line));
    match table.get("dependencies") {
        Some(Value::Table(dependencies)) => dependencies.clone(),
        _ => Table::new(),
    }
}

/// Adds `more` to `all`; a dependency listed twice must be listed the same way.
fn add_dependencies(all: &mut Table, more: Table, line: usize) {
    for (name, spec) in more {
        if let Some(earlier) = all.get(&name) {
            assert_eq!(
                earlier, &spec,
                "README line {line}: {name} is listed twice, differently"
            );
        }
        all.insert(name, spec);
    }
}

/// The union of the README's `[dependencies]` blocks.
fn dependencies(blocks: &[Block]) -> Table {
    let mut all = Table::new();
    for block in blocks.iter().filter(|b| b.info == "toml") {
        add_dependencies(&mut all, block_dependencies(block), block.line);
    }
    all
}

/// The README's Rust snippets, each with the dependencies listed above it: what a reader
/// going down the page has added by the time they copy it. Snippets with the same
/// dependencies share a group.
fn snippets_with_their_dependencies(blocks: &[Block]) -> Vec<(Table, Vec<&Block>)> {
    let mut groups: Vec<(Table, Vec<&Block>)> = Vec::new();
    let mut listed = Table::new();
    for block in blocks {
        if block.info == "toml" {
            add_dependencies(&mut listed, block_dependencies(block), block.line);
        } else if block.info.split(',').next() == Some("rust") {
            match groups.last_mut() {
                Some((dependencies, snippets)) if *dependencies == listed => snippets.push(block),
                _ => groups.push((listed.clone(), vec![block])),
            }
        }
    }
    groups
}

/// A new crate whose dependencies are `dependencies`, with each snippet as a binary.
fn build_snippets(dependencies: &Table, snippets: &[&Block]) {
    let mut manifest = Table::new();
    let package: Table = toml::from_str(
        r#"name = "readme-snippets"
version = "0.1.0"
edition = "2024"
publish = false"#,
    )
    .unwrap();
    manifest.insert("package".into(), Value::Table(package));
    manifest.insert("dependencies".into(), Value::Table(dependencies.clone()));
    let copy = Standalone::new(&toml::to_string(&manifest).unwrap());
    for snippet in snippets {
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
fn every_readme_snippet_builds_with_the_dependencies_listed_above_it() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let blocks = blocks(&readme);
    let all = dependencies(&blocks);
    for needed in [
        "lambda-perf-core",
        "lambda_runtime",
        "tokio",
        "tower",
        "tracing",
        "tracing-subscriber",
    ] {
        assert!(
            all.contains_key(needed),
            "the README lists no {needed}: {all:#?}"
        );
    }
    let groups = snippets_with_their_dependencies(&blocks);
    let snippets: usize = groups.iter().map(|(_, snippets)| snippets.len()).sum();
    assert!(snippets >= 3, "the README's Rust snippets went missing");
    // The quick start comes with its own dependency block, the first of the page.
    let (quick_start, _) = &groups[0];
    assert!(
        quick_start.contains_key("lambda-perf-core") && !quick_start.contains_key("tower"),
        "the quick start builds with its own block: {quick_start:#?}"
    );
    for (dependencies, snippets) in &groups {
        build_snippets(dependencies, snippets);
    }
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

/// The shell commands of the README and of the examples' READMEs that run `lambda-perf
/// run` or `tune`, with the variables set in front of each (`VAR=value lambda-perf …`).
fn harness_commands_with_their_variables() -> Vec<(String, Vec<String>)> {
    let root = workspace();
    let mut readmes = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        readmes.push(entry.unwrap().path().join("README.md"));
    }
    let mut commands = Vec::new();
    for readme in readmes {
        let text = std::fs::read_to_string(&readme).unwrap();
        for block in blocks(&text).iter().filter(|b| b.info == "sh") {
            for line in block.text.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                let Some(at) = words
                    .windows(2)
                    .position(|w| w[0] == "lambda-perf" && matches!(w[1], "run" | "tune"))
                else {
                    continue;
                };
                let variables = words[..at]
                    .iter()
                    .filter_map(|word| word.split_once('=').map(|(name, _)| name.to_owned()))
                    .collect();
                commands.push((format!("{}: {line}", readme.display()), variables));
            }
        }
    }
    commands
}

/// `lambda-perf run` gives the function Lambda's environment, not the shell's: a variable
/// set in front of the command never reaches the function (but the few it passes on), so a
/// README that sets one there shows a run that does not do what it says. The function's
/// variables go with `--env`.
#[test]
fn the_readmes_give_the_functions_variables_to_lambda_perf_with_env() {
    let commands = harness_commands_with_their_variables();
    assert!(
        commands.len() >= 5,
        "the READMEs' lambda-perf commands went missing: {commands:#?}"
    );
    for (command, variables) in commands {
        for variable in variables {
            assert!(
                lambda_perf_local::emulator::INHERITED_VARS.contains(&variable.as_str()),
                "{command}\n{variable} set in front of lambda-perf does not reach the function: \
                 give it with --env {variable}=…"
            );
        }
    }
}

/// The Rust blocks of the examples' READMEs are excerpts of their crates (which the examples'
/// own builds and tests build as they are): each block's lines, indentation aside, are a run
/// of consecutive lines of the crate's `src/main.rs`, so an excerpt that drifts from its
/// crate, or one made up (`// ...` in place of a body), fails here.
#[test]
fn every_rust_block_of_an_examples_readme_is_an_excerpt_of_its_crate() {
    let mut excerpts = 0;
    for entry in std::fs::read_dir(workspace().join("examples")).unwrap() {
        let example = entry.unwrap().path();
        let readme = std::fs::read_to_string(example.join("README.md")).unwrap();
        let source = std::fs::read_to_string(example.join("src/main.rs")).unwrap();
        let source: Vec<&str> = source.lines().map(str::trim).collect();
        for block in blocks(&readme)
            .iter()
            .filter(|b| b.info.starts_with("rust"))
        {
            let lines: Vec<&str> = block.text.lines().map(str::trim).collect();
            assert!(
                source
                    .windows(lines.len())
                    .any(|window| window == lines.as_slice()),
                "{}/README.md line {}: not an excerpt of src/main.rs:\n{}",
                example.display(),
                block.line,
                block.text
            );
            excerpts += 1;
        }
    }
    assert!(excerpts >= 3, "the examples' excerpts went missing");
}
