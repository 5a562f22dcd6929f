//! The REST API answers as GitLab's documentation says: fields, status
//! codes, headers, pagination across pages, search, scopes and error bodies.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{json, Value};

fn header(r: &reqwest::blocking::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("header {name} missing"))
}

#[test]
fn every_way_of_sending_a_token_works_and_no_token_is_401() {
    let kit = kit();
    let t = &kit.info().token;
    let url = |q: &str| format!("{}/api/v4/user{q}", kit.url());
    let c = http();
    for r in [
        c.get(url("")).header("PRIVATE-TOKEN", t).send().unwrap(),
        c.get(url("")).bearer_auth(t).send().unwrap(),
        c.get(url(&format!("?private_token={t}"))).send().unwrap(),
        c.get(url(&format!("?access_token={t}"))).send().unwrap(),
    ] {
        assert_eq!(r.status(), 200);
        assert_eq!(json(r)["username"], "editor");
    }
    let r = c.get(url("")).send().unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(json(r), json!({"message": "401 Unauthorized"}));
    let r = c
        .get(url(""))
        .header("PRIVATE-TOKEN", "glpat-nope")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(json(r), json!({"message": "401 Unauthorized"}));
}

#[test]
fn user_and_version_have_gitlabs_fields() {
    let kit = kit();
    let user = json(get(&kit, "/api/v4/user", &kit.info().token));
    for field in [
        "id",
        "username",
        "name",
        "state",
        "avatar_url",
        "web_url",
        "created_at",
        "email",
        "commit_email",
        "public_email",
        "two_factor_enabled",
        "can_create_project",
    ] {
        assert!(user.get(field).is_some(), "/user has {field}: {user}");
    }
    assert_eq!(user["state"], "active");
    assert_eq!(user["web_url"], format!("{}/editor", kit.url()));
    let version = json(get(&kit, "/api/v4/version", &kit.info().token));
    assert!(
        version["version"].as_str().unwrap().starts_with("17."),
        "{version}"
    );
    assert!(version["revision"].is_string());
    let anonymous = http()
        .get(format!("{}/api/v4/version", kit.url()))
        .send()
        .unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "version needs a token, as on GitLab"
    );
}

#[test]
fn projects_paginate_with_gitlabs_headers() {
    let kit = kit();
    admin(
        &kit,
        "/projects/bulk",
        json!({"namespace": "editor", "count": 45, "prefix": "site"}),
    );
    let token = &kit.info().token;
    // editor sees 47 own projects + team/handbook.
    let first = get(&kit, "/api/v4/projects?membership=true&per_page=20", token);
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-total"), "48");
    assert_eq!(header(&first, "x-total-pages"), "3");
    assert_eq!(header(&first, "x-page"), "1");
    assert_eq!(header(&first, "x-per-page"), "20");
    assert_eq!(header(&first, "x-next-page"), "2");
    assert_eq!(
        header(&first, "x-prev-page"),
        "",
        "present but empty on page 1"
    );
    let link = header(&first, "link");
    assert!(link.contains("page=2&per_page=20>; rel=\"next\""), "{link}");
    assert!(
        link.contains("rel=\"first\"") && link.contains("page=3&per_page=20>; rel=\"last\""),
        "{link}"
    );
    assert!(
        link.contains("membership=true"),
        "filters are kept in the links: {link}"
    );

    let mut ids = BTreeSet::new();
    let mut page = Some("1".to_string());
    let mut pages = 0;
    while let Some(p) = page {
        let r = get(
            &kit,
            &format!("/api/v4/projects?membership=true&per_page=20&page={p}"),
            token,
        );
        let next = header(&r, "x-next-page");
        let items = json(r);
        for item in items.as_array().unwrap() {
            assert!(ids.insert(item["id"].as_u64().unwrap()), "no project twice");
        }
        pages += 1;
        page = (!next.is_empty()).then_some(next);
    }
    assert_eq!(
        (pages, ids.len()),
        (3, 48),
        "following X-Next-Page visits every project once"
    );

    let big = get(&kit, "/api/v4/projects?per_page=500", token);
    assert_eq!(
        header(&big, "x-per-page"),
        "100",
        "per_page is capped at 100"
    );
}

