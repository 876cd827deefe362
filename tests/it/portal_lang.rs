//! The portal in Korean and English over the real server: `Accept-Language` picks the language,
//! the switch's cookie overrides it and sticks, `[club] language` is the default, and the switch
//! only ever returns to a page of the portal.

use crate::common::*;

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
