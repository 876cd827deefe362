//! The request form as pages, for new requests (`request`) and for editing one an admin sent back
//! (`projects/<slug>/edit`). One template, `request.html`: a choice of stack templates, each with
//! its variables as fields (secret ones as password fields, never filled in), or the member's own
//! compose file pasted or uploaded. Multipart, so a file can be uploaded; "Check" shows the
//! checker's verdict without storing anything. Works without JavaScript (`request.js` adds live
//! checks).

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::request::{
    RequestInput, ResubmitInput, TemplateView, Verdict, edit_verdict, editable, resubmit, submit,
    template_views, verdict,
};
use crate::portal::pages::Nav;
use crate::portal::refusal::{Denied, PageResult};
use crate::portal::session::Viewer;
use crate::portal::{auth, csrf};
use clubhost_core::control::{Control, ControlError};
use clubhost_core::model::{ProjectState, RegistryError};
use clubhost_stack::templates;

/// A request being edited after an admin sent it back.
pub struct Editing {
    pub slug: String,
    /// What the admin asked for.
    pub note: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "request.html")]
pub struct RequestPage {
    pub nav: Nav,
    pub editing: Option<Editing>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub source_url: String,
    pub days_text: String,
    pub max_days: u32,
    pub templates: Vec<TemplateView>,
    /// The member's own compose file is chosen rather than a template.
    pub own_stack: bool,
    /// The member's compose file as typed (never a secret: those live in variables).
    pub stack: String,
    pub verdict: Option<Verdict>,
    pub error: String,
}

/// The form's fields as posted.
#[derive(Default)]
struct Fields {
    csrf: String,
    intent: String,
    name: String,
    slug: String,
    description: String,
    source_url: String,
    days: String,
    template: String,
    stack: String,
    upload: String,
    /// `var-<template>-<NAME>` fields, every template's.
    vars: BTreeMap<String, String>,
    /// The project's files as an archive (written to the data dir as it arrives, capped).
    archive: Option<clubhost_core::control::Upload>,
    /// …or as a git repository (https only from the portal).
    git_url: String,
    git_ref: String,
}

impl Fields {
    async fn read(c: &Control, mut form: Multipart) -> Result<Fields, Denied> {
        let mut f = Fields::default();
        while let Some(mut field) = form
            .next_field()
            .await
            .map_err(|e| Denied::Invalid(format!("form: {e}")))?
        {
            let name = field.name().unwrap_or("").to_string();
            if name == "archive" {
                f.archive = super::request::read_archive(c, &mut field).await?;
                continue;
            }
            let text = field
                .text()
                .await
                .map_err(|e| Denied::Invalid(format!("form field {name}: {e}")))?;
            let slot = match name.as_str() {
                "csrf" => &mut f.csrf,
                "intent" => &mut f.intent,
                "name" => &mut f.name,
                "slug" => &mut f.slug,
                "description" => &mut f.description,
                "source_url" => &mut f.source_url,
                "days" => &mut f.days,
                "template" => &mut f.template,
                "stack" => &mut f.stack,
                "stack_file" => &mut f.upload,
                "git_url" => &mut f.git_url,
                "git_ref" => &mut f.git_ref,
                n if n.starts_with("var-") => f.vars.entry(name.clone()).or_default(),
                _ => continue,
            };
            *slot = text;
        }
        Ok(f)
    }

    /// The chosen template's variables by name.
    fn variables(&self) -> BTreeMap<String, String> {
        if self.template.is_empty() {
            return BTreeMap::new();
        }
        let prefix = format!("var-{}-", self.template);
        self.vars
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
            .collect()
    }

    /// The member's own compose file: an uploaded file wins over the text area. Empty when a
    /// template is chosen.
    fn own_stack(&self) -> String {
        if !self.template.is_empty() {
            String::new()
        } else if !self.upload.trim().is_empty() {
            self.upload.clone()
        } else {
            self.stack.clone()
        }
    }

    fn days(&self) -> Result<Option<u32>, String> {
        let days = self.days.trim();
        if days.is_empty() {
            return Ok(None);
        }
        days.parse()
            .map(Some)
            .map_err(|_| format!("days: {days:?} is not a whole number of days"))
    }

    /// The form as it is shown again: what the member typed, secrets left out.
    fn page(&self, v: &Viewer, c: &Control, editing: Option<Editing>) -> RequestPage {
        let template = Some(self.template.as_str()).filter(|t| !t.is_empty());
        RequestPage {
            nav: Nav::of(v),
            editing,
            name: self.name.clone(),
            slug: self.slug.clone(),
            description: self.description.clone(),
            source_url: self.source_url.clone(),
            days_text: self.days.clone(),
            max_days: c.config().projects.max_days,
            templates: template_views(template, &self.variables(), None),
            own_stack: template.is_none(),
            stack: self.own_stack(),
            verdict: None,
            error: String::new(),
        }
    }
}

fn shown(status: StatusCode, mut page: RequestPage, verdict: Verdict, error: String) -> Response {
    page.verdict = Some(verdict);
    page.error = error;
    (status, page).into_response()
}

#[derive(Deserialize)]
pub struct RequestQuery {
    /// Preselects a template: `request?template=wordpress`.
    #[serde(default)]
    template: Option<String>,
}

