//! The core's layers import only downwards, and no two of its modules import each other in a
//! circle.
//!
//! Every `use` and every path written `crate::…`, `super::…` or `self::…` in `src/` is
//! resolved to the module (file) it names. Two rules are checked:
//!
//! 1. A module imports only from its own layer or the layers below it (the table in
//!    [`layer_of`], which is the one in `ARCHITECTURE.md`: formats, invocation, outputs, facades,
//!    faces).
//! 2. The import graph of files has no cycle. A `mod.rs` re-exporting its own children
//!    (`pub use self::child::Item`) is the module's front door, not a dependency, and is
//!    left out; any other use of a child by its parent counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The layer a module belongs to, by its first path segment; higher layers sit above.
fn layer_of(module: &[String]) -> Option<(u8, &'static str)> {
    let first = module.first().map_or("", String::as_str);
    Some(match first {
        "warn" | "drops" | "kept" | "first_and_latest" => (0, "support"),
        "formats" => (1, "formats"),
        "invocation" => (2, "invocation"),
        "outputs" | "config" => (3, "outputs and configuration"),
        "setup" => (4, "setup"),
        "metrics" | "xray" | "lazy" | "spawn" | "logs" => (5, "facades"),
        "layer" | "layer_tests" | "snapstart" | "__private" | "test_util" | "subscriber" => {
            (6, "faces")
        }
        "" => (7, "crate root"),
        _ => return None,
    })
}

type Module = Vec<String>;

/// Every source file of the crate, by the module it defines.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap();
            let mut module: Module = relative
                .with_extension("")
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            match module.last().map(String::as_str) {
                Some("mod") | Some("lib") => {
                    module.pop();
                }
                // lib.rs declares it `#[path = "private.rs"] pub mod __private`.
                Some("private") if module.len() == 1 => module = vec!["__private".to_owned()],
                _ => {}
            }
            found.insert(module, path);
        }
    }
    found
}

/// What one file's paths name, and whether each is a re-export.
struct Paths<'a> {
    /// The module the file defines.
    here: &'a Module,
    /// Inline modules (`mod tests { … }`) the visitor is inside.
    inline: Vec<String>,
    /// Each module a path names, and whether the path is a re-export.
    resolved: Vec<(Module, bool)>,
}

impl Paths<'_> {
    /// The module `segments` names, written in this file; `None` for other crates.
    fn resolve(&self, segments: &[String]) -> Option<Module> {
        let mut module: Module = Vec::new();
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => rest = &rest[1..],
            Some("self") => {
                module = self.here.iter().chain(&self.inline).cloned().collect();
                rest = &rest[1..];
            }
            Some("super") => {
                module = self.here.iter().chain(&self.inline).cloned().collect();
                while rest.first().map(String::as_str) == Some("super") {
                    module.pop();
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        module.extend(rest.iter().cloned());
        Some(module)
    }

    fn note(&mut self, segments: &[String], reexport: bool) {
        if let Some(module) = self.resolve(segments) {
            self.resolved.push((module, reexport));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, reexport: bool) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree, reexport);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                prefix.push(name.ident.to_string());
                self.note(prefix, reexport);
                prefix.pop();
            }
            syn::UseTree::Rename(rename) => {
                prefix.push(rename.ident.to_string());
                self.note(prefix, reexport);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.note(prefix, reexport),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree, reexport);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.inline.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.inline.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let reexport = !matches!(item.vis, syn::Visibility::Inherited);
        self.use_tree(&mut Vec::new(), &item.tree, reexport);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.note(&segments, false);
        }
        syn::visit::visit_path(self, path);
    }
}

/// The known module a path names: the longest known prefix of it.
fn owner<'m>(known: &'m BTreeMap<Module, PathBuf>, named: &Module) -> Option<&'m Module> {
    (0..=named.len()).rev().find_map(|length| {
        known
            .get_key_value(&named[..length])
            .map(|(module, _)| module)
    })
}

/// file -> the files it imports (re-exports of its own children left out).
fn import_graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules(src);
    let mut graph = BTreeMap::new();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        let syntax = syn::parse_file(&text)
            .unwrap_or_else(|error| panic!("{} does not parse: {error}", file.display()));
        let mut paths = Paths {
            here: module,
            inline: Vec::new(),
            resolved: Vec::new(),
        };
        paths.visit_file(&syntax);
        let imports: BTreeSet<Module> = paths
            .resolved
            .iter()
            .filter_map(|(named, reexport)| {
                let target = owner(&known, named)?;
                let own_child = target.len() > module.len() && target.starts_with(module);
                (target != module && !(*reexport && own_child)).then(|| target.clone())
            })
            .collect();
        graph.insert(module.clone(), imports);
    }
    graph
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn layers_import_only_downwards() {
    let graph = import_graph(&src());
    let mut upwards = Vec::new();
    for (module, imports) in &graph {
        let (layer, layer_name) = layer_of(module).unwrap_or_else(|| {
            panic!("module {} is in no layer: add it to layer_of", name(module))
        });
        for import in imports {
            let (target, target_name) = layer_of(import).unwrap();
            if target > layer {
                upwards.push(format!(
                    "{} ({layer_name}) imports {} ({target_name})",
                    name(module),
                    name(import)
                ));
            }
        }
    }
    assert!(
        upwards.is_empty(),
        "imports that run up a layer:\n{}",
        upwards.join("\n")
    );
}

#[test]
fn no_modules_import_each_other_in_a_circle() {
    let graph = import_graph(&src());
    // Depth-first search; a back edge closes a circle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
        circles: &mut Vec<String>,
    ) {
        marks.insert(module.clone(), Mark::Visiting);
        stack.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Visiting) => {
                    let start = stack.iter().position(|m| m == next).unwrap();
                    let mut circle: Vec<String> = stack[start..].iter().map(name).collect();
                    circle.push(name(next));
                    circles.push(circle.join(" -> "));
                }
                Some(Mark::Done) => {}
                None => visit(next, graph, marks, stack, circles),
            }
        }
        stack.pop();
        marks.insert(module.clone(), Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut circles = Vec::new();
    for module in graph.keys() {
        if !marks.contains_key(module) {
            visit(module, &graph, &mut marks, &mut Vec::new(), &mut circles);
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_check_sees_a_circle_and_an_upward_import() {
    // The same analysis on a small crate that has both faults.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("formats")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod formats; mod layer;").unwrap();
    std::fs::write(src.join("formats/mod.rs"), "mod a; mod b;").unwrap();
    std::fs::write(src.join("formats/a.rs"), "use super::b::B; pub struct A;").unwrap();
    std::fs::write(
        src.join("formats/b.rs"),
        "use super::a::A; pub struct B; fn f() { crate::layer::g() }",
    )
    .unwrap();
    std::fs::write(src.join("layer.rs"), "pub fn g() {}").unwrap();
    let graph = import_graph(src);
    let b = vec!["formats".to_owned(), "b".to_owned()];
    let a = vec!["formats".to_owned(), "a".to_owned()];
    assert!(
        graph[&a].contains(&b) && graph[&b].contains(&a),
        "{graph:?}"
    );
    assert!(graph[&b].contains(&vec!["layer".to_owned()]), "{graph:?}");
}