#[test]
fn projects_filter_by_search_access_level_and_simple() {
    let kit = kit();
    let token = &kit.info().token;
    let names = |q: &str| -> Vec<String> {
        json(get(&kit, &format!("/api/v4/projects?{q}"), token))
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["path_with_namespace"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("search=handbook"), ["team/handbook"]);
    assert_eq!(
        names("search=WEBsite"),
        ["editor/website"],
        "case-insensitive"
    );
    assert!(names("search=nothing-like-this").is_empty());
    let mut pushable = names("membership=true&min_access_level=40");
    pushable.sort();
    assert_eq!(
        pushable,
        ["editor/empty", "editor/website"],
        "Developer of team/handbook only"
    );
    assert_eq!(names("membership=true&min_access_level=30").len(), 3);
    assert_eq!(
        names("order_by=name&sort=asc"),
        ["editor/empty", "team/handbook", "editor/website"]
    );

    let simple = json(get(
        &kit,
        "/api/v4/projects?simple=true&search=website",
        token,
    ));
    let p = &simple[0];
    for field in [
        "id",
        "name",
        "path",
        "path_with_namespace",
        "default_branch",
        "http_url_to_repo",
        "web_url",
        "last_activity_at",
        "namespace",
    ] {
        assert!(p.get(field).is_some(), "simple has {field}");
    }
    assert!(
        p.get("permissions").is_none() && p.get("visibility").is_none(),
        "simple is short: {p}"
    );
}

#[test]
fn one_project_by_id_or_path_with_permissions() {
    let kit = kit();
    let token = &kit.info().token;
    let by_path = json(get(&kit, "/api/v4/projects/editor%2Fwebsite", token));
    let id = by_path["id"].as_u64().unwrap();
    let by_id = json(get(&kit, &format!("/api/v4/projects/{id}"), token));
    assert_eq!(by_path, by_id);
    assert_eq!(by_id["default_branch"], "main");
    assert_eq!(
        by_id["http_url_to_repo"],
        format!("{}/editor/website.git", kit.url())
    );
    assert_eq!(by_id["permissions"]["project_access"]["access_level"], 50);
    assert_eq!(by_id["namespace"]["kind"], "user");
    let empty = json(get(&kit, "/api/v4/projects/editor%2Fempty", token));
    assert_eq!(empty["empty_repo"], true);
    assert_eq!(
        empty["default_branch"],
        Value::Null,
        "an empty repository has no branch yet"
    );
    let team = json(get(&kit, "/api/v4/projects/team%2Fhandbook", token));
    assert_eq!(team["permissions"]["group_access"]["access_level"], 30);
    assert_eq!(team["permissions"]["project_access"], Value::Null);

    let missing = get(&kit, "/api/v4/projects/editor%2Fnope", token);
    assert_eq!(missing.status(), 404);
    assert_eq!(json(missing), json!({"message": "404 Project Not Found"}));
    let route = get(&kit, "/api/v4/no/such/route", token);
    assert_eq!(route.status(), 404);
    assert_eq!(json(route), json!({"error": "404 Not Found"}));
}

#[test]
fn create_project_in_own_namespace_and_a_group() {
    let kit = kit();
    let token = &kit.info().token;
    let post = |body: Value| {
        http()
            .post(format!("{}/api/v4/projects", kit.url()))
            .header("PRIVATE-TOKEN", token)
            .json(&body)
            .send()
            .unwrap()
    };
    let r = post(json!({"name": "My Notes", "initialize_with_readme": true}));
    assert_eq!(r.status(), 201);
    let p = json(r);
    assert_eq!(
        p["path_with_namespace"], "editor/my-notes",
        "path from name"
    );
    assert_eq!(p["default_branch"], "main", "the README made a branch");

    let namespaces = json(get(&kit, "/api/v4/namespaces", token));
    let team = namespaces
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "group")
        .expect("team is listed");
    assert_eq!(team["full_path"], "team");
    let r = post(json!({"name": "Docs", "path": "docs", "namespace_id": team["id"]}));
    assert_eq!(r.status(), 201);
    assert_eq!(json(r)["empty_repo"], true);

    let dup = post(json!({"name": "My Notes"}));
    assert_eq!(dup.status(), 400);
    assert_eq!(
        json(dup)["message"]["path"],
        json!(["has already been taken"])
    );
    let none = post(json!({"visibility": "private"}));
    assert_eq!(none.status(), 400);
    assert_eq!(
        json(none),
        json!({"error": "name, path are missing, at least one parameter must be provided"})
    );
}

