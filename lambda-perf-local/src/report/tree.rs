//! Builds each invocation's subsegment tree from the X-Ray documents of its trace, and finds
//! the orphans (subsegments whose parent is unknown) and the traces no invocation had.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::model::Subsegment;
use super::xray::Doc;

/// A subsegment whose parent is unknown.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Orphan {
    pub(crate) datagram: usize,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) parent_id: Option<String>,
    /// Whether its parent is known but its chain of parents loops (it may be its own
    /// parent).
    pub(crate) in_cycle: bool,
}

/// Subsegments below one drawn at the last level the report draws
/// ([`Subsegment::MAX_DEPTH`]): counted, not drawn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TooDeep {
    /// The datagram of the subsegment at the last level.
    pub(crate) datagram: usize,
    pub(crate) id: String,
    pub(crate) name: String,
    /// How many subsegments below it are not drawn.
    pub(crate) hidden: usize,
}

/// The tree of one trace.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// The roots (children of the trace header's `Parent`), then the orphans.
    pub(crate) roots: Vec<Subsegment>,
    pub(crate) orphans: Vec<Orphan>,
    /// The subsegments not drawn for being nested too deep.
    pub(crate) too_deep: Vec<TooDeep>,
    /// The handler subsegment (the first root named `## …`, else the first root).
    pub(crate) handler: Option<Doc>,
}

/// The documents of one trace, deduplicated by id: a finished copy wins over an in-progress
/// one, a later over an earlier. Kept in arrival order.
#[derive(Debug, Default)]
struct TraceDocs {
    docs: Vec<Doc>,
    /// Where each id is in `docs`.
    by_id: HashMap<String, usize>,
}

/// The documents of every trace, by trace id.
#[derive(Debug, Default)]
pub(crate) struct TraceIndex {
    traces: BTreeMap<String, TraceDocs>,
    used: HashSet<String>,
}

impl TraceIndex {
    /// Adds a document.
    pub(crate) fn add(&mut self, doc: Doc) {
        let trace = self.traces.entry(doc.trace_id.clone()).or_default();
        match trace.by_id.get(&doc.id) {
            Some(&at) => {
                if doc.end.is_some() || trace.docs[at].end.is_none() {
                    trace.docs[at] = doc;
                }
            }
            None => {
                trace.by_id.insert(doc.id.clone(), trace.docs.len());
                trace.docs.push(doc);
            }
        }
    }

    /// The tree of trace `trace_id` under the segment `parent` (the trace header's
    /// `Parent`). Times are relative to the handler's start.
    pub(crate) fn tree(&mut self, trace_id: &str, parent: &str) -> Tree {
        self.used.insert(trace_id.to_owned());
        match self.traces.get(trace_id) {
            Some(trace) => build(&trace.docs, &trace.by_id, parent),
            None => Tree::default(),
        }
    }

    /// The traces no [`tree`](Self::tree) asked for, with their documents.
    pub(crate) fn unused(&self) -> impl Iterator<Item = (&String, &[Doc])> {
        self.traces
            .iter()
            .filter(|(trace, _)| !self.used.contains(*trace))
            .map(|(trace, docs)| (trace, docs.docs.as_slice()))
    }
}

