//! The club's stack templates (`stacks/<name>/compose.yml` + `template.toml`), embedded in the
//! binary so `clubhost stack templates` and the portal list them without files on disk.

#[cfg(test)]
use super::interpolate::Vars;
use serde::{Deserialize, Serialize};

/// One template: its compose file and what its manifest says about it.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// Directory name under `stacks/`; what members pick.
    pub name: &'static str,
    /// The compose file, exactly as in `stacks/<name>/compose.yml`.
    pub compose: &'static str,
    /// The template's `template.toml`.
    pub manifest: Manifest,
}

/// `template.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Human name shown in listings and the portal (`WordPress`).
    pub title: String,
    /// One sentence on what the stack is for, shown next to the title.
    pub description: String,
    /// The service visitors reach and its port (what the checker derives; kept for listings).
    pub expose: String,
    /// Container port of `expose`.
    pub port: u16,
    /// Whether the app works under a sub-path (`/<slug>/`) and not only as the root project.
    pub subpath: bool,
    /// Variables the compose file uses, in the order the portal asks for them.
    #[serde(default)]
    pub variables: Vec<TemplateVar>,
}

/// One `[[variables]]` entry of a manifest: a variable the compose file uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateVar {
    /// Variable name as the compose file writes it (`DB_PASSWORD`).
    pub name: String,
    /// What the value is for, shown to the member who fills it in.
    pub description: String,
    /// Value used when the member gives none; empty means none. Never used for a secret: it
    /// is a placeholder anyone can read in `stacks/`.
    pub default: String,
    /// Secret values are masked wherever they are shown.
    #[serde(default)]
    pub secret: bool,
}

const SOURCES: &[(&str, &str, &str)] = &[
    (
        "wordpress",
        include_str!("../../../stacks/wordpress/compose.yml"),
        include_str!("../../../stacks/wordpress/template.toml"),
    ),
    (
        "static-site",
        include_str!("../../../stacks/static-site/compose.yml"),
        include_str!("../../../stacks/static-site/template.toml"),
    ),
    (
        "devbox",
        include_str!("../../../stacks/devbox/compose.yml"),
        include_str!("../../../stacks/devbox/template.toml"),
    ),
    (
        "web-app",
        include_str!("../../../stacks/web-app/compose.yml"),
        include_str!("../../../stacks/web-app/template.toml"),
    ),
];

/// Every template. The manifests are part of the binary; a broken one is a build-time mistake the
/// unit tests catch, so it is skipped here rather than failing at run time.
pub fn all() -> Vec<Template> {
    SOURCES
        .iter()
        .filter_map(|(name, compose, manifest)| {
            Some(Template {
                name,
                compose,
                manifest: toml::from_str(manifest).ok()?,
            })
        })
        .collect()
}

/// The template named `name` (a directory under `stacks/`), if there is one.
pub fn get(name: &str) -> Option<Template> {
    all().into_iter().find(|t| t.name == name)
}

/// The template whose compose file `source` is, word for word: how the portal tells a project
/// made from a template (whose variables it can offer as fields) from a member's own file.
pub fn matching(source: &str) -> Option<Template> {
    all().into_iter().find(|t| t.compose == source)
}

impl Template {
    /// Whether the compose file insists on a value for `name` (`${NAME:?…}` or `${NAME?…}`):
    /// a stack from this template cannot be deployed without it.
    pub fn requires(&self, name: &str) -> bool {
        self.compose.contains(&format!("${{{name}:?"))
            || self.compose.contains(&format!("${{{name}?"))
    }

    #[cfg(test)]
    /// The template's variables at their defaults, with `overrides` on top.
    pub(crate) fn vars(&self, overrides: &Vars) -> Vars {
        let mut vars = Vars::new();
        for v in &self.manifest.variables {
            vars.set(&v.name, &v.default, v.secret);
        }
        for (k, v) in &overrides.0 {
            let secret = v.secret
                || self
                    .manifest
                    .variables
                    .iter()
                    .any(|t| &t.name == k && t.secret);
            vars.set(k, &v.value, secret);
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Limits, check};
    use super::*;

    #[test]
    fn every_template_is_listed_and_passes_the_policy_with_its_defaults() {
        let all = all();
        assert_eq!(all.len(), SOURCES.len(), "a manifest does not parse");
        for t in all {
            let report = check(t.compose, &t.vars(&Vars::new()), &Limits::default());
            assert!(
                report.violations.is_empty(),
                "{}: {:?}",
                t.name,
                report.violations
            );
            let stack = report.stack.unwrap();
            assert_eq!(stack.expose.service, t.manifest.expose, "{}", t.name);
            assert_eq!(stack.expose.port, t.manifest.port, "{}", t.name);
            for v in &t.manifest.variables {
                assert!(
                    t.compose.contains(&v.name),
                    "{}: variable {} is never used",
                    t.name,
                    v.name
                );
            }
        }
    }

    #[test]
    fn wordpress_keeps_the_database_internal_and_uses_the_project_url() {
        let t = get("wordpress").unwrap();
        let mut over = Vars::new();
        over.set("CLUBHOST_URL", "https://club.example/blog", false);
        let stack = super::super::load(t.compose, &t.vars(&over), &Limits::default()).unwrap();
        assert!(!stack.service("db").unwrap().gateway);
        let wp = stack.service("wordpress").unwrap();
        assert!(wp.gateway);
        assert!(
            wp.environment
                .iter()
                .any(|e| e.contains("define('WP_HOME', 'https://club.example/blog')")),
            "{:?}",
            wp.environment
        );
    }

    #[test]
    fn required_variables_and_matching_sources_are_found() {
        let wp = get("wordpress").unwrap();
        assert!(wp.requires("DB_PASSWORD"));
        assert!(!wp.requires("WP_IMAGE"));
        assert!(get("web-app").unwrap().requires("APP_IMAGE"));
        assert_eq!(matching(wp.compose).map(|t| t.name), Some("wordpress"));
        assert!(matching("services: {}").is_none());
    }

    #[test]
    fn secret_template_variables_stay_secret() {
        let t = get("devbox").unwrap();
        let mut over = Vars::new();
        over.set("CODE_PASSWORD", "s3cret-pw", false);
        let vars = t.vars(&over);
        assert!(vars.0["CODE_PASSWORD"].secret);
        assert!(!vars.redact("PASSWORD=s3cret-pw").contains("s3cret"));
    }
}
