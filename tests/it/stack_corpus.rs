//! The stack checker against Compose files shaped like the ones people publish
//! (`tests/compose/*.yml`), and a bounded random test that the parser and interpolator never
//! panic. Pure: no Docker.
//!
//! Each corpus file starts with `# expect: ok` (loads with no violation) or
//! `# expect: policy <words>` (refused, only by the safety policy, with a reason containing
//! <words>). An optional second line `# vars: K=V K2=V2` gives the project variables.

use std::path::{Path, PathBuf};

use clubhost_stack::{self as stack, Limits, Vars, ViolationKind};

fn corpus() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose");
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_loads_or_is_refused_only_by_policy_with_the_right_reason() {
    let files = corpus();
    assert!(files.len() >= 20, "only {} corpus files", files.len());
    let mut refused = 0;
    for (path, text) in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: first line must be `# expect: ...`"));
        let mut vars = Vars::new();
        if let Some(list) = text.lines().nth(1).and_then(|l| l.strip_prefix("# vars: ")) {
            for kv in list.split_whitespace() {
                let (k, v) = kv.split_once('=').unwrap();
                vars.set(k, v, false);
            }
        }
        let report = stack::check(text, &vars, &Limits::default());
        if expect == "ok" {
            assert!(report.is_ok(), "{name}: {:#?}", report.violations);
            continue;
        }
        let reason = expect
            .strip_prefix("policy ")
            .unwrap_or_else(|| panic!("{name}: unknown expectation {expect:?}"));
        refused += 1;
        assert!(
            report.stack.is_none(),
            "{name}: refused file produced a stack"
        );
        assert!(!report.violations.is_empty(), "{name}: nothing refused");
        for v in &report.violations {
            assert_eq!(
                v.kind,
                ViolationKind::Policy,
                "{name}: not a policy refusal: {v}"
            );
            assert!(v.line > 0 && v.column > 0, "{name}: no position: {v}");
        }
        assert!(
            report.violations.iter().any(|v| v.message.contains(reason)),
            "{name}: no violation mentions {reason:?}: {:#?}",
            report.violations
        );
    }
    assert!(refused >= 5, "the corpus should exercise the policy");
}

/// xorshift64*: a tiny deterministic generator, so a failure is reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "$",
    "${",
    "}",
    "${A:-",
    "${A:?",
    "$$",
    ":",
    "-",
    " ",
    "\n",
    "  ",
    "\t",
    "&a",
    "*a",
    "<<:",
    "[",
    "]",
    "{",
    "}",
    "'",
    "\"",
    "#",
    "|",
    ">",
    "!!str",
    "? ",
    ",",
    "\u{e9}",
    "\u{1F600}",
    "0x",
    "~",
    "null",
    "true",
    "1e999",
    "-9223372036854775809",
    "services:",
    "image:",
    "volumes:",
];

fn mutate(rng: &mut Rng, base: &str) -> String {
    let mut text: Vec<char> = base.chars().collect();
    for _ in 0..1 + rng.below(6) {
        let at = if text.is_empty() {
            0
        } else {
            rng.below(text.len() + 1)
        };
        match rng.below(3) {
            0 => {
                let piece = PIECES[rng.below(PIECES.len())];
                text.splice(at..at, piece.chars());
            }
            1 if !text.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(text.len());
                text.drain(at.min(end)..end);
            }
            _ => {
                let c = char::from_u32(rng.below(0x80) as u32).unwrap_or('x');
                text.insert(at, c);
            }
        }
    }
    text.into_iter().collect()
}

/// Bounded: 3000 mutated corpus files and 3000 random interpolations, well under a second of
/// checking in a debug build. A panic anywhere fails the test.
#[test]
fn checker_and_interpolator_never_panic_on_mutated_input() {
    let files = corpus();
    let mut rng = Rng(0x5eed_c1b0_57ac_4b1d);
    let mut vars = Vars::new();
    vars.set("A", "x", false);
    vars.set("S", "secret-value", true);
    for i in 0..3000 {
        let base = &files[i % files.len()].1;
        let text = mutate(&mut rng, base);
        let report = stack::check(&text, &vars, &Limits::default());
        assert_eq!(
            report.stack.is_some(),
            report.violations.is_empty(),
            "stack and violations disagree for:\n{text}"
        );
        let lines = text.lines().count() as u64 + 1;
        for v in &report.violations {
            assert!(
                v.line <= lines,
                "line {} beyond the file ({lines}) in {v}",
                v.line
            );
            assert!(!v.message.contains("secret-value"), "secret leaked: {v}");
        }
    }
    for _ in 0..3000 {
        let len = rng.below(12);
        let s: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        if let Ok(out) = stack::interpolate(&s, &vars) {
            // `$$` is the only way to get a `$` from nothing, so a result never has more
            // dollars than the input.
            assert!(
                out.text.matches('$').count() <= s.matches('$').count(),
                "{s:?}"
            );
        }
    }
}
