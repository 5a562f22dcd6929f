//! What people paste as "the address of our GitLab", turned into the base
//! URLs it could mean, plus the links Ferry shows (create a token, register
//! an OAuth application).
//!
//! People paste the sign-in page, a project, a file view, a clone URL, the
//! host alone, with or without `https://`. GitLab may live under a relative
//! root (`https://example.org/gitlab`), so a path cannot be dropped blindly:
//! [`candidates`] lists every base the input could mean, shortest first, and
//! the client asks each one for GitLab's OpenID discovery document, whose
//! `issuer` names the real base.

use url::Url;

/// The address of gitlab.com, offered as a preset.
pub const GITLAB_COM: &str = "https://gitlab.com";

/// Scopes a personal access token needs for Ferry.
pub const TOKEN_SCOPES: &[&str] = &["api", "read_user", "read_repository", "write_repository"];

/// Scopes Ferry asks for in the OAuth flow.
pub const OAUTH_SCOPES: &[&str] = &[
    "api",
    "read_user",
    "read_repository",
    "write_repository",
    "openid",
];

/// The redirect URI to register for Ferry's OAuth application (any port is
/// accepted for loopback IP addresses).
pub const OAUTH_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// The input can't be a GitLab address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{input}” isn't a web address Ferry can use: {why}. Enter the address you open in your browser to use GitLab, like https://gitlab.example.org.")]
pub struct BadAddress {
    /// What was typed.
    pub input: String,
    /// What is wrong with it.
    pub why: String,
}

/// First path segments that are GitLab pages, never a relative root.
const ROUTES: &[&str] = &[
    "users",
    "dashboard",
    "explore",
    "help",
    "admin",
    "profile",
    "oauth",
    "api",
    "search",
    "groups",
    "projects",
    "snippets",
    "import",
    "user_settings",
    "uploads",
];

fn bad(input: &str, why: &str) -> BadAddress {
    BadAddress {
        input: input.to_string(),
        why: why.to_string(),
    }
}

