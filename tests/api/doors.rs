//! Closed doors: the dashboard's Content-Security-Policy and hardening headers.

use actix_web::http::header::HeaderMap;
use pyrowire::startup::{Role, RunOptions};

use crate::helpers::{spawn_app_with, topic, TestApp};

const TOKEN: &str = "doors-token-0123456789";

/// A GET or POST with the dashboard token: status, headers, body.
async fn call(app: &TestApp, method: &str, path: &str) -> (u16, HeaderMap, String) {
    let client = awc::Client::default();
    let url = format!("{}{path}", app.address);
    let request = if method == "POST" {
        client.post(url)
    } else {
        client.get(url)
    };
    let mut response = request
        .insert_header(("Authorization", format!("Bearer {TOKEN}")))
        .send()
        .await
        .unwrap();
    let body = response.body().await.unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        headers.append(name.clone(), value.clone());
    }
    let body = String::from_utf8_lossy(&body).to_string();
    (response.status().as_u16(), headers, body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The app with the dashboard on, in `role`, with `profile_extra` profile lines.
async fn dashboard_app(role: Role, profile_extra: &str) -> TestApp {
    let profile = format!("dashboard_token = \"{TOKEN}\"\n{profile_extra}");
    let options = RunOptions {
        role,
        ..RunOptions::default()
    };
    spawn_app_with(&topic("sample", r#""echo""#), &profile, options).await
}

/// The `src`/`href` of every `<script>` and stylesheet `<link>` of the page.
fn page_files(page: &str) -> Vec<String> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(tag[start..start + tag[start..].find('"')?].to_string())
    };
    let tags = page.split('<').filter_map(|t| Some(&t[..t.find('>')?]));
    tags.filter_map(|tag| match tag.split_whitespace().next() {
        Some("script") => attribute(tag, "src"),
        Some("link") if tag.contains("rel=\"stylesheet\"") => attribute(tag, "href"),
        _ => None,
    })
    .collect()
}

#[actix_web::test]
async fn the_dashboard_has_a_strict_content_security_policy_it_can_live_with() {
    // Arrange
    let app = dashboard_app(Role::All, "").await;

    // Act
    let (status, headers, page) = call(&app, "GET", "/dashboard").await;

    // Assert
    assert_eq!(status, 200);
    let policy = header(&headers, "Content-Security-Policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "`{directive}` in `{policy}`");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(header(&headers, "X-Content-Type-Options"), "nosniff");
    assert_eq!(header(&headers, "Referrer-Policy"), "no-referrer");
    assert_eq!(header(&headers, "X-Frame-Options"), "DENY");
    // Nothing inline that the policy would block: every script and style is a file.
    assert_eq!(page.matches("<script").count(), 1, "one script tag");
    assert!(!page.contains("<style"), "an inline <style>");
    assert!(!page.contains(" style=\""), "an inline style attribute");
    assert!(!page.contains(" onclick="), "an inline event handler");
    let files = page_files(&page);
    assert_eq!(files.len(), 2, "{files:?}");
    for file in files {
        // Relative to the page, so the dashboard also works behind a path prefix.
        assert!(!file.starts_with('/') && !file.contains(':'), "{file}");
        let (status, headers, body) = call(&app, "GET", &format!("/{file}")).await;
        assert_eq!(status, 200, "{file}");
        assert!(!body.is_empty(), "{file}");
        let kind = if file.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(header(&headers, "Content-Type").starts_with(kind), "{file}");
        assert_eq!(header(&headers, "X-Content-Type-Options"), "nosniff");
    }
}

#[actix_web::test]
async fn the_dashboard_files_are_off_without_a_token() {
    let app = spawn_app_with(&topic("sample", r#""echo""#), "", RunOptions::default()).await;
    for path in [
        "/dashboard/static/dashboard.js",
        "/dashboard/static/dashboard.css",
    ] {
        assert_eq!(app.get_path(path).await.status, 404, "{path}");
    }
}
