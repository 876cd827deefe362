//! The stack checker and interpolator on arbitrary text: they must return a verdict, never panic,
//! and never report a line outside the input.
#![no_main]

use clubhost_stack::{self as stack, Limits, Vars};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut vars = Vars::new();
    vars.set("SECRET", "hunter2", true);
    let report = stack::check(text, &vars, &Limits::default());
    // Lines as YAML counts them: LF, CRLF and a lone CR each end one (`str::lines` knows only the
    // first two; the first run of this target stopped on a file with lone CRs).
    let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count() as u64;
    for v in &report.violations {
        assert!(v.line <= lines, "line {} of {lines}", v.line);
    }
    let _ = stack::interpolate(text, &vars);
});
