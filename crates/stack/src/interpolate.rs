//! Compose variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}` and `$$` for a literal `$`,
//! filled from the project's own variables (never from clubhost's environment).
//!
//! Secret variables are substituted like the others; [`Vars::redact`] hides their values wherever
//! a stack is shown.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One project variable as the member set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Var {
    pub value: String,
    /// Secret values are never printed: logs, `stack check` and pages show a mask instead.
    #[serde(default)]
    pub secret: bool,
}

/// A project's variables, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Vars(pub BTreeMap<String, Var>);

/// What a secret value is replaced with wherever it would be shown.
pub const MASK: &str = "********";

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    /// Adds or replaces a variable.
    pub fn set(&mut self, name: &str, value: &str, secret: bool) {
        self.0.insert(
            name.to_string(),
            Var {
                value: value.to_string(),
                secret,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.value.as_str())
    }

    /// `text` with every secret value of at least [`MIN_MASKED`] characters replaced by
    /// [`MASK`]. For text that mixes values with other words (a rendered stack); where the
    /// interpolated values are known, [`mask`] with just those is more precise.
    pub fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = self
            .0
            .values()
            .filter(|v| v.secret)
            .map(|v| v.value.as_str())
            .collect();
        mask(text, &secrets)
    }

    /// The variables as they may be shown: secret values masked.
    pub fn masked(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| {
                let shown = if v.secret { MASK } else { v.value.as_str() };
                (k.clone(), shown.to_string())
            })
            .collect()
    }
}

/// Secret values shorter than this are never masked by substring: a one-letter secret would
/// turn every path and word containing that letter into stars, and hide nothing.
pub const MIN_MASKED: usize = 4;

/// `text` with each of `secrets` (at least [`MIN_MASKED`] characters) replaced by [`MASK`].
/// Longer secrets first, so a secret that contains another is hidden whole.
pub fn mask(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| s.chars().count() >= MIN_MASKED)
        .collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s, MASK);
    }
    out
}

/// Checks a variable name: letters, digits and `_`, not starting with a digit.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The result of interpolating one string.
#[derive(Debug, Default)]
pub struct Interpolated {
    pub text: String,
    /// Variables used without a value and without a default (Compose substitutes "").
    pub unset: Vec<String>,
    /// The values of secret variables this text received, to mask where it is shown.
    pub secrets: Vec<String>,
}

/// Interpolates one string. Errors are messages for the member (`${DB_PASSWORD:?...}` unset, a
/// `${` never closed, a bad name).
pub fn interpolate(text: &str, vars: &Vars) -> Result<Interpolated, String> {
    let mut out = Interpolated::default();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.text.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.text.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = closing_brace(r).ok_or_else(|| {
                format!("`${{` is never closed in {text:?} (write `$$` for a literal `$`)")
            })?;
            let expr = &r[..end];
            rest = &r[end + 1..];
            braced(expr, vars, &mut out)?;
        } else {
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let name = &rest[..len];
            if !valid_name(name) {
                // A lone `$` (e.g. `$ 5`, `price$`) is kept, as Compose does.
                out.text.push('$');
                continue;
            }
            rest = &rest[len..];
            match vars.get(name) {
                Some(v) => push_value(&mut out, vars, name, v),
                None => out.unset.push(name.to_string()),
            }
        }
    }
    out.text.push_str(rest);
    Ok(out)
}

/// Appends a variable's value, remembering it when it is secret.
fn push_value(out: &mut Interpolated, vars: &Vars, name: &str, value: &str) {
    out.text.push_str(value);
    if vars.0.get(name).is_some_and(|v| v.secret) && !value.is_empty() {
        out.secrets.push(value.to_string());
    }
}

