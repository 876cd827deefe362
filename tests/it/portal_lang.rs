//! The portal in Korean and English over the real server: `Accept-Language` picks the language,
//! the switch's cookie overrides it and sticks, `[club] language` is the default, and the switch
//! only ever returns to a page of the portal. And every page of the portal, fetched in each
//! language (the router in-process, real SQLite, as anonymous, member and admin, and a refusal),
//! shows no sentence of the other language's catalogue and no raw catalogue key.

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::portal::{Agent, Portal, web_stack};

/// The portal's front page as the given request headers get it: status, body, headers.
async fn get(club: &Club, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = http().get(club.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn accept_language_the_switch_and_the_clubs_default_choose_the_language() {
    let mut club = Club::new();
    club.start();

    let page = get(
        &club,
        "/portal/",
        &[("accept-language", "ko-KR,ko;q=0.9,en;q=0.5")],
    )
    .await;
    let body = page.text().await.unwrap();
    assert!(body.contains("<html lang=\"ko\">"), "{body}");
    assert!(
        body.contains(">갤러리</a>") && body.contains(">로그인</a>"),
        "{body}"
    );

    let page = get(&club, "/portal/login", &[("accept-language", "en-GB")]).await;
    let body = page.text().await.unwrap();
    assert!(
        body.contains("<html lang=\"en\">") && body.contains(">Log in</a>"),
        "{body}"
    );
    // The switch links back to this page.
    assert!(
        body.contains("/portal/lang/ko?back=/portal/login\""),
        "no switch back to this page: {body}"
    );

    // The switch sets a cookie for a year and returns to the page; the cookie beats the header.
    let switched = get(&club, "/portal/lang/ko?back=/portal/login", &[]).await;
    assert_eq!(switched.status(), 303);
    assert_eq!(switched.headers()["location"], "/portal/login");
    let cookie = switched.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("clubhost_lang=ko;") && cookie.contains("Max-Age=31536000"));
    // For the whole site: the club's front door at `/` reads it too, and the switch there
    // returns to it.
    assert!(cookie.contains("; Path=/;"), "{cookie}");
    let r = get(&club, "/portal/lang/ko?back=/", &[]).await;
    assert_eq!(r.headers()["location"], "/");
    let pair = cookie.split(';').next().unwrap();
    let page = get(
        &club,
        "/portal/login",
        &[("cookie", pair), ("accept-language", "en")],
    )
    .await;
    let body = page.text().await.unwrap();
    assert!(
        body.contains(">로그인</a>"),
        "the cookie did not stick: {body}"
    );

    // Never back to another site, and an unknown language is a clear 404.
    for evil in ["https://evil.example/", "//evil.example/", "/elsewhere"] {
        let r = get(&club, &format!("/portal/lang/en?back={evil}"), &[]).await;
        assert_eq!(r.headers()["location"], "/portal/", "back={evil}");
    }
    // The club's front door speaks it too.
    let page = get(&club, "/", &[("accept-language", "ko")]).await;
    let body = page.text().await.unwrap();
    assert!(
        body.contains(">가입 방법</h2>") && body.contains(">동아리가 호스팅하는 프로젝트</h2>"),
        "{body}"
    );
    let r = get(&club, "/portal/lang/fr", &[]).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("\"fr\""));
    club.stop();

    // `[club] language` when the browser names no language the portal speaks.
    let text = std::fs::read_to_string(&club.config).unwrap() + "\n[club]\nlanguage = \"ko\"\n";
    std::fs::write(&club.config, text).unwrap();
    club.start();
    let page = get(&club, "/portal/", &[("accept-language", "fr, de;q=0.8")]).await;
    let body = page.text().await.unwrap();
    assert!(body.contains("<html lang=\"ko\">"), "{body}");
}

