//! What a service may refer to while it is read: the stack's services, volumes, networks, secrets
//! and configs. Built by `top` once the top-level keys are read, passed to every part.

use super::SecretSource;
use super::volumes::Declared;

/// What a service may refer to.
pub(crate) struct Context<'a> {
    pub(crate) services: &'a [String],
    pub(crate) volumes: &'a [Declared],
    /// Declared networks and whether each is external (the gateway).
    pub(crate) networks: &'a [(String, bool)],
    /// Top-level `secrets:` and `configs:`: names and where each value comes from (`None`: an
    /// entry already refused).
    pub(crate) secrets: &'a [(String, Option<SecretSource>)],
    pub(crate) configs: &'a [(String, Option<SecretSource>)],
}