pub async fn request_page(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Query(q): Query<RequestQuery>,
) -> PageResult {
    auth::member(&v)?;
    let fields = Fields {
        days: c.config().projects.default_days.to_string(),
        template: q
            .template
            .filter(|t| templates::get(t).is_some())
            .unwrap_or_default(),
        ..Fields::default()
    };
    Ok(fields.page(&v, &c, None).into_response())
}

/// "Check" shows the verdict and stores nothing; "Submit" stores the request.
pub async fn request_form(v: Viewer, State(c): State<Arc<Control>>, form: Multipart) -> PageResult {
    auth::member(&v)?;
    let mut f = Fields::read(&c, form).await?;
    csrf::check(&v, &f.csrf)?;
    let days = f.days();
    let input = RequestInput {
        name: f.name.clone(),
        slug: f.slug.clone(),
        description: f.description.clone(),
        source_url: f.source_url.clone(),
        days: days.clone().unwrap_or_default(),
        stack: f.own_stack(),
        template: f.template.clone(),
        variables: f.variables(),
    };
    let verdict = verdict(&c, &input).await?;
    let page = f.page(&v, &c, None);
    if let Err(e) = days {
        return Ok(shown(StatusCode::UNPROCESSABLE_ENTITY, page, verdict, e));
    }
    if f.intent == "check" {
        return Ok(shown(StatusCode::OK, page, verdict, String::new()));
    }
    // The project's files instead of a compose file: its stack comes from them.
    if f.archive.is_some() || !f.git_url.trim().is_empty() {
        let files = super::request::FilesInput {
            archive: f.archive.take(),
            git_url: f.git_url.trim().to_string(),
            git_ref: f.git_ref.trim().to_string(),
        };
        return match super::request::submit_files(&c, &v, &input, files).await {
            Ok(_) => Ok(Redirect::to(&v.link("/projects?submitted=1")).into_response()),
            Err(e) => Ok(shown(e.status(), page, verdict, e.message())),
        };
    }
    match submit(&c, &v, &input).await {
        Ok(_) => Ok(Redirect::to(&v.link("/projects?submitted=1")).into_response()),
        Err(e) => Ok(shown(e.status(), page, verdict, e.message())),
    }
}

/// The project, if it is a request waiting for its member's changes.
async fn sent_back(
    c: &Control,
    v: &Viewer,
    slug: &str,
) -> Result<clubhost_core::model::Project, Denied> {
    let p = editable(c, v, slug).await?;
    if p.state() != ProjectState::ChangesRequested {
        return Err(Denied::Control(ControlError::Registry(
            RegistryError::Conflict(format!(
                "project {slug:?} is {}: only a request an admin sent back can be edited",
                p.state()
            )),
        )));
    }
    Ok(p)
}

fn editing(p: &clubhost_core::model::Project) -> Option<Editing> {
    Some(Editing {
        slug: p.slug.clone(),
        note: p.review_note.clone().unwrap_or_default(),
    })
}

/// The form filled in with the request as stored: its template's fields (stored values; secrets
/// empty, kept unless retyped) or its own compose file.
pub async fn edit_page(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
) -> PageResult {
    let p = sent_back(&c, &v, &slug).await?;
    let stored = c.variables(&slug).await?;
    let template = templates::matching(&p.stack_source);
    let page = RequestPage {
        nav: Nav::of(&v),
        editing: editing(&p),
        name: p.name.clone(),
        slug: p.slug.clone(),
        description: p.description.clone(),
        source_url: c.source_url(&slug).await?,
        days_text: p.term_days.to_string(),
        max_days: c.config().projects.max_days,
        templates: template_views(
            template.as_ref().map(|t| t.name),
            &BTreeMap::new(),
            Some(&stored),
        ),
        own_stack: template.is_none(),
        stack: if template.is_none() {
            p.stack_source.clone()
        } else {
            String::new()
        },
        verdict: None,
        error: String::new(),
    };
    Ok(page.into_response())
}

/// "Check" shows the verdict on the edited request; "Submit" resubmits it.
pub async fn edit_form(
    v: Viewer,
    State(c): State<Arc<Control>>,
    Path(slug): Path<String>,
    form: Multipart,
) -> PageResult {
    auth::member(&v)?;
    let f = Fields::read(&c, form).await?;
    csrf::check(&v, &f.csrf)?;
    let p = sent_back(&c, &v, &slug).await?;
    let days = f.days();
    let input = ResubmitInput {
        name: Some(f.name.clone()),
        description: Some(f.description.clone()),
        source_url: Some(f.source_url.clone()),
        days: days.clone().unwrap_or_default(),
        stack: f.template.is_empty().then(|| f.own_stack()),
        template: Some(f.template.clone()).filter(|t| !t.is_empty()),
        variables: f.variables(),
    };
    let verdict = edit_verdict(&c, &p, &input).await?;
    let mut page = f.page(&v, &c, editing(&p));
    // Secrets left empty keep their stored values; say so again.
    page.templates = template_views(
        input.template.as_deref(),
        &input.variables,
        Some(&c.variables(&slug).await?),
    );
    if let Err(e) = days {
        return Ok(shown(StatusCode::UNPROCESSABLE_ENTITY, page, verdict, e));
    }
    if f.intent == "check" {
        return Ok(shown(StatusCode::OK, page, verdict, String::new()));
    }
    match resubmit(&c, &v, &slug, &input).await {
        Ok(_) => Ok(Redirect::to(&v.link("/projects?resubmitted=1")).into_response()),
        Err(e) => Ok(shown(e.status(), page, verdict, e.message())),
    }
}
