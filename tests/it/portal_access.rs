//! Who may call what: one table of every portal route (the pages in `portal::router` and the JSON
//! API in `portal::api::router`) with the answer each kind of caller gets. Every case runs in a
//! fresh, identical world, so a row that logs out, deletes or promotes never disturbs another.
//!
//! The world: members `ana` (owns `ana-req`, requested, and `ana-live`, failed) and `bo` (owns
//! nothing), admin `boss`, and `dee`, disabled after signing in, who still sends her old session
//! cookie. `ghost` is a project that does not exist. The Docker engine is unreachable in this world
//! (`docker.host` points at a missing socket), so an operation that gets past every check and
//! needs Docker answers 503: that is "allowed" for approve, redeploy, expire and logs, and costs no
//! containers. The real flows behind those rows run in `portal_projects`.
//!
//! Conventions the table records (read from `portal::Denied` and the handlers): pages send a caller
//! who is not signed in to the login form (303), the API answers 401; a signed-in caller who may
//! not act gets 403; a project that does not exist is 404; bad input is 422; an action the project's state does not allow is 409.
//!
//! Columns: anonymous, member (not the owner), owner (`ana`), admin. A disabled account's cookie
//! signs nobody in, so `dee` must get exactly the anonymous column; the test checks that on every
//! row. Every state-changing row also runs without the CSRF token and with the token but from a
//! foreign origin: both must be refused with 403, except that a caller the route turns away for
//! not being signed in keeps that answer (those routes ask for the session first); sign-up and
//! login by JSON take no token, so only their foreign-origin run is refused. Every refusal (4xx,
//! the login redirect, and 503 when Docker is unreachable) must leave accounts, projects and the
//! audit log exactly as they were.
//!
//! Adding a route is one line in [`ROUTES`]; `every_route_has_a_row` fails until it has one.

use std::sync::LazyLock;

use axum::body::Body;
use futures_util::StreamExt;
use hyper::Request;

use clubhost::portal::session::{LIFETIME_SECS, hash_token, random_token};
use clubhost_core::control::Submission;
use clubhost_core::model::ProjectState;
use clubhost_core::model::UserFlag;

use crate::common::urlencode;
use crate::portal::{HOST, PASSWORD, Portal, Reply};

/// What a route must answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Want {
    Status(u16),
    /// A redirect with this status to this location.
    Redirect(u16, &'static str),
}

const OK: Want = Want::Status(200);
const CREATED: Want = Want::Status(201);
/// A page's answer to a caller who is not signed in.
const LOGIN: Want = Want::Redirect(303, "/portal/login");
/// The API's answer to a caller who is not signed in.
const NO_SESSION: Want = Want::Status(401);
const FORBIDDEN: Want = Want::Status(403);
const NOT_FOUND: Want = Want::Status(404);
const INVALID: Want = Want::Status(422);
/// The project is not in a state that allows it (editing a request that was not sent back).
const CONFLICT: Want = Want::Status(409);
/// Past every check, at the Docker engine (unreachable in this world).
const DOCKER: Want = Want::Status(503);
const fn see(to: &'static str) -> Want {
    Want::Redirect(303, to)
}

