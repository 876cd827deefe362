//! ARCHITECTURE.md's rules, checked: which crate may depend on what (so "only the registry writes
//! SQL" and "the proxy never talks to Docker" stay compile errors), and no module cycles inside any
//! crate. Reads the workspace's own Cargo.toml and source files; nothing runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The names in one `[dependencies]`-like table of a Cargo.toml.
fn deps(manifest: &Path, table: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    doc.get(table)
        .and_then(|t| t.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

fn crate_deps(name: &str) -> BTreeSet<String> {
    deps(
        &root().join("crates").join(name).join("Cargo.toml"),
        "dependencies",
    )
}

#[test]
fn each_crate_depends_only_on_what_its_rules_allow() {
    let crates = [
        "stack", "proxy", "registry", "docker", "deploy", "core", "source",
    ];
    for name in crates {
        let d = crate_deps(name);
        // Only the registry writes SQL; only the docker crate speaks to the engine.
        assert_eq!(
            d.contains("sqlx"),
            name == "registry",
            "{name}: only clubhost-registry may depend on sqlx"
        );
        assert_eq!(
            d.contains("bollard"),
            name == "docker",
            "{name}: only clubhost-docker may depend on bollard"
        );
    }
    // The checker is pure: no runtime, no sockets, no other clubhost crate.
    let stack = crate_deps("stack");
    for banned in ["tokio", "hyper", "axum", "reqwest"] {
        assert!(
            !stack.contains(banned),
            "clubhost-stack depends on {banned}"
        );
    }
    assert!(stack.iter().all(|d| !d.starts_with("clubhost")));
    // The proxy reads a route table and nothing else: no registry, no Docker, no portal framework.
    let proxy = crate_deps("proxy");
    assert!(
        proxy
            .iter()
            .all(|d| !d.starts_with("clubhost") && d != "axum"),
        "clubhost-proxy depends on {proxy:?}"
    );
    // The deployer returns results; control records them and publishes routes.
    let deploy = crate_deps("deploy");
    assert!(!deploy.contains("clubhost-registry") && !deploy.contains("clubhost-proxy"));
    // Project files are plain file work and the git child: no registry, no Docker, no runtime.
    let source = crate_deps("source");
    assert_eq!(
        source
            .iter()
            .filter(|d| d.starts_with("clubhost"))
            .collect::<Vec<_>>(),
        ["clubhost-stack"]
    );
    for banned in ["tokio", "hyper", "axum", "reqwest"] {
        assert!(
            !source.contains(banned),
            "clubhost-source depends on {banned}"
        );
    }
    // The control plane serves no HTTP itself: the faces do.
    assert!(
        !crate_deps("core").contains("axum"),
        "clubhost-core depends on axum"
    );
    // The registry knows nothing of Docker, the deployer, routes or the control plane.
    let registry = crate_deps("registry");
    assert_eq!(
        registry
            .iter()
            .filter(|d| d.starts_with("clubhost"))
            .collect::<Vec<_>>(),
        ["clubhost-stack"]
    );
    // The binary reaches the registry and Docker only through clubhost-core's Control (its tests
    // may open them, as outside actors).
    let binary = deps(&root().join("Cargo.toml"), "dependencies");
    for inner in ["clubhost-registry", "clubhost-docker", "clubhost-deploy"] {
        assert!(!binary.contains(inner), "the binary depends on {inner}");
    }
}

/// One source file: its module path (`["portal", "admin"]`) and text.
struct Source {
    path: Vec<String>,
    text: String,
}

fn sources(src: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut path: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                path.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                path.pop();
            }
            // Comments may name a module without using it.
            let text: String = std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            // Test modules may reach anywhere.
            let text = match text.find("#[cfg(test)]\nmod tests") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.push(Source { path, text });
        }
    }
    out
}

/// The first path segment of each item in a `use` list or path after `prefix::`:
/// `{a, b::{c, d}}` → a, b; `a::b` → a.
fn first_segments(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut items = vec![String::new()];
        for ch in inner.chars() {
            match ch {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(String::new());
                    continue;
                }
                _ => {}
            }
            items.last_mut().unwrap().push(ch);
        }
        return items
            .iter()
            .filter_map(|i| ident(i.trim()))
            .filter(|i| i != "self")
            .collect();
    }
    ident(rest).into_iter().collect()
}

