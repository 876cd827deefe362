//! The stack checker and interpolator on arbitrary text: they must return a verdict, never panic,
//! and never report a line outside the input.
#![no_main]

use clubhost::stack::{self, Limits, Vars};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut vars = Vars::new();
    vars.set("SECRET", "hunter2", true);
    let report = stack::check(text, &vars, &Limits::default());
    let lines = text.lines().count() as u64 + 1;
    for v in &report.violations {
        assert!(v.line <= lines, "line {} of {lines}", v.line);
    }
    let _ = stack::interpolate(text, &vars);
});
