//! A seeded random run: mutated corpus files and random interpolations must get a verdict, never
//! a panic, never a line outside the input, never a secret in a message. Moved from the root
//! crate's `tests/it/stack_corpus.rs` with the crate, and extended to the keys issue 14 accepts.

use std::path::Path;

use clubhost_stack::{self as stack, Limits, Vars};

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
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
    "${S}",
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
    // Keys and values issue 14 accepts, so mutations reach their readers.
    "ports:",
    "\"8080:80\"",
    "53:53/udp",
    "[::1]:80:80",
    "target:",
    "/data",
    ":z",
    ":nocopy",
    "volumes_from:",
    "hostname:",
    "logging:",
    "driver: json-file",
    "options:",
    "max-size: 10m",
    "ulimits:",
    "nofile:",
    "soft:",
    "hard:",
    "shm_size:",
    "profiles:",
    "extends:",
    "service:",
    "healthcheck:",
    "disable: true",
    "start_interval: 1s",
    "init: false",
    "build: .",
    "env_file:",
    "./conf:/etc/conf",
    "secrets:",
    "file:",
    "include:",
    "x-clubhost:",
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

/// Bounded: 5000 mutated corpus files and 3000 random interpolations, a few seconds in a debug
/// build. A panic anywhere fails the test.
#[test]
fn checker_and_interpolator_never_panic_on_mutated_input() {
    let files = corpus();
    let mut rng = Rng(0x5eed_c1b0_57ac_4b1d);
    let mut vars = Vars::new();
    vars.set("A", "x", false);
    vars.set("S", "secret-value", true);
    vars.set("COMPOSE_PROFILES", "debug", false);
    for i in 0..5000 {
        let base = &files[i % files.len()];
        let text = mutate(&mut rng, base);
        let report = stack::check(&text, &vars, &Limits::default());
        assert_eq!(
            report.stack.is_some(),
            report.violations.is_empty(),
            "stack and violations disagree for:\n{text}"
        );
        let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count() as u64;
        for v in report
            .violations
            .iter()
            .chain(&report.warnings)
            .chain(&report.needs_files)
        {
            assert!(
                v.line <= lines,
                "line {} beyond the file ({lines}) in {v}",
                v.line
            );
            assert!(!v.message.contains("secret-value"), "secret leaked: {v}");
        }
        if let Some(s) = &report.stack {
            // The deployer relies on these: every mount names a declared volume, every
            // dependency a deployed service, the exposed service exists.
            assert!(s.service(&s.expose.service).is_some(), "{text}");
            // Volume names become Docker object names: always safe, whatever the file wrote.
            for v in &s.volumes {
                assert!(
                    !v.is_empty()
                        && v.len() <= 63
                        && v.bytes().all(|b| b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || b == b'-'
                            || b == b'_'),
                    "unsafe volume name {v:?} from:\n{text}"
                );
            }
            for svc in &s.services {
                for m in &svc.mounts {
                    assert!(s.volumes.contains(&m.volume), "{m:?} in:\n{text}");
                }
                for d in &svc.depends_on {
                    assert!(s.service(&d.service).is_some(), "{d:?} in:\n{text}");
                }
            }
        }
    }
    for _ in 0..3000 {
        let len = rng.below(12);
        let s: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        if let Ok(out) = stack::interpolate(&s, &vars) {
            // `$$` is the only way to get a `$` from nothing; variables here hold none, so a
            // result never has more dollars than the input.
            assert!(
                out.text.matches('$').count() <= s.matches('$').count(),
                "{s:?}"
            );
        }
    }
}
