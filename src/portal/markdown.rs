//! The club's intro (`[club] intro`, Markdown) as HTML that is safe to put in a page: raw HTML in
//! the text is shown as text, never interpreted, and links or images may only point at http(s),
//! mailto or a relative address (no `javascript:`), so the intro cannot run script in a visitor's
//! browser even if the config file came from someone careless.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// `text` as HTML: CommonMark plus tables and strikethrough, raw HTML escaped, unsafe link
/// targets replaced by `#`.
pub fn to_safe_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(text, options).map(|event| match event {
        // Raw HTML, block or inline, becomes text: the writer escapes it.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The address if its scheme is http, https or mailto, or it has none (relative); else `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim_start().to_ascii_lowercase();
    // A scheme is what comes before the first ':' if no '/', '?' or '#' comes first.
    let scheme_end = lower.find(':');
    let path_start = lower.find(['/', '?', '#']);
    let has_scheme = match (scheme_end, path_start) {
        (Some(c), Some(p)) => c < p,
        (Some(_), None) => true,
        _ => false,
    };
    let allowed = !has_scheme
        || lower.starts_with("http:")
        || lower.starts_with("https:")
        || lower.starts_with("mailto:");
    if allowed { url } else { CowStr::from("#") }
}

#[cfg(test)]
mod tests {
    use super::to_safe_html;

    #[test]
    fn markdown_becomes_html() {
        let html = to_safe_html("# Hi\n\nWe *code* together. [Site](https://club.example/)");
        assert!(html.contains("<h1>Hi</h1>"), "{html}");
        assert!(html.contains("<em>code</em>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://club.example/">Site</a>"#),
            "{html}"
        );
    }

    #[test]
    fn raw_html_is_text_and_script_links_are_dropped() {
        let html = to_safe_html(
            "<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)> \
             [a](javascript:alert(1)) [b](JavaScript:x) ![c](data:text/html,x) [d](/join) \
             [e](mailto:club@example.org)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains(r#"href="/join""#), "{html}");
        assert!(html.contains(r#"href="mailto:club@example.org""#), "{html}");
    }
}