fn ident(text: &str) -> Option<String> {
    let id: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Every edge between sibling modules: (parent path, from, to).
fn sibling_edges(files: &[Source]) -> BTreeSet<(Vec<String>, String, String)> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.path.clone()).collect();
    let mut edges = BTreeSet::new();
    for f in files {
        // Every reference as an absolute module path.
        let mut targets: Vec<Vec<String>> = Vec::new();
        for (i, _) in f.text.match_indices("crate::") {
            for seg in first_segments(&f.text[i + 7..]) {
                targets.push(vec![seg]);
            }
            // Deeper paths: crate::a::b::c
            let tail: String = f.text[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let parts: Vec<String> = tail
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if parts.len() > 1 {
                targets.push(parts);
            }
        }
        for (i, _) in f.text.match_indices("super::") {
            if f.path.is_empty() || f.text[..i].ends_with("super::") {
                continue;
            }
            let parent = &f.path[..f.path.len() - 1];
            for seg in first_segments(&f.text[i + 7..]) {
                let mut t = parent.to_vec();
                t.push(seg);
                targets.push(t);
            }
        }
        for t in targets {
            // The longest prefix of t that is a module.
            let Some(target) = (1..=t.len())
                .rev()
                .map(|n| t[..n].to_vec())
                .find(|p| modules.contains(p))
            else {
                continue;
            };
            let common = f
                .path
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common < f.path.len() && common < target.len() {
                edges.insert((
                    f.path[..common].to_vec(),
                    f.path[common].clone(),
                    target[common].clone(),
                ));
            }
        }
    }
    edges
}

/// A cycle among the siblings of one parent, as a path, if there is one.
fn find_cycle(edges: &BTreeSet<(Vec<String>, String, String)>) -> Option<String> {
    let mut by_parent: BTreeMap<&Vec<String>, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for (parent, from, to) in edges {
        by_parent
            .entry(parent)
            .or_default()
            .entry(from)
            .or_default()
            .push(to);
    }
    for (parent, graph) in by_parent {
        // Depth-first search with colours: 1 = on the current path, 2 = done.
        fn visit<'a>(
            n: &'a str,
            g: &BTreeMap<&'a str, Vec<&'a str>>,
            colour: &mut BTreeMap<&'a str, u8>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<&'a str>> {
            colour.insert(n, 1);
            path.push(n);
            for &m in g.get(n).into_iter().flatten() {
                match colour.get(m) {
                    Some(1) => {
                        let start = path.iter().position(|x| *x == m).unwrap();
                        let mut cycle = path[start..].to_vec();
                        cycle.push(m);
                        return Some(cycle);
                    }
                    Some(_) => {}
                    None => {
                        if let Some(c) = visit(m, g, colour, path) {
                            return Some(c);
                        }
                    }
                }
            }
            path.pop();
            colour.insert(n, 2);
            None
        }
        let mut colour = BTreeMap::new();
        for &n in graph.keys() {
            if !colour.contains_key(n)
                && let Some(c) = visit(n, &graph, &mut colour, &mut Vec::new())
            {
                return Some(format!("in {}: {}", parent.join("::"), c.join(" -> ")));
            }
        }
    }
    None
}

#[test]
fn no_module_cycles_in_any_crate() {
    let mut dirs = vec![root().join("src")];
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        dirs.push(entry.unwrap().path().join("src"));
    }
    let mut seen = 0;
    for src in dirs {
        let edges = sibling_edges(&sources(&src));
        seen += edges.len();
        if let Some(cycle) = find_cycle(&edges) {
            panic!("{}: module cycle {cycle}", src.display());
        }
    }
    // The portal alone has dozens of edges between its modules; far fewer means the reader broke.
    assert!(
        seen > 50,
        "the checker found only {seen} references between modules"
    );
}

#[test]
fn the_cycle_check_finds_a_planted_cycle() {
    let files = vec![
        Source {
            path: vec!["a".into()],
            text: "use super::b::Thing;".into(),
        },
        Source {
            path: vec!["b".into()],
            text: "use crate::{a::Other, c};".into(),
        },
        Source {
            path: vec!["c".into()],
            text: String::new(),
        },
    ];
    let cycle = find_cycle(&sibling_edges(&files)).expect("a <-> b is a cycle");
    assert!(
        cycle.contains("a -> b -> a") || cycle.contains("b -> a -> b"),
        "{cycle}"
    );
}
