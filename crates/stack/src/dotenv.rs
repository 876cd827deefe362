//! Compose's `.env` syntax, for `env_file:`: `KEY=value` lines, `#` comments, an optional
//! `export `, single quotes (literal), double quotes (escapes, several lines) and `${VAR}`
//! interpolation from the keys above in the same file, then the project's variables. Pure: the
//! caller reads the file.

use super::interpolate::{Vars, interpolate};

/// The `KEY=value` pairs of an env file, in file order (a later key replaces an earlier one).
/// An error is the 1-based line and what is wrong there.
pub(crate) fn parse(text: &str, vars: &Vars) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut scope = vars.clone();
    let mut out: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, raw)) = line.split_once('=') else {
            // `KEY` alone takes the value from the environment Compose runs in: there is none.
            let key = line.trim();
            if !valid_key(key) {
                return Err((number, format!("{key:?} is not `KEY=value`")));
            }
            continue;
        };
        let key = key.trim();
        if !valid_key(key) {
            return Err((number, format!("{key:?} is not a valid variable name")));
        }
        let raw = raw.trim_start();
        let value = if let Some(body) = raw.strip_prefix('\'') {
            let (body, after) = quoted(body, '\'', &lines, &mut i)
                .ok_or((number, format!("{key}: the single quote is never closed")))?;
            trailing(after).map_err(|m| (number, format!("{key}: {m}")))?;
            body
        } else if let Some(body) = raw.strip_prefix('"') {
            let (body, after) = quoted(body, '"', &lines, &mut i)
                .ok_or((number, format!("{key}: the double quote is never closed")))?;
            trailing(after).map_err(|m| (number, format!("{key}: {m}")))?;
            let unescaped = unescape(&body);
            interpolate(&unescaped, &scope)
                .map_err(|m| (number, format!("{key}: {m}")))?
                .text
        } else {
            // An unquoted value ends at ` #` (a comment) and loses trailing blanks.
            let v = match raw.find(" #").or_else(|| raw.find("\t#")) {
                Some(at) => &raw[..at],
                None => raw,
            };
            interpolate(v.trim_end(), &scope)
                .map_err(|m| (number, format!("{key}: {m}")))?
                .text
        };
        scope.set(key, &value, false);
        out.retain(|(k, _)| k != key);
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// Compose accepts letters, digits, `_`, `.` and `-`, not starting with a digit.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.as_bytes()[0].is_ascii_digit()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The text up to the closing `quote` (not escaped by `\` in double quotes), continuing on the
/// following lines (advancing `next`); and what follows the quote on its line.
fn quoted<'t>(
    first: &'t str,
    quote: char,
    lines: &[&'t str],
    next: &mut usize,
) -> Option<(String, &'t str)> {
    let mut body = String::new();
    let mut line = first;
    loop {
        let mut escaped = false;
        for (at, ch) in line.char_indices() {
            if ch == quote && !escaped {
                body.push_str(&line[..at]);
                return Some((body, &line[at + 1..]));
            }
            escaped = quote == '"' && ch == '\\' && !escaped;
        }
        body.push_str(line);
        body.push('\n');
        line = lines.get(*next)?;
        *next += 1;
    }
}

/// After a closing quote only blanks and a comment may follow.
fn trailing(after: &str) -> Result<(), String> {
    let after = after.trim();
    if after.is_empty() || after.starts_with('#') {
        Ok(())
    } else {
        Err(format!("{after:?} after the closing quote"))
    }
}

/// Double-quote escapes; `\$` stays a literal `$` through interpolation (as `$$`).
fn unescape(body: &str) -> String {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('$') => out.push_str("$$"),
            Some(other @ ('"' | '\\')) => out.push(other),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> Vec<(String, String)> {
        let mut vars = Vars::new();
        vars.set("DOMAIN", "club.example", false);
        parse(text, &vars).unwrap()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn comments_export_quotes_and_interpolation() {
        let got = env(concat!(
            "# a comment\n",
            "\n",
            "PLAIN=hello world  # trailing comment\n",
            "export EXPORTED=yes\n",
            "SINGLE='no $DOMAIN # here'\n",
            "DOUBLE=\"line1\\nline2 ${DOMAIN} \\$HOME\"\n",
            "URL=https://${DOMAIN}/x#frag\n",
            "REF=${PLAIN}!\n",
            "MULTI=\"a\n",
            "b\"\n",
            "EMPTY=\n",
            "DEFAULT=${MISSING:-fallback}\n",
            "PLAIN=again\n",
        ));
        assert_eq!(
            got,
            vec![
                pair("EXPORTED", "yes"),
                pair("SINGLE", "no $DOMAIN # here"),
                pair("DOUBLE", "line1\nline2 club.example $HOME"),
                pair("URL", "https://club.example/x#frag"),
                pair("REF", "hello world!"),
                pair("MULTI", "a\nb"),
                pair("EMPTY", ""),
                pair("DEFAULT", "fallback"),
                pair("PLAIN", "again"),
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let vars = Vars::new();
        assert_eq!(parse("A=1\nB='open\n", &vars).unwrap_err().0, 2);
        assert_eq!(parse("A=1\n\n1BAD=x\n", &vars).unwrap_err().0, 3);
        assert_eq!(parse("A=\"x\" y\n", &vars).unwrap_err().0, 1);
        assert!(
            parse("A=${B\n", &vars)
                .unwrap_err()
                .1
                .contains("never closed")
        );
    }
}
