//! Small text forms Compose uses: shell-like words for `command`, durations like `1m30s`.

use std::time::Duration;

/// Compose durations: `1m30s`, `10s`, `500ms`, `1h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// Compose's string form of `command`/`entrypoint` is split like a shell would, without running
/// one: whitespace separates words, quotes group them, a backslash escapes the next character.
pub(crate) fn split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(next) = chars.next() {
                    cur.push(next);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(ch);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_words_split_like_compose() {
        let w = super::split(r#"sh -c "echo a b" 'c d' e\ f"#);
        assert_eq!(w, ["sh", "-c", "echo a b", "c d", "e f"]);
    }
}
