//! The compose file as written: serde structs that mirror the Compose Specification keys clubhost
//! supports, and nothing else.
//!
//! Every struct denies unknown fields, so a key clubhost does not support (including dangerous ones
//! like `privileged` or `ports`) is an error that names the key and its line, never a silent drop.
//! [`super::normalize`] turns this into the [`super::Stack`] that deploys.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeFile {
    /// Accepted and ignored, as Compose does today.
    #[allow(dead_code)]
    pub version: Option<Scalar>,
    pub services: IndexMap<String, Service>,
    #[serde(default)]
    pub volumes: IndexMap<String, Option<VolumeDef>>,
    #[serde(rename = "x-clubhost")]
    pub x_clubhost: Option<XClubhost>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub image: Option<String>,
    pub command: Option<StringOrList>,
    pub entrypoint: Option<StringOrList>,
    pub environment: Option<Environment>,
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeDef {
    /// Only labels-free local volumes exist here; a driver other than `local` is refused.
    pub driver: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XClubhost {
    /// The one service the proxy serves.
    pub expose: String,
    /// Its port inside the container.
    pub port: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    pub test: Option<StringOrList>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
    #[serde(default)]
    pub disable: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StringOrList {
    String(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Environment {
    Map(IndexMap<String, Option<Scalar>>),
    List(Vec<String>),
}

/// A YAML scalar where Compose takes any of them and means its text (`PORT: 80`, `DEBUG: true`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

impl Scalar {
    pub fn to_text(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::String(s) => s.clone(),
        }
    }
}
