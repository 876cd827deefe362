//! The one place that decides who may do what: [`member`], [`admin`], [`owner_or_admin`]. Every
//! portal operation starts with one of these (sign-up and login are in `account`).

use super::refusal::Denied;
use super::session::Viewer;
use clubhost_core::model::Project;
use clubhost_core::model::Session;

// ---- who may do what ----

/// Any signed-in, enabled account.
pub fn member(v: &Viewer) -> Result<&Session, Denied> {
    v.session.as_ref().ok_or(Denied::NotSignedIn)
}

pub fn admin(v: &Viewer) -> Result<&Session, Denied> {
    let s = member(v)?;
    if !s.user.is_admin {
        return Err(Denied::Forbidden("only admins may do this".into()));
    }
    Ok(s)
}

/// The project's owner, or an admin.
pub fn owner_or_admin<'a>(v: &'a Viewer, p: &Project) -> Result<&'a Session, Denied> {
    let s = member(v)?;
    if !s.user.is_admin && s.user.id != p.owner_id {
        return Err(Denied::Forbidden(format!(
            "project {:?} belongs to another member",
            p.slug
        )));
    }
    Ok(s)
}

// ---- operations (shared by pages and the API) ----

// ---- pages ----