/// `key = value` lines of a catalogue (one-line values; comments and continuations skipped).
fn catalogue(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(' '))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// What a person reads on the page: no scripts, no `<pre>` (stack files and checker output,
/// English on purpose), no tags, entities decoded.
fn visible_text(html: &str) -> String {
    let mut text = html.to_string();
    for (open, close) in [("<script", "</script>"), ("<pre", "</pre>")] {
        while let Some(start) = text.find(open) {
            let end = text[start..]
                .find(close)
                .map_or(text.len(), |e| start + e + close.len());
            text.replace_range(start..end, " ");
        }
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    for (entity, c) in [
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ] {
        out = out.replace(entity, c);
    }
    out
}

/// The English sentences a Korean page must not show: each catalogue value's text between its
/// variables, where it is a phrase (two words, ten characters) Korean says otherwise.
fn english_phrases() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let en = catalogue(&std::fs::read_to_string(root.join("web/i18n/en.ftl")).unwrap());
    let ko = catalogue(&std::fs::read_to_string(root.join("web/i18n/ko.ftl")).unwrap());
    let mut phrases = Vec::new();
    for (key, value) in &en {
        if ko.get(key) == Some(value) {
            continue;
        }
        let plain = value.replace("<code>", "{").replace("</code>", "}");
        for piece in plain.split(['{', '}']) {
            let piece = piece.trim();
            let shared = ko.get(key).is_some_and(|k| k.contains(piece));
            if piece.len() >= 10 && piece.contains(' ') && !piece.starts_with('$') && !shared {
                phrases.push((key.clone(), piece.to_string()));
            }
        }
    }
    assert!(phrases.len() > 100, "too few phrases: {}", phrases.len());
    phrases
}

/// `path` as `who` (a session cookie, or none) in `lang`: the page, checked to speak only `lang`.
async fn page_in(p: &Portal, path: &str, who: Option<&Agent>, lang: &str) -> String {
    let cookie = match who {
        Some(a) => format!("{}; clubhost_lang={lang}", a.cookie),
        None => format!("clubhost_lang={lang}"),
    };
    let r = p
        .get(
            path,
            Some(&Agent {
                cookie,
                csrf: String::new(),
            }),
        )
        .await;
    assert!(
        r.status == StatusCode::OK || r.status == StatusCode::FORBIDDEN,
        "{path} in {lang}: {} {}",
        r.status,
        r.body
    );
    r.body
}

/// Checks one page in `lang`: its `<html lang>`, no raw key, no sentence of the other language.
fn speaks_only(path: &str, lang: &str, html: &str, phrases: &[(String, String)], keys: &[String]) {
    assert!(
        html.contains(&format!("<html lang=\"{lang}\">")),
        "{path} is not in {lang}: {html}"
    );
    let text = visible_text(html);
    for key in keys {
        let shown = text.split_whitespace().any(|w| w == key);
        assert!(!shown, "{path} ({lang}) shows the raw key {key}: {text}");
    }
    if lang == "ko" {
        for (key, phrase) in phrases {
            assert!(
                !text.contains(phrase.as_str()),
                "{path} in Korean shows English ({key}): \"{phrase}\"\n{text}"
            );
        }
    } else {
        // The language switch names Korean in Korean; nothing else on an English page is Korean.
        let hangul: String = text
            .replace("한국어", "")
            .chars()
            .filter(|c| ('\u{ac00}'..='\u{d7a3}').contains(c))
            .collect();
        assert!(hangul.is_empty(), "{path} in English shows Korean: {text}");
    }
}

