//! What a service may refer to while it is read: the stack's services, volumes, networks, secrets
//! and configs. Built by `top` once the top-level keys are read, passed to every part.

use super::volumes::Declared;

/// What a service may refer to.
pub struct Context<'a> {
    pub services: &'a [String],
    pub volumes: &'a [Declared],
    /// Declared networks and whether each is external (the gateway).
    pub networks: &'a [(String, bool)],
    /// Top-level `secrets:` and `configs:` names.
    pub secrets: &'a [String],
    pub configs: &'a [String],
}
