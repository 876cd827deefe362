//! The member portal, served by the proxy under `/portal/`. For now its front page: the club's
//! gallery of running projects, so visitors find what the club hosts. Static assets come from
//! `web/static`, embedded in the binary.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use crate::control::Control;
use crate::proxy::pages::escape;
use crate::registry::ProjectState;

#[derive(RustEmbed)]
#[folder = "web/static/"]
struct Assets;

pub fn router(control: Arc<Control>) -> Router {
    Router::new()
        .route("/portal/", get(gallery))
        .route(
            "/portal",
            get(|| async { axum::response::Redirect::permanent("/portal/") }),
        )
        .route("/portal/static/{*file}", get(asset))
        .with_state(control)
}

async fn gallery(State(c): State<Arc<Control>>) -> Response {
    let projects = match c.registry.projects().await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "gallery: registry");
            return (StatusCode::INTERNAL_SERVER_ERROR, "registry unavailable").into_response();
        }
    };
    let mut items = String::new();
    for p in projects
        .iter()
        .filter(|p| p.state() == ProjectState::Running)
    {
        let href = if p.is_root {
            "/".to_string()
        } else {
            format!("{}/", p.route)
        };
        items.push_str(&format!(
            "<li><a href=\"{href}\">{name}</a> <span class=\"owner\">by {owner}</span><p>{desc}</p></li>",
            href = escape(&href),
            name = escape(&p.name),
            owner = escape(&p.owner),
            desc = escape(&p.description),
        ));
    }
    if items.is_empty() {
        items.push_str("<li>Nothing is hosted yet.</li>");
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{domain} · clubhost</title>\
         <link rel=\"stylesheet\" href=\"/portal/static/style.css\"></head><body>\
         <header><h1>{domain}</h1><p>What our club hosts</p></header>\
         <main><ul class=\"gallery\">{items}</ul></main></body></html>",
        domain = escape(&c.config.domain),
    ))
    .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match Assets::get(&file) {
        Some(content) => {
            let mime = match file.rsplit('.').next() {
                Some("css") => "text/css",
                Some("js") => "text/javascript",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                _ => "application/octet-stream",
            };
            ([(header::CONTENT_TYPE, mime)], content.data).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