#[tokio::test]
async fn every_page_speaks_the_chosen_language_only() {
    let p = Portal::new(|_| {}).await;
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let (waiting, edited) = (slug("lang-wait"), slug("lang-edit"));
    for s in [&waiting, &edited] {
        let r = p.submit(&ana, s, &web_stack()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = p
        .api(
            "POST",
            &format!("/portal/api/admin/projects/{edited}/send-back"),
            Some(&boss),
            json!({ "note": "Please use a smaller image." }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let phrases = english_phrases();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let keys: Vec<String> =
        catalogue(&std::fs::read_to_string(root.join("web/i18n/en.ftl")).unwrap())
            .into_keys()
            .collect();
    let anonymous = [
        "/",
        "/portal/",
        "/portal/club",
        "/portal/login",
        "/portal/signup",
    ];
    let member = [
        "/portal/projects".to_string(),
        "/portal/request".to_string(),
        "/portal/account".to_string(),
        "/portal/join".to_string(),
        format!("/portal/projects/{waiting}"),
        format!("/portal/projects/{waiting}/backups"),
        format!("/portal/projects/{edited}/edit"),
        // A refusal: an admin page a member may not see.
        "/portal/admin/users".to_string(),
    ];
    let admin = [
        "/portal/".to_string(),
        "/portal/admin/dashboard".to_string(),
        "/portal/admin/".to_string(),
        "/portal/admin/projects".to_string(),
        "/portal/admin/users".to_string(),
        "/portal/admin/audit".to_string(),
        "/portal/admin/routes".to_string(),
        format!("/portal/projects/{edited}"),
    ];
    let mut seen = 0;
    for lang in ["en", "ko"] {
        for path in anonymous {
            speaks_only(
                path,
                lang,
                &page_in(&p, path, None, lang).await,
                &phrases,
                &keys,
            );
            seen += 1;
        }
        for path in &member {
            let html = page_in(&p, path, Some(&ana), lang).await;
            speaks_only(path, lang, &html, &phrases, &keys);
            seen += 1;
        }
        for path in &admin {
            let html = page_in(&p, path, Some(&boss), lang).await;
            speaks_only(path, lang, &html, &phrases, &keys);
            seen += 1;
        }
        // A refused action: the title says which, the reason is in the page's language.
        let r = p
            .form(
                &format!("/portal/admin/projects/{edited}/reject"),
                &format!("{}; clubhost_lang={lang}", boss.cookie),
                &[("csrf", &boss.csrf), ("reason", "no")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        speaks_only("a refused reject", lang, &r.body, &phrases, &keys);
        let (title, reason) = if lang == "ko" {
            (
                format!("“{edited}” 신청을 거절할 수 없습니다"),
                format!(
                    "“{edited}” 프로젝트는 수정을 위해 회원에게 돌려보내졌습니다. 이제 거절할 수 없습니다."
                ),
            )
        } else {
            (
                format!("The request for “{edited}” could not be rejected"),
                format!(
                    "“{edited}” is sent back to its member for changes, so it can no longer be rejected."
                ),
            )
        };
        assert!(
            r.body.contains(&title) && r.body.contains(&reason),
            "{}",
            r.body
        );
    }
    assert_eq!(seen, 2 * (5 + 8 + 8));
}

/// A member's notes speak the language they last used the portal in (the switch, signed in);
/// a member who never chose gets the club's (`[club] language`, English here). Delivered to a
/// local stand-in of a Slack webhook (`sinks`), the far end being the only thing not real.
#[tokio::test(flavor = "multi_thread")]
async fn an_owners_notes_speak_the_language_they_chose() {
    use clubhost_core::notify::{Audience, WebhookConfig, WebhookKind};
    let sink = std::sync::Arc::new(crate::sinks::WebhookSink::start(0));
    let url = sink.url();
    let p = Portal::new(move |c| {
        c.notify.webhooks.push(WebhookConfig {
            kind: WebhookKind::Slack,
            url,
            audience: Audience::Members,
        })
    })
    .await;
    let boss = p.admin("boss").await;
    let ana = p.signup("ana").await;
    let bo = p.signup("bo").await;
    let r = p
        .get("/portal/lang/ko?back=/portal/projects", Some(&ana))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (ko, en) = (slug("note-ko"), slug("note-en"));
    for (who, s) in [(&ana, &ko), (&bo, &en)] {
        let r = p.submit(who, s, &web_stack()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = p
            .api(
                "POST",
                &format!("/portal/api/admin/projects/{s}/reject"),
                Some(&boss),
                json!({ "reason": "too big" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let seen = sink.clone();
    tokio::task::spawn_blocking(move || {
        seen.wait_for(&format!("{ko} 신청이 거절되었습니다: too big"));
        seen.wait_for(&format!("Your request for {en} was rejected: too big"));
        let bodies = seen.delivered();
        assert!(
            !bodies
                .iter()
                .any(|b| b.contains(&format!("Your request for {ko}"))),
            "ana also got English: {bodies:?}"
        );
    })
    .await
    .unwrap();
}
