//! "Request a hosting slot" and "edit and resubmit" as operations the pages ([`request_form`])
//! and the JSON API share: the stack comes from a template in `stacks/` with its variables as
//! fields, or from the member's own compose file; the checker's verdict is available before
//! storing anything; a request an admin sent back is edited and resubmitted through
//! `Control::resubmit`.
//!
//! Secret variables are write-only here: their values go to the registry (through `Control`, as
//! the CLI's `--secret` does) and are never put back into a page or an answer. When editing, a
//! secret left empty keeps its stored value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::auth;
use super::models::{StackVerdict, stack_verdict};
use super::refusal::Denied;
use super::session::Viewer;
use clubhost_core::control::{
    Control, ControlError, FilesSubmission, GitRequest, ProjectFiles, Resubmission, Submission,
};
use clubhost_core::model::{Project, RegistryError};
use clubhost_stack::{Vars, templates};

/// A request for a hosting slot, from the form or the API.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source_url: String,
    #[serde(default)]
    pub days: Option<u32>,
    /// The member's own compose file; empty when `template` is chosen.
    #[serde(default)]
    pub stack: String,
    /// A template's name (`stacks/<name>`); empty for the member's own compose file.
    #[serde(default)]
    pub template: String,
    /// The template's variables by name. Left out (or empty): the template's default, except for
    /// secret ones, whose placeholder defaults are never used.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// The changes to a request that was sent back. Absent fields keep what is stored; `template` (or
/// `stack`) replaces the stack, and template variables left out keep their stored values.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResubmitInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub days: Option<u32>,
    #[serde(default)]
    pub stack: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// The checks a request gets before anything is stored: slug and stack.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// `None` when the slug is well-formed, not reserved and free; else why not.
    pub slug_problem: Option<String>,
    /// `None` when the stack parses and passes the policy; else the checker's error (or why no
    /// stack could be made: an unknown template, a required variable left empty).
    pub stack_problem: Option<String>,
    /// What the checker changed or guessed (ports not published, the exposed service inferred…).
    pub warnings: Vec<String>,
    /// The normalized stack (what would be deployed), when it is valid; secrets masked.
    pub normalized: Option<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.slug_problem.is_none() && self.stack_problem.is_none()
    }
}

/// A stack as it will be stored: the compose file's text and the project's variables.
#[derive(Debug, Clone, PartialEq)]
pub struct StackChoice {
    pub source: String,
    pub vars: Vars,
}

/// The stack a request names: `template` with its `variables` filled in, or the member's own
/// compose file `stack` (the project keeps the variables it has). `current` are the project's
/// stored variables when editing: a template variable left empty keeps its stored value, then a
/// non-secret one falls back to the template's default. The message names the field.
pub fn choose_stack(
    template: &str,
    variables: &BTreeMap<String, String>,
    stack: &str,
    current: &Vars,
) -> Result<StackChoice, String> {
    let template = template.trim();
    if template.is_empty() {
        if !variables.is_empty() {
            return Err(
                "variables: only a template's variables can be set here; choose a template, or \
                 write the values into your compose file"
                    .into(),
            );
        }
        if stack.trim().is_empty() {
            return Err("stack: choose a template, or paste or upload a compose file".into());
        }
        return Ok(StackChoice {
            source: stack.to_string(),
            vars: current.clone(),
        });
    }
    let Some(t) = templates::get(template) else {
        let names: Vec<&str> = templates::all().iter().map(|t| t.name).collect();
        return Err(format!(
            "template: there is no template {template:?} (choose one of: {})",
            names.join(", ")
        ));
    };
    if !stack.trim().is_empty() {
        return Err("stack: choose a template or give a compose file, not both".into());
    }
    let known: Vec<&str> = t
        .manifest
        .variables
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    if let Some(unknown) = variables.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!(
            "variables: the {} template has no variable {unknown:?} (it has: {})",
            t.name,
            known.join(", ")
        ));
    }
    let mut vars = Vars::new();
    for v in &t.manifest.variables {
        let given = variables
            .get(&v.name)
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty());
        // A secret's default is a placeholder everyone can read in stacks/: never used.
        let default = (!v.secret && !v.default.is_empty()).then_some(v.default.as_str());
        match given.or(current.get(&v.name)).or(default) {
            Some(value) => vars.set(&v.name, value, v.secret),
            None if t.requires(&v.name) || v.secret => {
                return Err(format!(
                    "variables: {} is required ({}){}",
                    v.name,
                    v.description,
                    if v.secret {
                        "; choose a secret value"
                    } else {
                        ""
                    }
                ));
            }
            None => {}
        }
    }
    Ok(StackChoice {
        source: t.compose.to_string(),
        vars,
    })
}

