//! The portal's CSS palette meets WCAG 2.1 AA: every rule in `web/static/*.css` that sets a text
//! colour reaches 4.5:1 against its own background, or, without one, against the page (#fafafa)
//! and the cards (#fff); focus outlines reach 3:1 against the page (non-text contrast). A colour
//! added to the CSS later is checked the same way.

/// `#rgb` or `#rrggbb` as 0-255 channels.
fn hex(color: &str) -> Option<[f64; 3]> {
    let h = color.trim().strip_prefix('#')?;
    let h: String = match h.len() {
        3 => h.chars().flat_map(|c| [c, c]).collect(),
        6 => h.to_string(),
        _ => return None,
    };
    let channel = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok().map(f64::from);
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// WCAG relative luminance.
fn luminance([r, g, b]: [f64; 3]) -> f64 {
    let lin = |c: f64| {
        let c = c / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// (selector, declarations) of every rule, comments removed.
fn rules(css: &str) -> Vec<(String, String)> {
    let mut text = String::new();
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    text.push_str(rest);
    text.split('}')
        .filter_map(|rule| {
            let (selector, body) = rule.split_once('{')?;
            Some((selector.trim().to_string(), body.to_string()))
        })
        .collect()
}

/// The first hex colour of a declaration (`color`, `background`, `outline` …) in a rule.
fn declared(body: &str, property: &str) -> Option<[f64; 3]> {
    body.split(';').find_map(|d| {
        let (name, value) = d.split_once(':')?;
        if name.trim() != property {
            return None;
        }
        value.split_whitespace().find_map(hex)
    })
}

#[test]
fn the_css_palette_meets_wcag_aa() {
    let page = hex("#fafafa").unwrap();
    let card = hex("#ffffff").unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/static");
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "css") {
            continue;
        }
        let css = std::fs::read_to_string(&path).unwrap();
        for (selector, body) in rules(&css) {
            let background =
                declared(&body, "background").or_else(|| declared(&body, "background-color"));
            if let Some(fg) = declared(&body, "color") {
                let grounds = match background {
                    Some(bg) => vec![bg],
                    None => vec![page, card],
                };
                for bg in grounds {
                    checked += 1;
                    let c = contrast(fg, bg);
                    if c < 4.5 {
                        failures.push(format!("{}: `{selector}` text {c:.2}:1", path.display()));
                    }
                }
            }
            if let Some(ring) = declared(&body, "outline") {
                checked += 1;
                let c = contrast(ring, page);
                if c < 3.0 {
                    failures.push(format!("{}: `{selector}` outline {c:.2}:1", path.display()));
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} colour pairs found: is the CSS there?"
    );
    assert!(
        failures.is_empty(),
        "below WCAG AA:\n{}",
        failures.join("\n")
    );
}

#[test]
fn contrast_arithmetic_matches_wcag() {
    let black = hex("#000").unwrap();
    let white = hex("#fff").unwrap();
    assert!((contrast(black, white) - 21.0).abs() < 0.01);
    // #767676 on white is the classic 4.54:1 grey.
    assert!((contrast(hex("#767676").unwrap(), white) - 4.54).abs() < 0.01);
    assert_eq!(rules("a{color:#fff}/* x{color:#000} */b{}").len(), 2);
}