/// Index of the `}` closing a `${`, allowing nested `${...}` inside defaults.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(expr: &str, vars: &Vars, out: &mut Interpolated) -> Result<(), String> {
    let len = expr
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let (name, op) = expr.split_at(len);
    if !valid_name(name) {
        return Err(format!(
            "`${{{expr}}}`: {name:?} is not a variable name (letters, digits and _)"
        ));
    }
    let value = vars.get(name);
    let (colon, op) = match op.strip_prefix(':') {
        Some(o) => (true, o),
        None => (false, op),
    };
    // With `:` an empty value counts as unset.
    let present = value.filter(|v| !(colon && v.is_empty()));
    let nested = |word: &str, out: &mut Interpolated| -> Result<(), String> {
        let inner = interpolate(word, vars)?;
        out.text.push_str(&inner.text);
        out.unset.extend(inner.unset);
        out.secrets.extend(inner.secrets);
        Ok(())
    };
    match op.chars().next() {
        None if !colon => match value {
            Some(v) => push_value(out, vars, name, v),
            None => out.unset.push(name.to_string()),
        },
        Some('-') => match present {
            Some(v) => push_value(out, vars, name, v),
            None => nested(&op[1..], out)?,
        },
        Some('+') => {
            if present.is_some() {
                nested(&op[1..], out)?;
            }
        }
        Some('?') => match present {
            Some(v) => push_value(out, vars, name, v),
            None => {
                let msg = op[1..].trim();
                let msg = if msg.is_empty() { "is required" } else { msg };
                return Err(format!("variable {name} is not set: {msg}"));
            }
        },
        _ => {
            return Err(format!(
                "`${{{expr}}}` is not a supported form (use ${{VAR}}, ${{VAR:-default}}, \
                 ${{VAR-default}}, ${{VAR:?message}} or $$ for a literal $)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.set("NAME", "club", false);
        v.set("EMPTY", "", false);
        v.set("PASS", "hunter22", true);
        v
    }

    fn run(text: &str) -> Result<String, String> {
        interpolate(text, &vars()).map(|i| i.text)
    }

    #[test]
    fn every_form() {
        assert_eq!(run("${NAME}").unwrap(), "club");
        assert_eq!(run("$NAME/x").unwrap(), "club/x");
        assert_eq!(run("${MISSING:-d}").unwrap(), "d");
        assert_eq!(run("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(run("${EMPTY-d}").unwrap(), "");
        assert_eq!(run("${MISSING-d}").unwrap(), "d");
        assert_eq!(run("${NAME:?need it}").unwrap(), "club");
        assert!(run("${MISSING:?need it}").unwrap_err().contains("need it"));
        assert!(run("${EMPTY:?}").is_err());
        assert_eq!(run("${EMPTY?x}").unwrap(), "");
        assert_eq!(run("${NAME:+yes}").unwrap(), "yes");
        assert_eq!(run("${MISSING:+yes}").unwrap(), "");
        assert_eq!(run("$$NAME costs $$5").unwrap(), "$NAME costs $5");
        assert_eq!(run("${MISSING:-${NAME}-x}").unwrap(), "club-x");
        assert_eq!(run("price $ 5").unwrap(), "price $ 5");
    }

    #[test]
    fn unset_without_default_is_reported_and_empty() {
        let i = interpolate("a${NOPE}b", &vars()).unwrap();
        assert_eq!(i.text, "ab");
        assert_eq!(i.unset, ["NOPE"]);
    }

    #[test]
    fn malformed_forms_are_errors() {
        assert!(run("${NAME").is_err());
        assert!(run("${}").is_err());
        assert!(run("${NAME/x/y}").is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let v = vars();
        assert_eq!(v.redact("pw=hunter22;"), format!("pw={MASK};"));
        assert_eq!(v.masked()["PASS"], MASK);
        assert_eq!(v.masked()["NAME"], "club");
        let i = interpolate("a=${PASS} b=$NAME", &v).unwrap();
        assert_eq!(i.secrets, ["hunter22"]);
        // Short secrets are never masked by substring: they would hide ordinary words.
        let mut short = Vars::new();
        short.set("P", "x", true);
        assert_eq!(short.redact("box index"), "box index");
    }
}