/// Format, reserved names (the portal's path too) and availability of a slug.
pub async fn slug_problem(c: &Control, slug: &str) -> Result<Option<String>, Denied> {
    if let Err(e) = c.check_slug(slug) {
        return Ok(Some(super::refusal::capitalized(&e.to_string())));
    }
    match c.project(slug).await {
        Ok(_) => Ok(Some(format!(
            "The address /{slug}/ is already taken: choose another slug"
        ))),
        Err(ControlError::Registry(RegistryError::NotFound(_))) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The checker's verdict on a new request, exactly as approval will see it.
pub async fn verdict(c: &Control, input: &RequestInput) -> Result<Verdict, Denied> {
    let slug = input.slug.trim();
    let stack = match choose_stack(
        &input.template,
        &input.variables,
        &input.stack,
        &Vars::new(),
    ) {
        Ok(choice) => stack_verdict(c, slug, &choice.vars, &choice.source),
        Err(e) => StackVerdict::refused(e),
    };
    Ok(Verdict {
        slug_problem: slug_problem(c, slug).await?,
        stack_problem: stack.problem,
        warnings: stack.warnings,
        normalized: stack.normalized,
    })
}

/// The checker's verdict on a sent-back request with `input`'s changes applied.
pub async fn edit_verdict(
    c: &Control,
    p: &Project,
    input: &ResubmitInput,
) -> Result<Verdict, Denied> {
    let current = c.variables(&p.slug).await?;
    let stack = match edited_stack(p, input, &current) {
        Ok(choice) => stack_verdict(c, &p.slug, &choice.vars, &choice.source),
        Err(e) => StackVerdict::refused(e),
    };
    Ok(Verdict {
        slug_problem: None,
        stack_problem: stack.problem,
        warnings: stack.warnings,
        normalized: stack.normalized,
    })
}

/// The stack a resubmission ends with: the stored one, a new template or compose file, or the
/// stored template with changed variables.
fn edited_stack(p: &Project, input: &ResubmitInput, current: &Vars) -> Result<StackChoice, String> {
    let stack = input.stack.as_deref().unwrap_or("");
    match input.template.as_deref() {
        Some(t) => choose_stack(t, &input.variables, stack, current),
        None if input.stack.is_some() => choose_stack("", &input.variables, stack, current),
        None if input.variables.is_empty() => Ok(StackChoice {
            source: p.stack_source.clone(),
            vars: current.clone(),
        }),
        // Only variables: they belong to the template the project was made from.
        None => match templates::matching(&p.stack_source) {
            Some(t) => choose_stack(t.name, &input.variables, "", current),
            None => choose_stack("", &input.variables, &p.stack_source, current),
        },
    }
}

/// The fields every request is checked for before the stack: name, description, link, days.
fn check_fields(
    c: &Control,
    name: &str,
    description: &str,
    source_url: &str,
    days: Option<u32>,
) -> Result<(), Denied> {
    let name_len = name.trim().chars().count();
    if !(1..=80).contains(&name_len) {
        return Err(Denied::Invalid(
            "name: give the project a name (1-80 characters)".into(),
        ));
    }
    if description.chars().count() > 2000 {
        return Err(Denied::Invalid(
            "description: keep it under 2000 characters".into(),
        ));
    }
    let url = source_url.trim();
    if !url.is_empty()
        && (url.len() > 300
            || !(url.starts_with("https://") || url.starts_with("http://"))
            || url.contains(char::is_whitespace))
    {
        return Err(Denied::Invalid(
            "source link: use a full http(s):// address to the project's code".into(),
        ));
    }
    if let Some(d) = days
        && (d == 0 || d > c.config().projects.max_days)
    {
        return Err(Denied::Invalid(format!(
            "days: {d} is outside 1..={} (the club's longest term)",
            c.config().projects.max_days
        )));
    }
    Ok(())
}

/// Stores the request (state `requested`) after every check; nothing is stored on bad input.
pub async fn submit(c: &Control, v: &Viewer, input: &RequestInput) -> Result<Project, Denied> {
    let s = auth::member(v)?;
    check_fields(
        c,
        &input.name,
        &input.description,
        &input.source_url,
        input.days,
    )?;
    let choice = choose_stack(
        &input.template,
        &input.variables,
        &input.stack,
        &Vars::new(),
    )
    .map_err(Denied::Invalid)?;
    let submission = Submission {
        owner: s.user.name.clone(),
        slug: input.slug.trim().to_string(),
        name: Some(input.name.trim().to_string()),
        description: input.description.trim().to_string(),
        stack: choice.source,
        days: input.days,
        root: false,
        vars: choice.vars,
        source_url: input.source_url.trim().to_string(),
    };
    Ok(c.submit(&submission, &s.user.name).await?)
}

/// A request's project files from the form: an uploaded archive or a git repository.
pub struct FilesInput {
    pub archive: Option<clubhost_core::control::Upload>,
    pub git_url: String,
    pub git_ref: String,
}

/// Streams a form's archive part into a capped upload in the data dir (`[build]
/// max_compressed`, refused as soon as it is passed); an empty file input is `None`.
pub async fn read_archive(
    c: &Control,
    field: &mut axum::extract::multipart::Field<'_>,
) -> Result<Option<clubhost_core::control::Upload>, Denied> {
    let mut upload = c.upload()?;
    let mut any = false;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| Denied::Invalid(format!("form field archive: {e}")))?
    {
        any |= !chunk.is_empty();
        upload
            .write(&chunk)
            .map_err(|e| Denied::Invalid(e.to_string()))?;
    }
    Ok(any.then_some(upload))
}

/// Submits a request whose stack comes with its files. From the portal a git URL is https
/// only: never a repository on the server.
pub async fn submit_files(
    c: &Control,
    v: &Viewer,
    input: &RequestInput,
    files: FilesInput,
) -> Result<Project, Denied> {
    let s = auth::member(v)?;
    check_fields(
        c,
        &input.name,
        &input.description,
        &input.source_url,
        input.days,
    )?;
    let git = (!files.git_url.is_empty()).then(|| GitRequest {
        url: files.git_url.clone(),
        reference: (!files.git_ref.is_empty()).then(|| files.git_ref.clone()),
    });
    let project_files = match (files.archive, git.clone()) {
        (Some(a), None) => ProjectFiles::Archive(a),
        (None, Some(request)) => ProjectFiles::Git {
            request,
            local: false,
        },
        _ => {
            return Err(Denied::Invalid(
                "give either an archive or a git URL, not both".into(),
            ));
        }
    };
    let submission = FilesSubmission {
        submission: Submission {
            owner: s.user.name.clone(),
            slug: input.slug.trim().to_string(),
            name: Some(input.name.trim().to_string()),
            description: input.description.trim().to_string(),
            stack: String::new(),
            days: input.days,
            root: false,
            vars: Vars::new(),
            source_url: input.source_url.trim().to_string(),
        },
        stack_file: None,
        git,
    };
    Ok(c.submit_files(&submission, project_files, &s.user.name)
        .await?)
}

/// The project `slug` if the viewer may edit it: its owner, or an admin.
pub async fn editable(c: &Control, v: &Viewer, slug: &str) -> Result<Project, Denied> {
    auth::member(v)?;
    let p = c.project(slug).await?;
    auth::owner_or_admin(v, &p)?;
    Ok(p)
}

/// Applies the owner's changes to a request an admin sent back and puts it back in the queue.
/// Only what differs from the stored project is passed on (and named in the audit log).
pub async fn resubmit(
    c: &Control,
    v: &Viewer,
    slug: &str,
    input: &ResubmitInput,
) -> Result<Project, Denied> {
    let p = editable(c, v, slug).await?;
    let s = auth::owner_or_admin(v, &p)?;
    let source_url = c.source_url(slug).await?;
    check_fields(
        c,
        input.name.as_deref().unwrap_or(&p.name),
        input.description.as_deref().unwrap_or(&p.description),
        input.source_url.as_deref().unwrap_or(&source_url),
        input.days,
    )?;
    let current = c.variables(slug).await?;
    let choice = edited_stack(&p, input, &current).map_err(Denied::Invalid)?;
    let changed = |new: Option<&String>, old: &str| {
        new.map(|n| n.trim().to_string())
            .filter(|n| n.as_str() != old)
    };
    let r = Resubmission {
        name: changed(input.name.as_ref(), &p.name),
        description: changed(input.description.as_ref(), &p.description),
        source_url: changed(input.source_url.as_ref(), &source_url),
        days: input.days.filter(|d| i64::from(*d) != p.term_days),
        stack: (choice.source != p.stack_source).then_some(choice.source),
        vars: (choice.vars != current).then_some(choice.vars),
    };
    Ok(c.resubmit(slug, &r, &s.user.name).await?)
}

/// A template as the form and `GET api/templates` show it.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateView {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Whether the app works under `/<slug>/` (not only as the root project).
    pub subpath: bool,
    pub variables: Vec<VarView>,
    /// Chosen in the form right now.
    #[serde(skip)]
    pub selected: bool,
}

