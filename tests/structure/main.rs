//! The workspace's shape, checked: no module file over 400 lines of logic, no function over
//! 80, no import circle between the top-level modules of a crate, nothing below the harness's
//! command layer importing it, and no JSON or status strings inside the peer protocol.
//!
//! Lines of logic are non-blank lines that are not only comments, outside `#[cfg(test)]`
//! items and outside test files (`tests.rs`, `tests/` folders). A deliberate exception is
//! listed in [`ALLOWED`] with its reason; anything else found fails the test with its place.

mod scan;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest module file, in lines of logic.
const FILE_LIMIT: usize = 400;
/// Longest function, in lines of logic.
const FUNCTION_LIMIT: usize = 80;
/// The workspace's crates and their source roots, relative to the workspace root.
const CRATES: [(&str, &str); 3] = [
    ("overlay", "src"),
    ("overlay-node", "node/src"),
    ("overlay-harness", "harness/src"),
];
/// Deliberate exceptions: (`path` or `path::function`, why).
const ALLOWED: &[(&str, &str)] = &[];

/// One source file of a crate, stripped of comments, literals and test items.
struct Source {
    crate_name: &'static str,
    /// Path relative to the workspace root, with `/` separators.
    path: String,
    /// Module path inside the crate (`["query", "route"]`); empty for lib.rs / main.rs.
    module: Vec<String>,
    code: String,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sources() -> Vec<Source> {
    let root = workspace_root();
    let mut all = Vec::new();
    for (crate_name, dir) in CRATES {
        let mut files = Vec::new();
        collect_rs(&root.join(dir), &mut files);
        for file in files {
            let rel = file
                .strip_prefix(root.join(dir))
                .expect("under the crate root");
            if is_test_file(rel) {
                continue;
            }
            let text = fs::read_to_string(&file).expect("source readable");
            all.push(Source {
                crate_name,
                path: format!("{dir}/{}", rel.to_string_lossy().replace('\\', "/")),
                module: module_path(rel),
                code: scan::without_test_items(&scan::strip(&text)),
            });
        }
    }
    all
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("source folder readable")
        .map(|entry| entry.expect("folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn is_test_file(rel: &Path) -> bool {
    rel.file_name().is_some_and(|name| name == "tests.rs")
        || rel.parent().is_some_and(|parent| {
            parent
                .components()
                .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "benches")
        })
}

fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

fn allowed(place: &str) -> bool {
    ALLOWED.iter().any(|(what, _)| *what == place)
}

fn report(problems: &[String], what: &str) {
    assert!(
        problems.is_empty(),
        "{} {what}:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn no_module_file_is_over_the_limit() {
    let problems: Vec<String> = sources()
        .iter()
        .map(|source| (scan::logic_lines(&source.code), &source.path))
        .filter(|(lines, path)| *lines > FILE_LIMIT && !allowed(path))
        .map(|(lines, path)| format!("{path}: {lines} lines of logic (limit {FILE_LIMIT})"))
        .collect();
    report(&problems, "module file(s) too long; split them by job");
}

#[test]
fn no_function_is_over_the_limit() {
    let mut problems = Vec::new();
    for source in sources() {
        for function in scan::functions(&source.code) {
            let place = format!("{}::{}", source.path, function.name);
            if function.lines > FUNCTION_LIMIT && !allowed(&place) {
                problems.push(format!(
                    "{}:{} fn {}: {} lines of logic (limit {FUNCTION_LIMIT})",
                    source.path, function.line, function.name, function.lines
                ));
            }
        }
    }
    report(
        &problems,
        "function(s) too long; give each job its own function",
    );
}

#[test]
fn top_level_modules_import_each_other_without_a_circle() {
    let all = sources();
    let mut problems = Vec::new();
    for (crate_name, _) in CRATES {
        let mine: Vec<&Source> = all.iter().filter(|s| s.crate_name == crate_name).collect();
        let modules: BTreeSet<&str> = mine
            .iter()
            .filter_map(|s| s.module.first().map(String::as_str))
            .collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for source in &mine {
            let Some(me) = source.module.first() else {
                continue;
            };
            for named in scan::modules_named(&source.code, &source.module) {
                if modules.contains(named.as_str()) {
                    graph.entry(me.clone()).or_default().insert(named);
                }
            }
        }
        for circle in circles(&graph) {
            problems.push(format!("{crate_name}: {}", circle.join(" ↔ ")));
        }
    }
    report(&problems, "import circle(s) between top-level modules");
}

#[test]
fn only_the_binary_imports_the_harness_commands() {
    let problems: Vec<String> = sources()
        .iter()
        .filter(|s| s.crate_name == "overlay-harness")
        .filter(|s| !matches!(s.module.first().map(String::as_str), Some("commands")))
        .filter(|s| !(s.module.is_empty() || s.module == ["cli"]))
        .filter(|s| {
            scan::modules_named(&s.code, &s.module)
                .iter()
                .any(|m| m == "commands")
        })
        .map(|s| s.path.clone())
        .collect();
    report(
        &problems,
        "library file(s) import harness/src/commands, the top layer",
    );
}

#[test]
fn the_peer_protocol_carries_no_json_or_status_strings() {
    let proto = fs::read_to_string(workspace_root().join("proto/overlay.proto"))
        .expect("proto/overlay.proto readable");
    let proto = scan::strip(&proto);
    let messages = proto_messages(&proto);
    let mut todo = service_messages(&proto, "OverlayPeer");
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    while let Some(name) = todo.pop() {
        let Some(fields) = messages.get(&name) else {
            continue;
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        for (ty, field) in fields {
            let status_string =
                ty == "string" && matches!(field.as_str(), "status" | "error" | "state");
            if field.ends_with("_json") || status_string {
                problems.push(format!("{name}.{field} ({ty})"));
            }
            todo.push(ty.clone());
        }
    }
    report(
        &problems,
        "OverlayPeer field(s) carrying JSON or status strings",
    );
}

/// Each message of a proto file with its fields as (type, name), nested messages flattened.
fn proto_messages(proto: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut messages = BTreeMap::new();
    for (at, _) in proto.match_indices("message ") {
        let rest = &proto[at + "message ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(open) = rest.find('{') else { continue };
        let body = &rest[open + 1..scan::matching_brace(rest, open)];
        let fields = body
            .split(';')
            .filter_map(|decl| {
                let words: Vec<&str> = decl.split_whitespace().collect();
                let eq = words.iter().position(|w| *w == "=")?;
                (eq >= 2).then(|| (words[eq - 2].to_owned(), words[eq - 1].to_owned()))
            })
            .collect();
        messages.insert(name, fields);
    }
    messages
}

/// The request and response messages of a service's rpcs.
fn service_messages(proto: &str, service: &str) -> Vec<String> {
    let Some(at) = proto.find(&format!("service {service}")) else {
        return Vec::new();
    };
    let rest = &proto[at..];
    let open = rest.find('{').unwrap_or(0);
    let body = &rest[open..=scan::matching_brace(rest, open)];
    body.split(['(', ')'])
        .skip(1)
        .step_by(2)
        .map(|inside| {
            inside
                .trim()
                .trim_start_matches("stream ")
                .trim()
                .to_owned()
        })
        .collect()
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|&x| x == v).unwrap_or(0);
                let component: Vec<String> = self.stack.drain(at..).map(str::to_owned).collect();
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    for component in &mut walk.found {
        component.sort();
    }
    walk.found
}

#[test]
fn circles_are_found_and_chains_are_not() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry((*a).to_owned())
                .or_default()
                .insert((*b).to_owned());
        }
        g
    };
    assert!(circles(&graph(&[("a", "b"), ("b", "c")])).is_empty());
    assert_eq!(
        circles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
        [["a", "b", "c"]]
    );
}