/// How a request carries its input, and so where its CSRF token goes.
#[derive(Clone, Copy, Debug)]
enum Input {
    /// A GET: changes nothing, carries no token.
    Read,
    /// A state-changing API call with this JSON body ("" for none); token in `X-CSRF-Token`.
    Json(&'static str),
    /// A JSON call that by design takes no token (sign-up, login: there is no session yet); the
    /// origin check still applies.
    Open(&'static str),
    /// An HTML form with these urlencoded fields; token in the `csrf` field.
    Form(&'static str),
    /// The multipart request form with these (urlencoded) fields; token in a `csrf` part.
    Multipart(&'static str),
}

struct Row {
    method: &'static str,
    path: &'static str,
    input: Input,
    /// Anonymous, member (not the owner), owner, admin.
    want: [Want; 4],
}

const fn get(path: &'static str, want: [Want; 4]) -> Row {
    Row {
        method: "GET",
        path,
        input: Input::Read,
        want,
    }
}

const fn post(path: &'static str, input: Input, want: [Want; 4]) -> Row {
    Row {
        method: "POST",
        path,
        input,
        want,
    }
}

use Input::{Form, Json, Multipart, Open};

/// A stack the checker accepts (no deploy happens in this world). `$STACK` in a body stands for it.
const STACK: &str = "{services: {web: {image: busybox}}, x-clubhost: {expose: web, port: 8000}}";
const SIGNUP: &str =
    r#"{"name":"newbie","email":"newbie@club.example","password":"correct horse battery"}"#;
const SIGNUP_FORM: &str = "name=newbie&email=newbie%40club.example&password=correct+horse+battery";
const LOGIN_AS_ANA: &str = r#"{"login":"ana","password":"correct horse battery"}"#;
const REQUEST: &str = r#"{"name":"New site","slug":"new-site","stack":"$STACK"}"#;
const REQUEST_FORM: &str = "name=New+site&slug=new-site&days=10&stack=$STACK";

#[rustfmt::skip]
const ROUTES: &[Row] = &[
    // ---- pages (portal::router) ----                                 anonymous   member      owner       admin
    get("/portal/",                                                     [OK,        OK,         OK,         OK]),
    get("/portal",                                                      [Want::Redirect(308, "/portal/"); 4]),
    get("/",                                                            [OK,        OK,         OK,         OK]),
    get("/portal/club",                                                 [OK,        OK,         OK,         OK]),
    get("/portal/admin/dashboard",                                      [LOGIN,     FORBIDDEN,  FORBIDDEN,  OK]),
    get("/portal/static/style.css",                                     [OK,        OK,         OK,         OK]),
    get("/portal/static/..%2f..%2fCargo.toml",                          [NOT_FOUND; 4]),
    get("/portal/join",                                                 [LOGIN,     OK,         OK,         OK]),
    get("/portal/lang/ko?back=/portal/join",                            [see("/portal/join"); 4]),
    get("/portal/lang/xx",                                              [NOT_FOUND; 4]),
    post("/portal/join", Form(""),                                      [LOGIN,     OK,         OK,         OK]),
    get("/portal/signup",                                               [OK,        OK,         OK,         OK]),
    post("/portal/signup", Form(SIGNUP_FORM),                           [see("/portal/projects"); 4]),
    get("/portal/login",                                                [OK,        OK,         OK,         OK]),
    post("/portal/login", Form("login=ana&password=correct+horse+battery"), [see("/portal/projects"); 4]),
    post("/portal/logout", Form(""),                                    [see("/portal/"); 4]),
    get("/portal/account",                                              [LOGIN,     OK,         OK,         OK]),
    post("/portal/account", Form("current=correct+horse+battery&new=another+long+password"),
                                                                        [LOGIN, see("/portal/account?changed=1"), see("/portal/account?changed=1"), see("/portal/account?changed=1")]),
    get("/portal/request",                                              [LOGIN,     OK,         OK,         OK]),
    post("/portal/request", Multipart(REQUEST_FORM),                    [LOGIN, see("/portal/projects?submitted=1"), see("/portal/projects?submitted=1"), see("/portal/projects?submitted=1")]),
    get("/portal/projects",                                             [LOGIN,     OK,         OK,         OK]),
    get("/portal/projects/ana-live/logs",                               [LOGIN,     FORBIDDEN,  DOCKER,     DOCKER]),
    get("/portal/projects/ghost/logs",                                  [LOGIN,     NOT_FOUND,  NOT_FOUND,  NOT_FOUND]),
    get("/portal/projects/ana-live/logs/live",                          [LOGIN,     FORBIDDEN,  DOCKER,     DOCKER]),
    get("/portal/projects/ana-live/backups",                            [LOGIN,     FORBIDDEN,  OK,         OK]),
    get("/portal/projects/ghost/backups",                               [LOGIN,     NOT_FOUND,  NOT_FOUND,  NOT_FOUND]),
    get("/portal/projects/ana-live/backups/1/project.json",             [LOGIN,     FORBIDDEN,  NOT_FOUND,  NOT_FOUND]),
    get("/portal/projects/ana-live/archive/1",                          [LOGIN,     FORBIDDEN,  NOT_FOUND,  NOT_FOUND]),
    post("/portal/projects/ana-req/withdraw", Form(""),                 [LOGIN,     FORBIDDEN,  see("/portal/projects"), see("/portal/projects")]),
    post("/portal/projects/ana-live/redeploy", Form(""),                [LOGIN,     FORBIDDEN,  DOCKER,     DOCKER]),
    post("/portal/projects/ana-req/redeploy", Form(""),                 [LOGIN,     FORBIDDEN,  FORBIDDEN,  DOCKER]),
    post("/portal/projects/ana-req/explode", Form(""),                  [LOGIN,     FORBIDDEN,  INVALID,    INVALID]),
    post("/portal/projects/ghost/withdraw", Form(""),                   [LOGIN,     NOT_FOUND,  NOT_FOUND,  NOT_FOUND]),
    get("/portal/admin/",                                               [LOGIN,     FORBIDDEN,  FORBIDDEN,  OK]),
    get("/portal/admin/projects",                                       [LOGIN,     FORBIDDEN,  FORBIDDEN,  OK]),
    post("/portal/admin/projects/ana-req/approve", Form(""),            [LOGIN,     FORBIDDEN,  FORBIDDEN,  DOCKER]),
    post("/portal/admin/projects/ana-req/reject", Form("reason=off+topic"), [LOGIN, FORBIDDEN,  FORBIDDEN,  see("/portal/admin/")]),
    post("/portal/admin/projects/ana-live/expire", Form(""),            [LOGIN,     FORBIDDEN,  FORBIDDEN,  DOCKER]),
    post("/portal/admin/projects/ana-req/delete", Form("confirm=ana-req"), [LOGIN,  FORBIDDEN,  FORBIDDEN,  see("/portal/admin/projects")]),
    post("/portal/admin/projects/ana-req/delete", Form("confirm=oops"), [LOGIN,     FORBIDDEN,  FORBIDDEN,  INVALID]),
    get("/portal/admin/users",                                          [LOGIN,     FORBIDDEN,  FORBIDDEN,  OK]),
    post("/portal/admin/users/bo/promote", Form(""),                    [LOGIN,     FORBIDDEN,  FORBIDDEN,  see("/portal/admin/users")]),
    post("/portal/admin/users/ana/disable", Form(""),                   [LOGIN,     FORBIDDEN,  FORBIDDEN,  see("/portal/admin/users")]),
    post("/portal/admin/users/boss/demote", Form(""),                   [LOGIN,     FORBIDDEN,  FORBIDDEN,  INVALID]),
    post("/portal/admin/users/ghost/promote", Form(""),                 [LOGIN,     FORBIDDEN,  FORBIDDEN,  NOT_FOUND]),
    get("/portal/admin/audit",                                          [LOGIN,     FORBIDDEN,  FORBIDDEN,  OK]),
    get("/portal/admin/audit?user=ana&project=ana-req",                 [LOGIN,     FORBIDDEN,  FORBIDDEN,  OK]),
    get("/portal/admin/routes",                                         [LOGIN,     FORBIDDEN,  FORBIDDEN,  OK]),
    // ---- members' own domains and the certificates page (portal::domains) ----
    get("/portal/admin/certificates",                                   [LOGIN,     FORBIDDEN,  FORBIDDEN,  OK]),
    post("/portal/projects/ana-req/domains", Form("name=not_a_name.example"), [LOGIN, FORBIDDEN, INVALID,    INVALID]),
    post("/portal/projects/ghost/domains", Form("name=x.example"),      [LOGIN,     NOT_FOUND,  NOT_FOUND,  NOT_FOUND]),
    post("/portal/projects/ana-req/domains/ghost.example/check", Form(""), [LOGIN,  FORBIDDEN,  NOT_FOUND,  NOT_FOUND]),
    post("/portal/projects/ana-req/domains/ghost.example/remove", Form(""), [LOGIN, FORBIDDEN,  NOT_FOUND,  NOT_FOUND]),
    // ---- a project's page and deploy progress (portal::project) ----
    get("/portal/projects/ana-req",                                     [LOGIN,     FORBIDDEN,  OK,         OK]),
    get("/portal/projects/ghost",                                       [LOGIN,     NOT_FOUND,  NOT_FOUND,  NOT_FOUND]),
    get("/portal/projects/ana-req/progress",                            [LOGIN,     FORBIDDEN,  OK,         OK]),
    get("/portal/api/projects/ana-req/progress",                        [NO_SESSION, FORBIDDEN, OK,         OK]),
    // ---- edit and resubmit a request that was sent back (portal::request) ----
    get("/portal/projects/ana-req/edit",                                [LOGIN,     FORBIDDEN,  CONFLICT,   CONFLICT]),
    post("/portal/projects/ana-req/edit", Multipart("name=New+name&stack=$STACK"),
                                                                        [LOGIN,     FORBIDDEN,  CONFLICT,   CONFLICT]),
    get("/portal/api/templates",                                        [NO_SESSION, OK,        OK,         OK]),
    post("/portal/api/projects/ana-req/check", Json("{}"),              [NO_SESSION, FORBIDDEN, OK,         OK]),
    post("/portal/api/projects/ana-req/resubmit", Json("{}"),           [NO_SESSION, FORBIDDEN, CONFLICT,   CONFLICT]),
    post("/portal/api/admin/projects/ana-req/send-back", Json(r#"{"note":"name the source"}"#),
                                                                        [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    post("/portal/api/admin/projects/ana-req/send-back", Json(""),      [NO_SESSION, FORBIDDEN, FORBIDDEN,  INVALID]),
    post("/portal/admin/projects/ana-req/send-back", Form("note=name+the+source"),
                                                                        [LOGIN,     FORBIDDEN,  FORBIDDEN,  see("/portal/admin/")]),
    // ---- renewals and term actions (portal::terms) ----
    post("/portal/projects/ana-live/renew", Form("end=2000-01-01&reason=more+time"),
                                                                        [LOGIN,     FORBIDDEN,  INVALID,    INVALID]),
    post("/portal/api/projects/ana-live/renew", Json(r#"{"end":"2000-01-01","reason":"more time"}"#),
                                                                        [NO_SESSION, FORBIDDEN, INVALID,    INVALID]),
    get("/portal/api/admin/renewals",                                   [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    post("/portal/admin/renewals/999/approve", Form(""),                [LOGIN,     FORBIDDEN,  FORBIDDEN,  NOT_FOUND]),
    post("/portal/api/admin/renewals/999/approve", Json(""),            [NO_SESSION, FORBIDDEN, FORBIDDEN,  NOT_FOUND]),
    post("/portal/api/admin/projects/ana-live/term", Json(r#"{"end":"2000-01-01"}"#),
                                                                        [NO_SESSION, FORBIDDEN, FORBIDDEN,  INVALID]),
    // ---- JSON API (portal::api::router) ----
    get("/portal/api/me",                                               [NO_SESSION, OK,        OK,         OK]),
    get("/portal/api/gallery",                                          [OK,        OK,         OK,         OK]),
    get("/portal/api/join",                                             [NO_SESSION, OK,        OK,         OK]),
    post("/portal/api/signup", Open(SIGNUP),                            [CREATED; 4]),
    post("/portal/api/login", Open(LOGIN_AS_ANA),                       [OK; 4]),
    post("/portal/api/logout", Json(""),                                [NO_SESSION, OK,        OK,         OK]),
    post("/portal/api/password", Json(r#"{"current":"correct horse battery","new":"another long password"}"#),
                                                                        [NO_SESSION, OK,        OK,         OK]),
    get("/portal/api/slug?slug=free-slug",                              [NO_SESSION, OK,        OK,         OK]),
    post("/portal/api/check", Json(REQUEST),                            [NO_SESSION, OK,        OK,         OK]),
    get("/portal/api/projects",                                         [NO_SESSION, OK,        OK,         OK]),
    post("/portal/api/projects", Json(REQUEST),                         [NO_SESSION, CREATED,   CREATED,    CREATED]),
    get("/portal/api/projects/ana-req",                                 [NO_SESSION, FORBIDDEN, OK,         OK]),
    get("/portal/api/projects/ghost",                                   [NO_SESSION, NOT_FOUND, NOT_FOUND,  NOT_FOUND]),
    get("/portal/api/projects/ana-live/logs",                           [NO_SESSION, FORBIDDEN, DOCKER,     DOCKER]),
    get("/portal/api/projects/ghost/logs",                              [NO_SESSION, NOT_FOUND, NOT_FOUND,  NOT_FOUND]),
    post("/portal/api/projects/ana-req/withdraw", Json(""),             [NO_SESSION, FORBIDDEN, OK,         OK]),
    post("/portal/api/projects/ana-live/redeploy", Json(""),            [NO_SESSION, FORBIDDEN, DOCKER,     DOCKER]),
    post("/portal/api/projects/ana-req/explode", Json(""),              [NO_SESSION, FORBIDDEN, INVALID,    INVALID]),
    post("/portal/api/projects/ghost/withdraw", Json(""),               [NO_SESSION, NOT_FOUND, NOT_FOUND,  NOT_FOUND]),
    get("/portal/api/admin/queue",                                      [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    get("/portal/api/admin/projects",                                   [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    post("/portal/api/admin/projects/ana-req/approve", Json(""),        [NO_SESSION, FORBIDDEN, FORBIDDEN,  DOCKER]),
    post("/portal/api/admin/projects/ana-req/reject", Json(r#"{"reason":"off topic"}"#),
                                                                        [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    post("/portal/api/admin/projects/ana-req/reject", Json(""),         [NO_SESSION, FORBIDDEN, FORBIDDEN,  INVALID]),
    post("/portal/api/admin/projects/ghost/reject", Json(r#"{"reason":"x"}"#),
                                                                        [NO_SESSION, FORBIDDEN, FORBIDDEN,  NOT_FOUND]),
    post("/portal/api/admin/projects/ana-live/expire", Json(""),        [NO_SESSION, FORBIDDEN, FORBIDDEN,  DOCKER]),
    post("/portal/api/admin/projects/ana-live/redeploy", Json(""),      [NO_SESSION, FORBIDDEN, FORBIDDEN,  DOCKER]),
    post("/portal/api/admin/projects/ana-req/delete", Json(r#"{"confirm":"ana-req"}"#),
                                                                        [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    get("/portal/api/admin/users",                                      [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    post("/portal/api/admin/users/bo/promote", Json(""),                [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    post("/portal/api/admin/users/ana/disable", Json(""),               [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    post("/portal/api/admin/users/boss/demote", Json(""),               [NO_SESSION, FORBIDDEN, FORBIDDEN,  INVALID]),
    get("/portal/api/admin/audit",                                      [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
    get("/portal/api/admin/routes",                                     [NO_SESSION, FORBIDDEN, FORBIDDEN,  OK]),
];

/// Who sends the request.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Anonymous,
    Member,
    Owner,
    Admin,
    /// A disabled account still sending its old session cookie: must be treated as anonymous.
    Disabled,
}

impl Caller {
    const ALL: [Caller; 5] = [
        Caller::Anonymous,
        Caller::Member,
        Caller::Owner,
        Caller::Admin,
        Caller::Disabled,
    ];

    fn column(self) -> usize {
        match self {
            Caller::Anonymous | Caller::Disabled => 0,
            Caller::Member => 1,
            Caller::Owner => 2,
            Caller::Admin => 3,
        }
    }
}

/// How a state-changing request treats its CSRF token.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// The token the portal's pages give this browser, from the portal's own origin.
    Token,
    /// No token at all.
    NoToken,
    /// The right token, but sent by a page on another site.
    CrossSite,
}

/// What a browser sends: its cookies and the token the portal's pages would give it (the session's
/// for a live session, else the anonymous `clubhost_csrf` cookie's).
struct Browser {
    cookie: String,
    token: String,
}

/// Every user gets this password; hashed once per test process (Argon2 is slow on purpose).
static HASH: LazyLock<String> =
    LazyLock::new(|| clubhost_core::accounts::hash_password(PASSWORD).unwrap());

/// A fresh world (see the module comment) and a browser per caller.
async fn world() -> (Portal, [Browser; 5]) {
    let p = Portal::new(|c| {
        c.docker.host = Some("unix:///nonexistent/clubhost-access-test/docker.sock".into())
    })
    .await;
    let reg = &p.registry;
    for name in ["ana", "bo", "dee"] {
        reg.create_account(name, &format!("{name}@club.example"), &HASH)
            .await
            .unwrap();
    }
    reg.add_user("boss", true, None, "test").await.unwrap();
    reg.set_password("boss", &HASH, "test").await.unwrap();
    for slug in ["ana-req", "ana-live"] {
        let s = Submission {
            owner: "ana".into(),
            slug: slug.into(),
            name: None,
            description: String::new(),
            stack: STACK.into(),
            days: None,
            root: false,
            vars: Default::default(),
            source_url: String::new(),
        };
        p.control.submit(&s, "ana").await.unwrap();
    }
    for to in [
        ProjectState::Approved,
        ProjectState::Deploying,
        ProjectState::Failed,
    ] {
        reg.transition("ana-live", to, "test", "test world")
            .await
            .unwrap();
    }
    let pre = random_token();
    let session = async |name: &str| {
        let token = random_token();
        let csrf = random_token();
        let id = reg.user(name).await.unwrap().id;
        reg.create_session(&hash_token(&token), id, &csrf, LIFETIME_SECS)
            .await
            .unwrap();
        Browser {
            cookie: format!("clubhost_session={token}; clubhost_csrf={pre}"),
            token: csrf,
        }
    };
    let (bo, ana, boss) = (
        session("bo").await,
        session("ana").await,
        session("boss").await,
    );
    let mut dee = session("dee").await;
    reg.set_user_flag("dee", UserFlag::Disabled, true, "test")
        .await
        .unwrap();
    // Her pages now carry the anonymous token, as anyone's without a session do.
    dee.token = pre.clone();
    let anonymous = Browser {
        cookie: format!("clubhost_csrf={pre}"),
        token: pre,
    };
    (p, [anonymous, bo, ana, boss, dee])
}

fn urldecode(s: &str) -> String {
    let s = s.replace('+', " ");
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = bytes.by_ref().take(2).map(char::from).collect();
            out.push(u8::from_str_radix(&hex, 16).unwrap());
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).unwrap()
}

fn request(row: &Row, browser: &Browser, variant: Variant) -> Request<Body> {
    let mut req = Request::builder()
        .method(row.method)
        .uri(row.path)
        .header("host", HOST)
        .header("cookie", &browser.cookie);
    if row.method != "GET" {
        req = match variant {
            Variant::CrossSite => req
                .header("origin", "https://evil.example")
                .header("sec-fetch-site", "cross-site"),
            _ => req
                .header("origin", format!("http://{HOST}"))
                .header("sec-fetch-site", "same-origin"),
        };
    }
    let token = (variant != Variant::NoToken).then_some(browser.token.as_str());
    let body = match row.input {
        Input::Read => Body::empty(),
        Input::Json(json) | Input::Open(json) => {
            req = req.header("content-type", "application/json");
            if let (Input::Json(_), Some(t)) = (row.input, token) {
                req = req.header("x-csrf-token", t);
            }
            Body::from(json.replace("$STACK", STACK))
        }
        Input::Form(fields) => {
            req = req.header("content-type", "application/x-www-form-urlencoded");
            let mut body = fields.replace("$STACK", &urlencode(STACK));
            if let Some(t) = token {
                body = format!("{body}&csrf={t}");
            }
            Body::from(body)
        }
        Input::Multipart(fields) => {
            let boundary = "XACCESSBOUNDARYX";
            req = req.header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            );
            let mut parts: Vec<(String, String)> = fields
                .replace("$STACK", &urlencode(STACK))
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), urldecode(v)))
                .collect();
            if let Some(t) = token {
                parts.push(("csrf".into(), t.into()));
            }
            let mut body = String::new();
            for (k, v) in parts {
                body.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                ));
            }
            body.push_str(&format!("--{boundary}--\r\n"));
            Body::from(body)
        }
    };
    req.body(body).unwrap()
}

impl Want {
    fn show(self) -> String {
        match self {
            Want::Status(s) => s.to_string(),
            Want::Redirect(s, to) => format!("{s} to {to}"),
        }
    }
}

/// A reply in [`Want::show`]'s terms.
fn answer(r: &Reply) -> String {
    match r.headers.get("location") {
        Some(to) if r.status.is_redirection() => {
            format!("{} to {}", r.status.as_u16(), to.to_str().unwrap_or("?"))
        }
        _ => r.status.as_u16().to_string(),
    }
}

/// What a state-changing route must answer without its token, or from a foreign origin: 403,
/// unless the caller is turned away for not being signed in anyway.
fn refused(with_token: Want) -> Want {
    if with_token == LOGIN || with_token == NO_SESSION {
        with_token
    } else {
        FORBIDDEN
    }
}

/// One case in its own world; `Some(description)` when the answer is not the table's.
async fn run(row: &'static Row, caller: Caller, variant: Variant) -> Option<String> {
    let (portal, browsers) = world().await;
    let want = row.want[caller.column()];
    let expected = match (variant, row.input) {
        (Variant::Token, _) | (Variant::NoToken, Input::Open(_)) => want,
        _ => refused(want),
    };
    let before = snapshot(&portal).await;
    let reply = portal
        .send(request(row, &browsers[caller as usize], variant))
        .await;
    let got = answer(&reply);
    let body: String = reply.body.chars().take(160).collect();
    let what = format!("{} {} as {caller:?} ({variant:?})", row.method, row.path);
    if got != expected.show() {
        return Some(format!(
            "{what}: want {}, got {got}: {body}",
            expected.show()
        ));
    }
    let refusal = matches!(expected, Want::Status(s) if s >= 400) || expected == LOGIN;
    let after = snapshot(&portal).await;
    (refusal && after != before)
        .then(|| format!("{what}: refused with {got} but changed the registry:\n{before}\n{after}"))
}

/// What a refused request must leave as it was: accounts, projects and the audit log.
async fn snapshot(p: &Portal) -> String {
    let reg = &p.registry;
    let users: Vec<_> = reg
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.name, u.is_admin, u.disabled))
        .collect();
    let projects: Vec<_> = reg
        .projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.slug.clone(), p.state()))
        .collect();
    let audit = reg.audit_log(None).await.unwrap().len();
    format!("users {users:?}, projects {projects:?}, audit entries {audit}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_caller_as_the_table_says() {
    let mut cases = Vec::new();
    for row in ROUTES {
        let variants: &[Variant] = match row.input {
            Input::Read => &[Variant::Token],
            _ => &[Variant::Token, Variant::NoToken, Variant::CrossSite],
        };
        for &caller in &Caller::ALL {
            for &variant in variants {
                cases.push((row, caller, variant));
            }
        }
    }
    let total = cases.len();
    let failures: Vec<String> = futures_util::stream::iter(cases)
        .map(|(row, caller, variant)| run(row, caller, variant))
        .buffer_unordered(4)
        .filter_map(|f| async { f })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of {total} cases answered differently from the table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The routes the portal's routers declare, as (method, pattern), read from their source so a new
/// route cannot go without a row.
fn declared_routes() -> Vec<(String, String)> {
    let mut out = Vec::new();
    // Each router builds its paths under the portal's base (`/portal` here): `at("/x")`.
    for (file, at) in [
        ("src/portal/mod.rs", "/portal"),
        ("src/portal/api.rs", "/portal/api"),
        ("src/portal/project.rs", "/portal"),
        ("src/portal/terms.rs", "/portal"),
        ("src/portal/domains.rs", "/portal"),
    ] {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let src = std::fs::read_to_string(&path).unwrap();
        for chunk in src.split(".route(").skip(1) {
            // This route's call ends where the next builder call or the function does.
            let end = [".merge(", ".layer(", ".with_state(", "\n}"]
                .iter()
                .filter_map(|m| chunk.find(m))
                .min()
                .unwrap_or(chunk.len());
            let chunk = &chunk[..end];
            let pattern = if chunk.trim_start().starts_with("&base") {
                at.to_string()
            } else {
                let literal = chunk.split('"').nth(1).unwrap();
                if chunk.trim_start().starts_with("&at(") {
                    format!("{at}{literal}")
                } else {
                    literal.to_string()
                }
            };
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = chunk.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || !chunk.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && chunk.as_bytes()[i - 1] != b'_'
                });
                if called {
                    out.push((method.to_uppercase(), pattern.clone()));
                }
            }
        }
    }
    out
}

/// Whether a concrete path (query ignored) fits an axum pattern (`{name}`, `{*rest}`).
fn fits(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap();
    let (mut pat, mut segs) = (pattern.split('/'), path.split('/'));
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p.starts_with("{*") => return !s.is_empty(),
            (Some(p), Some(s)) if p.starts_with('{') => {
                if s.is_empty() {
                    return false;
                }
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

#[test]
fn every_route_has_a_row() {
    let declared = declared_routes();
    assert!(
        declared.len() >= 30,
        "found only {} routes in the portal's routers; has their source layout changed? {declared:?}",
        declared.len()
    );
    let missing: Vec<_> = declared
        .iter()
        .filter(|(m, p)| !ROUTES.iter().any(|r| r.method == m && fits(p, r.path)))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a row in ROUTES: {missing:?}"
    );
    let stray: Vec<_> = ROUTES
        .iter()
        .filter(|r| {
            !declared
                .iter()
                .any(|(m, p)| r.method == m && fits(p, r.path))
        })
        .map(|r| (r.method, r.path))
        .collect();
    assert!(stray.is_empty(), "rows that match no route: {stray:?}");
}
