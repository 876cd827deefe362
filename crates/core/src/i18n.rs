//! English and Korean (the club this grew from writes in Korean): the `Lang` type, choosing one
//! for a visitor, and `Catalogue`, a set of Fluent files (one per language) strings are looked up
//! in by key.
//!
//! Fluent (Mozilla's, what Firefox ships with) is the format translators know and handles
//! variables and plurals per language; a `Catalogue` builds its concurrent bundles once and is
//! shared by every request. Two catalogues use it: the portal's pages (`web/i18n/`, in the
//! binary) and the notifications this crate sends (`crates/core/i18n/`: an owner's in the
//! language they last used the portal in, others in the club's `[club] language`). A key missing at run time shows as the key, never as a blank; the tests of
//! each catalogue check that every language has every key.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language clubhost speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Korean.
    Ko,
}

impl Lang {
    /// Every language, in the order a switch shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// The BCP 47 tag (`<html lang>`, cookies, `[club] language`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// The language's own name, as a switch shows it.
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

    /// A visitor's language: their choice (a cookie), else `Accept-Language` by its q-values,
    /// else the club's default.
    pub fn negotiate(chosen: Option<&str>, accept_language: Option<&str>, default: &str) -> Lang {
        if let Some(l) = chosen.and_then(Lang::from_tag) {
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
}

/// One set of strings in every language, looked up by key.
pub struct Catalogue {
    /// Where the files live, for messages (`web/i18n`).
    origin: &'static str,
    /// One bundle per language, indexed by `Lang as usize`.
    bundles: Vec<FluentBundle<FluentResource>>,
}

impl Catalogue {
    /// Builds the bundles from each language's file text (in `Lang::ALL` order). A file that does
    /// not parse is a bug in this repository, caught by the catalogue's tests: it panics.
    pub fn new(origin: &'static str, sources: [&'static str; 2]) -> Catalogue {
        let bundles = Lang::ALL
            .iter()
            .zip(sources)
            .map(|(lang, text)| {
                let id: unic_langid::LanguageIdentifier =
                    lang.code().parse().expect("a valid language tag");
                let mut bundle = FluentBundle::new_concurrent(vec![id]);
                // Unicode isolation marks around variables would show up in HTML attributes and
                // e-mail subjects; our variables are names, dates and numbers.
                bundle.set_use_isolating(false);
                let resource = FluentResource::try_new(text.to_string())
                    .unwrap_or_else(|(_, e)| panic!("{origin}/{}.ftl: {e:?}", lang.code()));
                bundle
                    .add_resource(resource)
                    .unwrap_or_else(|e| panic!("{origin}/{}.ftl: {e:?}", lang.code()));
                bundle
            })
            .collect();
        Catalogue { origin, bundles }
    }

    /// The string for `key` in `lang` with its variables (`{ $name }` in the file).
    pub fn get(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
        let bundle = &self.bundles[lang as usize];
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(
                key,
                lang = lang.code(),
                origin = self.origin,
                "missing string"
            );
            return key.to_string();
        };
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, FluentValue::from(*v));
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fa), &mut errors);
        if !errors.is_empty() {
            tracing::warn!(key, lang = lang.code(), ?errors, "string has errors");
        }
        text.into_owned()
    }

    /// Whether `lang`'s file has `key`.
    pub fn has(&self, lang: Lang, key: &str) -> bool {
        self.bundles[lang as usize].has_message(key)
    }
}

/// The message ids one catalogue file defines (for the tests that compare languages).
pub fn keys_of(text: &str) -> BTreeSet<String> {
    let resource = FluentResource::try_new(text.to_string()).expect("catalogue parses");
    resource
        .entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect()
}

/// The notifications' files, in `Lang::ALL` order.
const NOTE_SOURCES: [&str; 2] = [
    include_str!("../i18n/en.ftl"),
    include_str!("../i18n/ko.ftl"),
];

/// The strings of the notifications (e-mail, Slack, Discord) this crate sends.
static NOTES: LazyLock<Catalogue> =
    LazyLock::new(|| Catalogue::new("crates/core/i18n", NOTE_SOURCES));

/// A notification's text in `lang`.
pub(crate) fn note(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    NOTES.get(lang, key, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_wins_then_accept_language_by_weight_then_the_club() {
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

    #[test]
    fn every_note_key_is_in_every_language_and_every_key_used_is_defined() {
        let en = keys_of(NOTE_SOURCES[0]);
        let ko = keys_of(NOTE_SOURCES[1]);
        assert_eq!(
            en.symmetric_difference(&ko).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "crates/core/i18n: en.ftl and ko.ftl differ"
        );
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut used = Vec::new();
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                // Notes in the club's language (`say` with the key first) and in a reader's
                // (`say_in` with the language, then the key).
                for piece in text.split("say(\"").skip(1) {
                    let key = piece.split('"').next().unwrap_or_default().to_string();
                    used.push((path.display().to_string(), key));
                }
                for piece in text.split("say_in(").skip(1) {
                    let mut parts = piece.splitn(3, '"');
                    let (Some(lang), Some(key)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    // A call: one short language argument, then the key (not the definition).
                    if lang.ends_with(", ") && !lang.contains(['\n', '{', ':']) {
                        used.push((path.display().to_string(), key.to_string()));
                    }
                }
            }
        }
        assert!(
            used.len() > 10,
            "notes no longer use the catalogue? {used:?}"
        );
        let undefined: Vec<_> = used.iter().filter(|(_, k)| !en.contains(k)).collect();
        assert!(undefined.is_empty(), "used but not defined: {undefined:?}");
    }

    #[test]
    fn variables_are_filled_in_both_languages() {
        for lang in Lang::ALL {
            let text = note(lang, "note-approved-subject", &[("slug", "blog")]);
            assert!(text.contains("blog"), "{}: {text}", lang.code());
        }
    }
}