#[test]
fn branch_details_and_protection() {
    let kit = kit();
    let token = &kit.info().token;
    let b = json(get(
        &kit,
        "/api/v4/projects/editor%2Fwebsite/repository/branches/main",
        token,
    ));
    assert_eq!(b["name"], "main");
    assert_eq!(b["default"], true);
    assert_eq!(b["protected"], false);
    assert_eq!(b["can_push"], true);
    assert_eq!(b["commit"]["title"], "Initial content");
    assert_eq!(b["commit"]["id"].as_str().unwrap().len(), 40);
    assert_eq!(b["commit"]["author_name"], "Eddie Editor");

    let h = json(get(
        &kit,
        "/api/v4/projects/team%2Fhandbook/repository/branches/main",
        token,
    ));
    assert_eq!(h["protected"], true);
    assert_eq!(h["developers_can_push"], false);
    assert_eq!(h["can_push"], false, "editor is only a Developer");

    let missing = get(
        &kit,
        "/api/v4/projects/editor%2Fwebsite/repository/branches/nope",
        token,
    );
    assert_eq!(missing.status(), 404);
    assert_eq!(json(missing), json!({"message": "404 Branch Not Found"}));
}

#[test]
fn token_self_reports_scopes_and_expiry() {
    let kit = kit();
    let me = json(get(
        &kit,
        "/api/v4/personal_access_tokens/self",
        &kit.info().token,
    ));
    assert_eq!(
        me["scopes"],
        json!(["api", "read_user", "read_repository", "write_repository"])
    );
    assert_eq!(me["active"], true);
    assert_eq!(me["revoked"], false);
    assert_eq!(me["expires_at"], Value::Null);
    assert!(me["last_used_at"].is_string(), "this request used it");

    let soon = admin(
        &kit,
        "/tokens",
        json!({"username": "editor", "scopes": ["read_repository"], "expires_at": "2099-01-31"}),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    let limited = json(get(&kit, "/api/v4/personal_access_tokens/self", &soon));
    assert_eq!(limited["expires_at"], "2099-01-31");
    let denied = get(&kit, "/api/v4/projects", &soon);
    assert_eq!(denied.status(), 403);
    let body = json(denied);
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(
        body["error_description"],
        "The request requires higher privileges than provided by the access token."
    );

    let expired = admin(
        &kit,
        "/tokens",
        json!({"username": "editor", "scopes": ["api"], "expires_at": "2020-01-01"}),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = get(&kit, "/api/v4/user", &expired);
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("Bearer realm=\"Protected by OAuth 2.0\""));
    assert_eq!(
        json(r)["error_description"],
        "Token is expired. You can either do re-authorization or token refresh."
    );

    admin(&kit, "/tokens/revoke", json!({"token": soon}));
    let r = get(&kit, "/api/v4/personal_access_tokens/self", &soon);
    assert_eq!(
        json(r)["error_description"],
        "Token was revoked. You have to re-authorize from the user."
    );
}
