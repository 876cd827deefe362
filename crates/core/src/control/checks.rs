//! What clubhost checks about a submission before anything is stored: the slug (format and
//! reserved names), the stack file's size, and project variable names. Plain functions over plain
//! data, shared by submit, resubmit, the portal's live checks and the CLI.

use super::{ControlError, Result};
use clubhost_stack as stack;

/// The largest stack file a project may submit. Real compose files are a few KiB; the cap keeps
/// one member from filling the registry and the admins' review queue with megabytes per request.
pub const MAX_STACK_BYTES: usize = 64 * 1024;

/// Path segments that belong to clubhost itself; no project may take them.
pub const RESERVED_SLUGS: &[&str] = &[
    "portal",
    "api",
    "static",
    "assets",
    "admin",
    "health",
    "metrics",
    "login",
    "logout",
    "well-known",
    "favicon.ico",
    "robots.txt",
    "clubhost",
];

/// Slugs become URL segments and Docker names: lowercase letters, digits and inner dashes.
pub fn check_slug(slug: &str) -> Result<()> {
    let valid = (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !valid {
        return Err(ControlError::Invalid(format!(
            "slug {slug:?}: use 2-40 lowercase letters, digits and inner dashes (like `chat-invite`)"
        )));
    }
    if RESERVED_SLUGS.contains(&slug) {
        return Err(ControlError::Invalid(format!(
            "slug {slug:?} is reserved for clubhost itself; choose another"
        )));
    }
    Ok(())
}

/// Refuses a stack file over [`MAX_STACK_BYTES`] before it is parsed.
pub fn check_stack_size(source: &str) -> Result<()> {
    if source.len() > MAX_STACK_BYTES {
        return Err(ControlError::Invalid(format!(
            "stack: the file is {} KiB; a stack file may be at most {} KiB",
            source.len().div_ceil(1024),
            MAX_STACK_BYTES / 1024
        )));
    }
    Ok(())
}

/// Project variable names: letters, digits and `_`; `CLUBHOST_*` are clubhost's own.
pub(super) fn check_var_names(vars: &stack::Vars) -> Result<()> {
    for name in vars.0.keys() {
        if !stack::valid_var_name(name) || name.starts_with("CLUBHOST_") {
            return Err(ControlError::Invalid(format!(
                "vars: {name:?} is not a variable name a project may set (letters, digits and _, \
                 not starting with CLUBHOST_)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked() {
        assert!(check_slug("chat-invite").is_ok());
        for bad in [
            "a", "-x", "x-", "Blog", "a/b", "..", "portal", "ümlaut", "a b",
        ] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stack_files_have_a_size_cap() {
        assert!(check_stack_size(&"x".repeat(MAX_STACK_BYTES)).is_ok());
        let e = check_stack_size(&"x".repeat(MAX_STACK_BYTES + 1)).unwrap_err();
        assert!(e.to_string().contains("at most 64 KiB"), "{e}");
    }
}
