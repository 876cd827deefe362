//! The portal's strings in English and Korean: a Fluent catalogue per language
//! (`web/i18n/en.ftl`, `ko.ftl`, embedded), never sentences in templates: a page asks
//! `nav.t("key")`. The language type and the catalogue machinery are `clubhost_core::i18n`'s
//! (notifications use them too). A key missing from a catalogue fails
//! `every_key_is_in_every_catalogue`; at run time it shows the key, never a blank.
//!
//! Which language a visitor gets: the `clubhost_lang` cookie the switch sets, else the first
//! language of `Accept-Language` the portal speaks, else `[club] language`. The stack checker's
//! messages and the reasons the control plane gives stay English this round (they come from
//! `clubhost-stack` and `clubhost-core`, shared with the CLI).

use std::sync::LazyLock;

use clubhost_core::i18n::Catalogue;
pub use clubhost_core::i18n::Lang;

/// The cookie the language switch sets; a year, the whole site (the portal and its subdomain).
pub const LANG_COOKIE: &str = "clubhost_lang";

/// The catalogues' text, in `Lang::ALL` order.
const SOURCES: [&str; 2] = [
    include_str!("../../web/i18n/en.ftl"),
    include_str!("../../web/i18n/ko.ftl"),
];

static PAGES: LazyLock<Catalogue> = LazyLock::new(|| Catalogue::new("web/i18n", SOURCES));

/// The string for `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    PAGES.get(lang, key, &[])
}

/// The string for `key` in `lang` with its variables (`{ $name }` in the catalogue).
pub fn t_with(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    PAGES.get(lang, key, args)
}

/// Whether `lang`'s catalogue has `key`.
pub fn has(lang: Lang, key: &str) -> bool {
    PAGES.has(lang, key)
}

/// A stored word (a state, a role) in `lang`: the catalogue's `<prefix>-<word>`, or the word as
/// stored when the catalogue lacks it.
pub fn named(lang: Lang, prefix: &str, word: &str) -> String {
    let key = format!("{prefix}-{}", word.replace('_', "-"));
    if PAGES.has(lang, &key) {
        t(lang, &key)
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clubhost_core::i18n::keys_of as keys;

    #[test]
    fn every_key_is_in_every_catalogue() {
        let en = keys(SOURCES[0]);
        assert!(en.len() > 10, "the English catalogue is nearly empty");
        for (lang, text) in Lang::ALL.iter().zip(SOURCES).skip(1) {
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
        let en = keys(SOURCES[0]);
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

    /// Every state a project can be in has a name in the catalogues.
    #[test]
    fn every_project_state_has_a_name() {
        use clubhost_core::model::ProjectState;
        let en = keys(SOURCES[0]);
        for state in ProjectState::ALL {
            let key = format!("state-{}", state.to_string().replace('_', "-"));
            assert!(en.contains(&key), "web/i18n/en.ftl lacks {key}");
        }
    }

    #[test]
    fn variables_are_filled_in_both_languages() {
        for lang in Lang::ALL {
            let text = t_with(lang, "nav-account", &[("name", "ana")]);
            assert!(text.contains("ana"), "{}: {text}", lang.code());
        }
    }
}