/// The base URLs `input` could mean, shortest first. A base has no trailing
/// slash, no query, no credentials.
pub fn candidates(input: &str) -> Result<Vec<Url>, BadAddress> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(bad(input, "it is empty"));
    }
    if trimmed.contains(char::is_whitespace) {
        return Err(bad(input, "it contains spaces"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else if let Some(rest) = trimmed.strip_prefix("git@") {
        // An SSH clone address: git@host:group/project.git
        format!("https://{}", rest.replacen(':', "/", 1))
    } else if is_loopback_text(trimmed) {
        // A server on this computer (the demo) usually has no certificate.
        format!("http://{trimmed}")
    } else {
        format!("https://{trimmed}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| bad(input, &e.to_string()))?;
    match url.scheme() {
        "https" | "http" => {}
        "ssh" | "git" => {
            url = Url::parse(&format!(
                "https://{}",
                &with_scheme[with_scheme.find("://").unwrap_or(0) + 3..]
            ))
            .map_err(|e| bad(input, &e.to_string()))?;
            let _ = url.set_username("");
        }
        other => return Err(bad(input, &format!("Ferry can't use “{other}:” addresses"))),
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host.is_empty() {
        return Err(bad(input, "it has no server name"));
    }
    if !host.contains('.')
        && host != "localhost"
        && url
            .host()
            .is_some_and(|h| matches!(h, url::Host::Domain(_)))
    {
        return Err(bad(
            input,
            "the server name has no dot, like gitlab.example.org",
        ));
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);

    if host == "gitlab.com" || host == "www.gitlab.com" {
        return Ok(vec![Url::parse(GITLAB_COM).expect("constant URL")]);
    }

    // Keep the path up to GitLab's "/-/" separator and known pages.
    let mut segments: Vec<String> = Vec::new();
    for seg in url.path_segments().into_iter().flatten() {
        if seg.is_empty() {
            continue;
        }
        if seg == "-" || ROUTES.contains(&seg) {
            break;
        }
        segments.push(seg.trim_end_matches(".git").to_string());
        if seg.ends_with(".git") {
            break;
        }
    }
    let mut out = Vec::new();
    for n in 0..=segments.len() {
        let mut base = url.clone();
        let path = if n == 0 {
            String::new()
        } else {
            format!("/{}", segments[..n].join("/"))
        };
        base.set_path(&path);
        let text = base.as_str().trim_end_matches('/').to_string();
        out.push(Url::parse(&text).expect("built from a parsed URL"));
    }
    Ok(out)
}

fn is_loopback_text(s: &str) -> bool {
    let host = s.split(['/', ':']).next().unwrap_or_default();
    host == "localhost" || host.starts_with("127.") || s.starts_with("[::1]")
}

/// A base URL as Ferry stores and shows it: no trailing slash.
pub fn base_string(base: &Url) -> String {
    base.as_str().trim_end_matches('/').to_string()
}

/// `base` + `path` (which starts with `/`).
pub fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The pre-filled page that creates a personal access token for Ferry
/// (GitLab 16 and later).
pub fn token_creation_url(base: &str) -> String {
    join(
        base,
        &format!(
            "/-/user_settings/personal_access_tokens?name=Ferry&scopes={}",
            TOKEN_SCOPES.join(",")
        ),
    )
}

/// The same page on GitLab before 16.
pub fn token_creation_url_legacy(base: &str) -> String {
    join(
        base,
        &format!(
            "/-/profile/personal_access_tokens?name=Ferry&scopes={}",
            TOKEN_SCOPES.join(",")
        ),
    )
}

/// The page where a user registers an OAuth application.
pub fn applications_url(base: &str) -> String {
    join(base, "/-/user_settings/applications")
}

/// The host (and port, if any) of a base URL, for messages.
pub fn host_of(base: &str) -> String {
    Url::parse(base)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bases(input: &str) -> Vec<String> {
        candidates(input)
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .iter()
            .map(base_string)
            .collect()
    }

    #[test]
    fn host_alone_gets_https() {
        assert_eq!(bases("git.example.org"), ["https://git.example.org"]);
        assert_eq!(
            bases("  https://git.example.org///  "),
            ["https://git.example.org"]
        );
        assert_eq!(bases("http://127.0.0.1:8929"), ["http://127.0.0.1:8929"]);
        assert_eq!(
            bases("127.0.0.1:8929"),
            ["http://127.0.0.1:8929"],
            "a local demo server has no TLS"
        );
    }

    #[test]
    fn sign_in_and_settings_pages_lead_to_the_root() {
        assert_eq!(
            bases("https://git.example.org/users/sign_in"),
            ["https://git.example.org"]
        );
        assert_eq!(
            bases("https://git.example.org/-/user_settings/personal_access_tokens"),
            ["https://git.example.org"]
        );
        assert_eq!(
            bases("https://git.example.org/dashboard/projects?x=1#top"),
            ["https://git.example.org"]
        );
    }

    #[test]
    fn a_project_or_file_url_lists_every_possible_root_shortest_first() {
        assert_eq!(
            bases("https://example.org/gitlab/team/site/-/blob/main/index.md"),
            [
                "https://example.org",
                "https://example.org/gitlab",
                "https://example.org/gitlab/team",
                "https://example.org/gitlab/team/site",
            ]
        );
        assert_eq!(
            bases("https://git.example.org/team/site.git"),
            [
                "https://git.example.org",
                "https://git.example.org/team",
                "https://git.example.org/team/site"
            ]
        );
    }

    #[test]
    fn relative_root_sign_in_page() {
        assert_eq!(
            bases("example.org/gitlab/users/sign_in"),
            ["https://example.org", "https://example.org/gitlab"]
        );
    }

    #[test]
    fn ssh_clone_addresses_and_credentials_are_handled() {
        assert_eq!(
            bases("git@git.example.org:team/site.git")[0],
            "https://git.example.org"
        );
        assert_eq!(
            bases("https://me:secret@git.example.org/")[0],
            "https://git.example.org",
            "credentials dropped"
        );
    }

    #[test]
    fn gitlab_com_is_a_preset() {
        assert_eq!(
            bases("www.gitlab.com/gitlab-org/gitlab"),
            ["https://gitlab.com"]
        );
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        for (input, why) in [
            ("", "it is empty"),
            ("git lab", "it contains spaces"),
            (
                "ftp://files.example.org",
                "Ferry can't use “ftp:” addresses",
            ),
            ("intranet", "the server name has no dot"),
        ] {
            let err = candidates(input).unwrap_err();
            assert!(
                err.to_string().contains("isn't a web address"),
                "{input}: {err}"
            );
            assert!(err.why.starts_with(why), "{input}: {}", err.why);
        }
        assert!(candidates("https://").is_err());
    }

    #[test]
    fn links_for_tokens_and_applications() {
        assert_eq!(
            token_creation_url("https://git.example.org/gitlab"),
            "https://git.example.org/gitlab/-/user_settings/personal_access_tokens?name=Ferry&scopes=api,read_user,read_repository,write_repository"
        );
        assert!(token_creation_url_legacy("https://g.example.org")
            .contains("/-/profile/personal_access_tokens?"));
        assert_eq!(
            applications_url("https://g.example.org/"),
            "https://g.example.org/-/user_settings/applications"
        );
        assert_eq!(host_of("http://127.0.0.1:8929"), "127.0.0.1:8929");
    }
}
