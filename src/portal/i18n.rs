//! The portal's languages: English and Korean (the club this grew from writes in Korean).
//!
//! Strings live in Fluent catalogues, one file per language (`web/i18n/en.ftl`, `ko.ftl`), never in
//! templates: a page asks `nav.t("key")`. Fluent (Mozilla's, what Firefox ships with) is the
//! format translators know, and handles variables and plurals per language; its concurrent bundle
//! is built once and shared by every request. A key missing from a catalogue fails
//! `every_key_is_in_every_catalogue`; at run time it shows the key, never a blank.
//!
//! Which language a visitor gets: the `clubhost_lang` cookie the switch sets, else the first
//! language of `Accept-Language` the portal speaks, else `[club] language`. The stack checker's
//! messages stay English this round (they come from `clubhost-stack`, shared with the CLI).

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The cookie the language switch sets; a year, the whole site (the portal and its subdomain).
pub const LANG_COOKIE: &str = "clubhost_lang";

/// A language the portal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Korean.
    Ko,
}

impl Lang {
    /// Every language, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// The BCP 47 tag, for `<html lang>` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// The language's own name, as the switch shows it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ko => "한국어",
        }
    }

    /// `en`, `ko`, or a regional form of either (`ko-KR`, `en-GB`).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ko" => Some(Lang::Ko),
            _ => None,
        }
    }

    /// The visitor's language: the switch's cookie, else `Accept-Language` (by its q-values),
    /// else the club's default.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>, default: &str) -> Lang {
        if let Some(l) = cookie.and_then(Lang::from_tag) {
            return l;
        }
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // The first of equal weight wins, as the header lists preference first.
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
            .or_else(|| Lang::from_tag(default))
            .unwrap_or_default()
    }

    /// The string for `key` in this language.
    pub fn t(self, key: &str) -> String {
        self.format(key, None)
    }

    /// A project state's name (`running`, `changes_requested`) in this language; a state the
    /// catalogue lacks shows as it is stored.
    pub fn state(self, state: &str) -> String {
        self.named("state", state)
    }

    /// A stored word (a state, a role) in this language: the catalogue's `<prefix>-<word>`, or
    /// the word as stored when the catalogue lacks it.
    pub fn named(self, prefix: &str, word: &str) -> String {
        let key = format!("{prefix}-{}", word.replace('_', "-"));
        if CATALOGUES[self as usize].has_message(&key) {
            self.t(&key)
        } else {
            word.to_string()
        }
    }

    /// The string for `key` with its variables (`{ $name }` in the catalogue).
    pub fn t_with(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, FluentValue::from(*v));
        }
        self.format(key, Some(&fa))
    }

    fn format(self, key: &str, args: Option<&FluentArgs>) -> String {
        let bundle = &CATALOGUES[self as usize];
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(key, lang = self.code(), "missing catalogue key");
            return key.to_string();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(
                key,
                lang = self.code(),
                ?errors,
                "catalogue string has errors"
            );
        }
        text.into_owned()
    }
}

/// The catalogues' text, embedded in the binary.
const SOURCES: [(Lang, &str); 2] = [
    (Lang::En, include_str!("../../web/i18n/en.ftl")),
    (Lang::Ko, include_str!("../../web/i18n/ko.ftl")),
];

/// One bundle per language, indexed by `Lang as usize`.
static CATALOGUES: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(lang, text)| {
            let id: unic_langid::LanguageIdentifier =
                lang.code().parse().expect("a valid language tag");
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Unicode isolation marks around variables would show up in HTML attributes and
            // tests; our variables are names and numbers, never right-to-left text.
            bundle.set_use_isolating(false);
            let resource = FluentResource::try_new(text.to_string())
                .unwrap_or_else(|(_, e)| panic!("web/i18n/{}.ftl: {e:?}", lang.code()));
            bundle
                .add_resource(resource)
                .unwrap_or_else(|e| panic!("web/i18n/{}.ftl: {e:?}", lang.code()));
            bundle
        })
        .collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    /// The message ids a catalogue defines.
    fn keys(text: &str) -> std::collections::BTreeSet<String> {
        let resource = FluentResource::try_new(text.to_string()).expect("catalogue parses");
        resource
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_key_is_in_every_catalogue() {
        let en = keys(SOURCES[0].1);
        assert!(en.len() > 10, "the English catalogue is nearly empty");
        for (lang, text) in &SOURCES[1..] {
            let other = keys(text);
            let missing: Vec<_> = en.difference(&other).collect();
            let extra: Vec<_> = other.difference(&en).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "web/i18n/{}.ftl: missing {missing:?}, not in en.ftl {extra:?}",
                lang.code()
            );
        }
    }

    /// Every `.t("key")`, `.t1("key"` and `.t_with("key"` a template or the portal's code asks
    /// for is defined.
    #[test]
    fn every_key_used_is_defined() {
        let en = keys(SOURCES[0].1);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = Vec::new();
        for dir in ["web/templates", "src/portal"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for marker in [".t(\"", ".t1(\"", ".t2(\"", ".t_with(\""] {
                    for piece in text.split(marker).skip(1) {
                        let key = piece.split('"').next().unwrap_or_default();
                        // "key" is the placeholder the doc comments use.
                        if !key.is_empty() && key != "key" {
                            used.push((path.display().to_string(), key.to_string()));
                        }
                    }
                }
            }
        }
        assert!(!used.is_empty(), "no template asks for a string");
        let undefined: Vec<_> = used.iter().filter(|(_, k)| !en.contains(k)).collect();
        assert!(
            undefined.is_empty(),
            "keys used but not in en.ftl: {undefined:?}"
        );
    }

    #[test]
    fn the_cookie_wins_then_accept_language_by_weight_then_the_club() {
        assert_eq!(Lang::negotiate(Some("ko"), Some("en"), "en"), Lang::Ko);
        assert_eq!(
            Lang::negotiate(None, Some("ko-KR,ko;q=0.9,en;q=0.8"), "en"),
            Lang::Ko
        );
        assert_eq!(
            Lang::negotiate(None, Some("fr, en;q=0.5, ko;q=0.7"), "en"),
            Lang::Ko
        );
        assert_eq!(Lang::negotiate(None, Some("fr, de"), "ko"), Lang::Ko);
        assert_eq!(Lang::negotiate(None, Some("ko;q=0"), "en"), Lang::En);
        assert_eq!(Lang::negotiate(Some("xx"), None, "en"), Lang::En);
    }

    /// Every state a project can be in has a name in the catalogues.
    #[test]
    fn every_project_state_has_a_name() {
        use clubhost_core::model::ProjectState;
        let en = keys(SOURCES[0].1);
        for state in ProjectState::ALL {
            let key = format!("state-{}", state.to_string().replace('_', "-"));
            assert!(en.contains(&key), "web/i18n/en.ftl lacks {key}");
        }
    }

    #[test]
    fn variables_are_filled_in_both_languages() {
        for lang in Lang::ALL {
            let text = lang.t_with("nav-account", &[("name", "ana")]);
            assert!(text.contains("ana"), "{}: {text}", lang.code());
        }
    }
}
