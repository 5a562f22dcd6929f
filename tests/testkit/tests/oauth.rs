//! The OAuth 2.0 flow as GitLab runs it: authorization code + PKCE, the
//! sign-in and consent pages, refresh rotation, revocation, and every way it
//! must refuse.

mod common;

use base64::Engine;
use common::*;
use ferry_testkit::{Options, Testkit};
use serde_json::{json, Value};
use sha2::Digest;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-a-bit-more";
const REDIRECT: &str = "http://127.0.0.1:51234/callback";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn authorize_url(kit: &Testkit, client_id: &str, redirect: &str, state: &str) -> String {
    let mut u = url::Url::parse(&format!("{}/oauth/authorize", kit.url())).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("state", state)
        .append_pair(
            "scope",
            "api read_user read_repository write_repository openid",
        )
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn location(r: &reqwest::blocking::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Runs the authorize step (auto-approved) and returns the code.
fn code_for(kit: &Testkit, client_id: &str, state: &str) -> String {
    let r = http()
        .get(authorize_url(kit, client_id, REDIRECT, state))
        .send()
        .unwrap();
    assert_eq!(r.status(), 302, "redirects back to the app");
    let q = query_of(&location(&r));
    assert_eq!(q["state"], state, "state is echoed");
    q["code"].clone()
}

fn exchange(kit: &Testkit, form: &[(&str, &str)]) -> reqwest::blocking::Response {
    http()
        .post(format!("{}/oauth/token", kit.url()))
        .form(form)
        .send()
        .unwrap()
}

#[test]
fn code_with_pkce_gives_tokens_and_wrong_verifier_or_replay_is_refused() {
    let kit = kit();
    let o = &kit.info().oauth;
    let code = code_for(&kit, &o.client_id, "state-123");
    let base = [
        ("client_id", o.client_id.as_str()),
        ("client_secret", o.client_secret.as_str()),
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let mut wrong = base.to_vec();
    wrong.push((
        "code_verifier",
        "not-the-verifier-not-the-verifier-not-the-verifier",
    ));
    let r = exchange(&kit, &wrong);
    assert_eq!(r.status(), 400);
    assert_eq!(json(r)["error"], "invalid_grant", "wrong verifier");

    let mut right = base.to_vec();
    right.push(("code_verifier", VERIFIER));
    let r = exchange(&kit, &right);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store, no-cache");
    let t = json(r);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 7200);
    assert_eq!(
        t["scope"],
        "api read_user read_repository write_repository openid"
    );
    assert_eq!(t["access_token"].as_str().unwrap().len(), 64);
    assert!(t["refresh_token"].is_string() && t["created_at"].is_number());

    let replay = exchange(&kit, &right);
    assert_eq!(replay.status(), 400);
    assert_eq!(json(replay)["error"], "invalid_grant", "a code works once");

    let access = t["access_token"].as_str().unwrap();
    let me = http()
        .get(format!("{}/api/v4/user", kit.url()))
        .bearer_auth(access)
        .send()
        .unwrap();
    assert_eq!(json(me)["username"], "editor");
    let info = json(
        http()
            .get(format!("{}/oauth/token/info", kit.url()))
            .bearer_auth(access)
            .send()
            .unwrap(),
    );
    assert_eq!(info["application"]["uid"], o.client_id.as_str());
    assert!(info["expires_in"].as_i64().unwrap() > 7000);
    let userinfo = json(
        http()
            .get(format!("{}/oauth/userinfo", kit.url()))
            .bearer_auth(access)
            .send()
            .unwrap(),
    );
    assert_eq!(userinfo["preferred_username"], "editor");
    assert_eq!(userinfo["groups"], json!(["team"]));
}

#[test]
fn a_confidential_app_needs_its_secret_also_on_refresh() {
    let kit = kit();
    let o = &kit.info().oauth;
    let code = code_for(&kit, &o.client_id, "s");
    let r = exchange(
        &kit,
        &[
            ("client_id", &o.client_id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(r.status(), 401);
    assert_eq!(json(r)["error"], "invalid_client");
    // With HTTP Basic client authentication it works.
    let r = http()
        .post(format!("{}/oauth/token", kit.url()))
        .basic_auth(&o.client_id, Some(&o.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let refresh = json(r)["refresh_token"].as_str().unwrap().to_string();
    let r = exchange(
        &kit,
        &[
            ("client_id", &o.client_id),
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
        ],
    );
    assert_eq!(r.status(), 401, "refresh without the secret");
    assert_eq!(json(r)["error"], "invalid_client");
}

#[test]
fn refresh_rotates_and_the_old_pair_stops_working() {
    let kit = kit();
    let o = &kit.info().oauth;
    let code = code_for(&kit, &o.public_client_id, "s");
    let first = json(exchange(
        &kit,
        &[
            ("client_id", &o.public_client_id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    ));
    let old_access = first["access_token"].as_str().unwrap();
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let r = exchange(
        &kit,
        &[
            ("client_id", &o.public_client_id),
            ("grant_type", "refresh_token"),
            ("refresh_token", old_refresh),
        ],
    );
    assert_eq!(r.status(), 200);
    let second = json(r);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);

    let user = |t: &str| {
        http()
            .get(format!("{}/api/v4/user", kit.url()))
            .bearer_auth(t)
            .send()
            .unwrap()
    };
    let old = user(old_access);
    assert_eq!(old.status(), 401, "the old access token is revoked");
    assert_eq!(
        json(old)["error_description"],
        "Token was revoked. You have to re-authorize from the user."
    );
    assert_eq!(user(second["access_token"].as_str().unwrap()).status(), 200);

    let reuse = exchange(
        &kit,
        &[
            ("client_id", &o.public_client_id),
            ("grant_type", "refresh_token"),
            ("refresh_token", old_refresh),
        ],
    );
    assert_eq!(reuse.status(), 400);
    assert_eq!(
        json(reuse)["error"],
        "invalid_grant",
        "a refresh token works once"
    );

    // Revocation: the new pair stops working too.
    let r = http()
        .post(format!("{}/oauth/revoke", kit.url()))
        .form(&[
            ("client_id", o.public_client_id.as_str()),
            ("token", second["access_token"].as_str().unwrap()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r), json!({}));
    assert_eq!(user(second["access_token"].as_str().unwrap()).status(), 401);
}

#[test]
fn loopback_redirects_on_any_port_are_accepted_other_hosts_are_not() {
    let kit = kit();
    let id = &kit.info().oauth.public_client_id;
    for port in ["8080", "61000"] {
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let r = http()
            .get(authorize_url(&kit, id, &redirect, "p"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 302, "port {port}");
        assert!(location(&r).starts_with(&redirect), "{}", location(&r));
    }
    for bad in [
        "http://evil.example/callback",
        "http://localhost:8080/callback",
        "http://127.0.0.1:8080/elsewhere",
    ] {
        let r = http()
            .get(authorize_url(&kit, id, bad, "p"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{bad} is refused");
        assert!(
            r.headers().get("location").is_none(),
            "never redirected to {bad}"
        );
        assert!(r
            .text()
            .unwrap()
            .contains("The redirect URI included is not valid."));
    }
    let r = http()
        .get(authorize_url(&kit, "no-such-app", REDIRECT, "p"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "unknown client");
}

#[test]
fn the_state_comes_back_unchanged_for_the_client_to_check() {
    let kit = kit();
    let id = &kit.info().oauth.public_client_id;
    let odd = "a b&c=d/é";
    let r = http()
        .get(authorize_url(&kit, id, REDIRECT, odd))
        .send()
        .unwrap();
    assert_eq!(
        query_of(&location(&r))["state"],
        odd,
        "byte for byte, so a client can compare it"
    );
}

/// Follows the real pages: sign in, then the consent form (no auto-approve).
#[test]
fn sign_in_consent_approve_and_deny() {
    let kit = Testkit::start(Options::default()).unwrap();
    let info = kit.info().clone();
    let id = &info.oauth.public_client_id;
    let c = http();
    let r = c
        .get(authorize_url(&kit, id, REDIRECT, "st"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 302);
    let sign_in = location(&r);
    assert!(
        sign_in.starts_with("/users/sign_in?return_to="),
        "{sign_in}"
    );
    let page = c
        .get(format!("{}{sign_in}", kit.url()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("name=\"user[login]\"") && page.contains("name=\"user[password]\""));
    let return_to = query_of(&format!("http://x{sign_in}"))["return_to"].clone();

    let bad = c
        .post(format!("{}/users/sign_in", kit.url()))
        .form(&[
            ("user[login]", "editor"),
            ("user[password]", "wrong"),
            ("return_to", &return_to),
        ])
        .send()
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.text().unwrap().contains("Invalid login or password."));

    let ok = c
        .post(format!("{}/users/sign_in", kit.url()))
        .form(&[
            ("user[login]", "editor"),
            ("user[password]", info.password.as_str()),
            ("return_to", &return_to),
        ])
        .send()
        .unwrap();
    assert_eq!(ok.status(), 302);
    let cookie = ok.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(location(&ok), return_to);

    let consent = c
        .get(format!("{}{return_to}", kit.url()))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(consent.status(), 200);
    let html = consent.text().unwrap();
    assert!(
        html.contains("Authorize Ferry (public) to use your account?"),
        "{html}"
    );
    for scope in ["api", "read_repository", "write_repository", "openid"] {
        assert!(
            html.contains(&format!("<code>{scope}</code>")),
            "lists {scope}"
        );
    }
    let fields: Vec<(String, String)> = query_of(&authorize_url(&kit, id, REDIRECT, "st"))
        .into_iter()
        .collect();

    let mut deny = fields.clone();
    deny.push(("_method".into(), "delete".into()));
    let r = c
        .post(format!("{}/oauth/authorize", kit.url()))
        .header("cookie", &cookie)
        .form(&deny)
        .send()
        .unwrap();
    let q = query_of(&location(&r));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(
        q["error_description"],
        "The resource owner or authorization server denied the request."
    );
    assert_eq!(q["state"], "st");

    let r = c
        .post(format!("{}/oauth/authorize", kit.url()))
        .header("cookie", &cookie)
        .form(&fields)
        .send()
        .unwrap();
    let q = query_of(&location(&r));
    assert!(q.contains_key("code") && q["state"] == "st", "{q:?}");

    let no_session = c
        .post(format!("{}/oauth/authorize", kit.url()))
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(no_session.status(), 401, "approving needs a signed-in user");
}

#[test]
fn short_token_lifetime_expires_and_refresh_still_works() {
    let kit = Testkit::start(Options {
        auto_approve: true,
        token_lifetime: Some(1),
        ..Options::default()
    })
    .unwrap();
    let o = kit.info().oauth.clone();
    let code = code_for(&kit, &o.public_client_id, "s");
    let t = json(exchange(
        &kit,
        &[
            ("client_id", &o.public_client_id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    ));
    assert_eq!(t["expires_in"], 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = http()
        .get(format!("{}/api/v4/user", kit.url()))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        json(r)["error_description"],
        "Token is expired. You can either do re-authorization or token refresh."
    );
    let r = exchange(
        &kit,
        &[
            ("client_id", &o.public_client_id),
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    );
    assert_eq!(
        r.status(),
        200,
        "an expired access token can still be refreshed"
    );
}

#[test]
fn openid_discovery_is_public() {
    let kit = kit();
    let d: Value = json(
        http()
            .get(format!("{}/.well-known/openid-configuration", kit.url()))
            .send()
            .unwrap(),
    );
    assert_eq!(d["issuer"], kit.url());
    assert_eq!(
        d["authorization_endpoint"],
        format!("{}/oauth/authorize", kit.url())
    );
    assert_eq!(d["token_endpoint"], format!("{}/oauth/token", kit.url()));
    assert_eq!(
        d["code_challenge_methods_supported"],
        json!(["plain", "S256"])
    );
    assert!(d["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("write_repository")));
}

#[test]
fn plain_pkce_is_accepted_too() {
    let kit = kit();
    let id = kit.info().oauth.public_client_id.clone();
    let verifier = "plain-verifier-plain-verifier-plain-verifier-01";
    let mut u = url::Url::parse(&format!("{}/oauth/authorize", kit.url())).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", &id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("state", "p")
        .append_pair("scope", "read_repository")
        .append_pair("code_challenge", verifier)
        .append_pair("code_challenge_method", "plain");
    let r = http().get(u.to_string()).send().unwrap();
    let code = query_of(&location(&r))["code"].clone();
    let wrong = exchange(
        &kit,
        &[
            ("client_id", &id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(json(wrong)["error"], "invalid_grant");
    let right = exchange(
        &kit,
        &[
            ("client_id", &id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    );
    assert_eq!(right.status(), 200);
    assert_eq!(json(right)["scope"], "read_repository");
}