/// One template variable as a form field.
#[derive(Debug, Clone, Serialize)]
pub struct VarView {
    pub name: String,
    pub description: String,
    pub secret: bool,
    /// The stack cannot be deployed without a value.
    pub required: bool,
    /// What the field shows: the member's value, the stored one or the default; always empty for
    /// secrets, which are never shown again.
    pub value: String,
    /// A value is stored (editing): a secret left empty keeps it.
    #[serde(skip)]
    pub stored: bool,
}

/// Every template as form fields: `selected` is the chosen one, `given` the values the member
/// typed into it, `stored` the project's variables when editing.
pub fn template_views(
    selected: Option<&str>,
    given: &BTreeMap<String, String>,
    stored: Option<&Vars>,
) -> Vec<TemplateView> {
    templates::all()
        .into_iter()
        .map(|t| {
            let is_selected = selected == Some(t.name);
            let variables = t
                .manifest
                .variables
                .iter()
                .map(|v| {
                    let stored_value = stored.and_then(|s| s.get(&v.name));
                    let value = if v.secret {
                        String::new()
                    } else {
                        given
                            .get(&v.name)
                            .filter(|_| is_selected)
                            .map(String::as_str)
                            .or(stored_value)
                            .unwrap_or(&v.default)
                            .to_string()
                    };
                    VarView {
                        name: v.name.clone(),
                        description: v.description.clone(),
                        secret: v.secret,
                        required: t.requires(&v.name) || v.secret,
                        value,
                        stored: stored_value.is_some(),
                    }
                })
                .collect();
            TemplateView {
                name: t.name.to_string(),
                title: t.manifest.title,
                description: t.manifest.description,
                subpath: t.manifest.subpath,
                variables,
                selected: is_selected,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_template_is_filled_from_the_member_the_stored_values_and_the_defaults() {
        let devbox = templates::get("devbox").unwrap();
        let c = choose_stack(
            "devbox",
            &given(&[("CODE_PASSWORD", "pw-1")]),
            "",
            &Vars::new(),
        )
        .unwrap();
        assert_eq!(c.source, devbox.compose);
        assert_eq!(c.vars.get("CODE_PASSWORD"), Some("pw-1"));
        assert!(c.vars.0["CODE_PASSWORD"].secret);
        assert_eq!(c.vars.get("CODE_IMAGE"), Some("codercom/code-server:4"));

        // A secret's placeholder default is never used; a stored value is kept.
        let err = choose_stack("devbox", &BTreeMap::new(), "", &Vars::new()).unwrap_err();
        assert!(err.contains("CODE_PASSWORD is required"), "{err}");
        let kept = choose_stack("devbox", &given(&[("CODE_PASSWORD", "")]), "", &c.vars).unwrap();
        assert_eq!(kept.vars, c.vars);
    }

    #[test]
    fn bad_choices_name_the_field() {
        let none = BTreeMap::new();
        let e = choose_stack("nope", &none, "", &Vars::new()).unwrap_err();
        assert!(e.starts_with("template:") && e.contains("wordpress"), "{e}");
        let e = choose_stack("devbox", &given(&[("X", "1")]), "", &Vars::new()).unwrap_err();
        assert!(e.contains("no variable \"X\""), "{e}");
        let e = choose_stack("devbox", &none, "services: {}", &Vars::new()).unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e = choose_stack("", &none, "  ", &Vars::new()).unwrap_err();
        assert!(e.starts_with("stack:"), "{e}");
        let e = choose_stack("", &given(&[("A", "1")]), "services: {}", &Vars::new()).unwrap_err();
        assert!(e.starts_with("variables:"), "{e}");
    }

    #[test]
    fn secrets_are_never_shown_in_the_form() {
        let mut stored = Vars::new();
        stored.set("DB_PASSWORD", "hunter22", true);
        stored.set("WP_IMAGE", "wordpress:6.5", false);
        let views = template_views(
            Some("wordpress"),
            &given(&[("DB_PASSWORD", "typed")]),
            Some(&stored),
        );
        let wp = views.iter().find(|t| t.name == "wordpress").unwrap();
        assert!(wp.selected);
        let text = format!("{views:?}");
        assert!(
            !text.contains("hunter22") && !text.contains("typed"),
            "{text}"
        );
        let pw = wp
            .variables
            .iter()
            .find(|v| v.name == "DB_PASSWORD")
            .unwrap();
        assert!(pw.secret && pw.required && pw.stored && pw.value.is_empty());
        let image = wp.variables.iter().find(|v| v.name == "WP_IMAGE").unwrap();
        assert_eq!(image.value, "wordpress:6.5");
    }
}
