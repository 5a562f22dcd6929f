//! `ferry-e2e-browser URL`: the `$BROWSER` of the end-to-end desktop.
//!
//! It appends every URL it is given to `$FERRY_E2E_OPENED`, and for an
//! OAuth authorize URL it does what a person does in a browser on
//! ferry-testkit: fills in the real sign-in form (`$FERRY_E2E_LOGIN`,
//! `$FERRY_E2E_PASSWORD`), presses Authorize on the consent page, and
//! follows the redirect back to Ferry's loopback listener.

use std::io::Write;

fn hidden_inputs(html: &str, form_id: &str) -> Vec<(String, String)> {
    let Some(start) = html.find(&format!("id=\"{form_id}\"")) else {
        return Vec::new();
    };
    let form = &html[start
        ..html[start..]
            .find("</form>")
            .map_or(html.len(), |e| start + e)];
    let mut out = Vec::new();
    for piece in form.split("<input").skip(1) {
        let attr = |name: &str| {
            piece
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|v| v.split('"').next())
                .map(unescape)
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            out.push((name, value));
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn main() {
    let url = std::env::args().nth(1).unwrap_or_default();
    if let Some(log) = std::env::var_os("FERRY_E2E_OPENED") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{url}");
        }
    }
    if !url.contains("/oauth/authorize") {
        return;
    }
    let login = std::env::var("FERRY_E2E_LOGIN").unwrap_or_default();
    let password = std::env::var("FERRY_E2E_PASSWORD").unwrap_or_default();
    let base = url.split("/oauth/authorize").next().unwrap_or_default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let page = |r: Result<ureq::http::Response<ureq::Body>, ureq::Error>| {
        r.ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default()
    };
    // Not signed in yet: GitLab shows its sign-in form.
    let sign_in = page(agent.get(&url).call());
    let return_to = hidden_inputs(&sign_in, "new_user")
        .into_iter()
        .find(|(k, _)| k == "return_to")
        .map(|(_, v)| v)
        .unwrap_or_else(|| url.trim_start_matches(base).to_string());
    let consent = page(agent.post(format!("{base}/users/sign_in")).send_form([
        ("user[login]", login.as_str()),
        ("user[password]", password.as_str()),
        ("return_to", return_to.as_str()),
    ]));
    let fields = hidden_inputs(&consent, "approve");
    if fields.is_empty() {
        eprintln!("ferry-e2e-browser: no consent page after signing in");
        std::process::exit(1);
    }
    let mut form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form.push(("commit", "Authorize"));
    // Authorize: GitLab redirects to Ferry's loopback address, which answers.
    let done = page(
        agent
            .post(format!("{base}/oauth/authorize"))
            .send_form(form),
    );
    if done.is_empty() {
        eprintln!("ferry-e2e-browser: Ferry's loopback page did not answer");
        std::process::exit(1);
    }
}