/// The tree of `docs` (whose positions by id are `by_id`) under the segment `parent`. In
/// time that grows with the documents: each is looked at a bounded number of times.
fn build(docs: &[Doc], by_id: &HashMap<String, usize>, parent: &str) -> Tree {
    if docs.is_empty() {
        return Tree::default();
    }
    let position = |id: &str| by_id.get(id).copied();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    let mut orphans = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        match doc.parent_id.as_deref() {
            Some(p) if p == parent => roots.push(i),
            Some(p) => match position(p) {
                Some(up) if up != i => children.entry(up).or_default().push(i),
                _ => orphans.push(i),
            },
            None => orphans.push(i),
        }
    }
    let by_start = |a: &usize, b: &usize| docs[*a].start.total_cmp(&docs[*b].start);
    roots.sort_by(by_start);
    orphans.sort_by(by_start);
    for list in children.values_mut() {
        list.sort_by(by_start);
    }
    let handler = roots
        .iter()
        .copied()
        .find(|&i| docs[i].name.starts_with("## "))
        .or_else(|| roots.first().copied());
    let origin = handler.map_or_else(
        || docs.iter().map(|d| d.start).fold(f64::INFINITY, f64::min),
        |i| docs[i].start,
    );
    let builder = Builder {
        docs,
        children,
        origin,
    };
    let mut visited = vec![false; docs.len()];
    let mut tree = Tree {
        handler: handler.map(|i| docs[i].clone()),
        ..Tree::default()
    };
    for &i in &roots {
        let root = builder.node(i, false, 0, &mut visited, &mut tree.too_deep);
        tree.roots.push(root);
    }
    for &i in &orphans {
        // One that is its own parent is a loop of one.
        let own_parent = docs[i].parent_id.as_deref() == Some(docs[i].id.as_str());
        tree.orphans.push(Orphan::of(&docs[i], own_parent));
        let root = builder.node(i, true, 0, &mut visited, &mut tree.too_deep);
        tree.roots.push(root);
    }
    // What is still unreached hangs off a loop of parents: one member of each loop becomes
    // an orphan root, which breaks the loop. Going up from an unreached one reaches its
    // loop, and all it passed hangs off that member: each is passed once.
    for first in 0..docs.len() {
        if visited[first] {
            continue;
        }
        let mut at = first;
        let mut seen = HashSet::new();
        while seen.insert(at) {
            match docs[at].parent_id.as_deref().and_then(position) {
                Some(up) if !visited[up] => at = up,
                _ => break,
            }
        }
        tree.orphans.push(Orphan::of(&docs[at], true));
        let root = builder.node(at, true, 0, &mut visited, &mut tree.too_deep);
        tree.roots.push(root);
    }
    tree
}

struct Builder<'a> {
    docs: &'a [Doc],
    /// The positions of each document's children, by start, by the position of the parent.
    children: HashMap<usize, Vec<usize>>,
    origin: f64,
}

impl Orphan {
    fn of(doc: &Doc, in_cycle: bool) -> Self {
        Self {
            datagram: doc.datagram,
            id: doc.id.clone(),
            name: doc.name.clone(),
            parent_id: doc.parent_id.clone(),
            in_cycle,
        }
    }
}

impl Builder<'_> {
    /// The subsegment of document `i`, at `depth` (0 for a root), with its descendants not
    /// yet visited, to [`Subsegment::MAX_DEPTH`] levels: those below are marked visited and
    /// counted in `too_deep`.
    fn node(
        &self,
        i: usize,
        orphan: bool,
        depth: usize,
        visited: &mut [bool],
        too_deep: &mut Vec<TooDeep>,
    ) -> Subsegment {
        visited[i] = true;
        let doc = &self.docs[i];
        let relative = |t: f64| (t - self.origin) * 1000.0;
        let mut children = Vec::new();
        let child_indices = self.children.get(&i).map(Vec::as_slice).unwrap_or_default();
        if depth + 1 < Subsegment::MAX_DEPTH {
            for &child in child_indices {
                if !visited[child] {
                    children.push(self.node(child, false, depth + 1, visited, too_deep));
                }
            }
        } else {
            let hidden = self.hide(child_indices, visited);
            if hidden > 0 {
                too_deep.push(TooDeep {
                    datagram: doc.datagram,
                    id: doc.id.clone(),
                    name: doc.name.clone(),
                    hidden,
                });
            }
        }
        Subsegment {
            id: doc.id.clone(),
            name: doc.name.clone(),
            namespace: doc.namespace.clone(),
            start_ms: relative(doc.start),
            end_ms: doc.end.map(relative),
            fault: doc.fault,
            error: doc.error,
            throttle: doc.throttle,
            cause: doc.cause.clone(),
            annotations: doc.annotations.clone(),
            orphan,
            children,
        }
    }

    /// Marks `from` and their descendants not yet visited as visited, without drawing them
    /// (and without recursion: a chain may be as long as the trace); how many they were.
    fn hide(&self, from: &[usize], visited: &mut [bool]) -> usize {
        let mut stack: Vec<usize> = from.to_vec();
        let mut hidden = 0;
        while let Some(i) = stack.pop() {
            if visited[i] {
                continue;
            }
            visited[i] = true;
            hidden += 1;
            if let Some(below) = self.children.get(&i) {
                stack.extend(below.iter().copied().filter(|&child| !visited[child]));
            }
        }
        hidden
    }
}
