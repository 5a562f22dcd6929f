//! Everything that speaks to a GitLab server's API: finding the server from
//! what the user typed ([`address`]), the REST client ([`client`]), OAuth
//! sign-in with PKCE through a loopback listener ([`oauth`]), the connection
//! check ([`diagnose`]), and adding accounts ([`account`]).
//!
//! Promises: TLS is always verified (a private CA is added, checks are never
//! turned off); tokens travel as [`crate::secrets::Sensitive`] and appear in
//! no URL, log line or error message; every error says, for a content
//! editor, what happened and what to do, and carries an [`ErrorClass`].

pub mod account;
pub mod address;
pub mod client;
pub mod diagnose;
pub mod oauth;

use std::time::Duration;

pub use crate::ErrorClass;

/// A certificate problem, named so the user can be told the right fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// Signed by an authority this computer does not trust (a private CA).
    UntrustedIssuer,
    /// Expired, or not yet valid (or the computer's clock is wrong).
    Expired,
    /// Issued for another name.
    WrongHost,
    /// Anything else, as the TLS library put it.
    Other(String),
}

/// Why the server did not accept the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInProblem {
    /// Unknown or wrong token.
    Invalid,
    /// The token has expired.
    Expired,
    /// The token or grant was revoked.
    Revoked,
}

/// What can go wrong talking to GitLab.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The address can't be used.
    #[error(transparent)]
    BadAddress(#[from] address::BadAddress),
    /// The name does not resolve.
    #[error("Ferry can't find a server called {host}. Check the address for typos. If your GitLab is only reachable inside your organisation, connect to its network or VPN first.")]
    NameNotFound {
        /// The server's name.
        host: String,
    },
    /// Nothing answers on the port.
    #[error("Ferry found {host} but could not connect to it ({why}). The server may be down, or a firewall may block this computer; if you need a VPN to reach it, connect first.")]
    Unreachable {
        /// The server's name and port.
        host: String,
        /// "connection refused", "network unreachable", ...
        why: String,
    },
    /// No answer in time.
    #[error("{host} did not answer in time. Check your internet connection (or VPN); Ferry will keep trying.")]
    Timeout {
        /// The server's name.
        host: String,
    },
    /// The certificate can't be trusted.
    #[error("{}", tls_message(host, problem))]
    Tls {
        /// The server's name.
        host: String,
        /// What is wrong with the certificate.
        problem: TlsProblem,
    },
    /// The CA certificate file can't be used.
    #[error("Ferry can't use the CA certificate file {path}: {why}. Ask your GitLab administrator for the certificate as a .pem or .crt file.")]
    BadCaFile {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// Something answered, but not GitLab.
    #[error("{url} answered, but it isn't GitLab ({what}). Use the address you open in your browser to work with GitLab.")]
    NotGitLab {
        /// Where Ferry looked.
        url: String,
        /// What it found instead.
        what: String,
    },
    /// The token or sign-in was refused.
    #[error("{}", sign_in_message(host, *problem))]
    SignIn {
        /// The server's name.
        host: String,
        /// Why.
        problem: SignInProblem,
    },
    /// The token lacks scopes Ferry needs.
    #[error("This token can't be used with Ferry: it is missing the {} {}. Create a new token with the scopes api, read_user, read_repository and write_repository: {create_url}", if missing.len() == 1 { "scope" } else { "scopes" }, missing.join(", "))]
    MissingScopes {
        /// The scopes it lacks.
        missing: Vec<String>,
        /// The pre-filled page that creates a suitable token.
        create_url: String,
    },
    /// GitLab refused the request for this account.
    #[error("GitLab at {host} refused this: {message}")]
    Forbidden {
        /// The server's name.
        host: String,
        /// GitLab's words.
        message: String,
    },
    /// The project, branch or page does not exist (or is not visible).
    #[error("GitLab at {host} has no {what}, or this account can't see it.")]
    NotFound {
        /// The server's name.
        host: String,
        /// What was looked for.
        what: String,
    },
    /// Too many requests; GitLab said when to come back.
    #[error("GitLab at {host} asked Ferry to slow down. Ferry will try again{}.", retry_after.map(|d| format!(" in {} seconds", d.as_secs().max(1))).unwrap_or_default())]
    RateLimited {
        /// The server's name.
        host: String,
        /// `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// A server-side failure.
    #[error("GitLab at {host} had a problem (HTTP {status}). Ferry will try again.")]
    Server {
        /// The server's name.
        host: String,
        /// The HTTP status.
        status: u16,
    },
    /// GitLab refused the input (a name already taken, ...).
    #[error("GitLab at {host} did not accept this: {message}")]
    Rejected {
        /// The server's name.
        host: String,
        /// GitLab's words.
        message: String,
    },
    /// An answer Ferry does not understand.
    #[error("GitLab at {host} sent an answer Ferry doesn't understand ({detail}).")]
    Unexpected {
        /// The server's name.
        host: String,
        /// What was wrong.
        detail: String,
    },
    /// The OAuth sign-in in the browser did not complete.
    #[error("{0}")]
    OAuth(#[from] oauth::FlowError),
}

fn tls_message(host: &str, problem: &TlsProblem) -> String {
    match problem {
        TlsProblem::UntrustedIssuer => format!(
            "The security certificate of {host} was issued by an authority this computer doesn't trust — usual for an organisation's own GitLab. Ask your GitLab administrator for the CA certificate (a .pem or .crt file) and add it in Ferry. Ferry never turns this check off."
        ),
        TlsProblem::Expired => format!(
            "The security certificate of {host} has expired (or this computer's clock is wrong). Check the date and time here; otherwise ask your GitLab administrator to renew the certificate."
        ),
        TlsProblem::WrongHost => format!(
            "The security certificate presented by {host} is for a different name. Check the address; if it is right, ask your GitLab administrator."
        ),
        TlsProblem::Other(detail) => format!(
            "Ferry couldn't make a secure connection to {host} ({detail}). Ask your GitLab administrator."
        ),
    }
}

fn sign_in_message(host: &str, problem: SignInProblem) -> String {
    match problem {
        SignInProblem::Invalid => format!(
            "GitLab at {host} refused the sign-in: the token is not valid. Check that you copied all of it, or create a new one."
        ),
        SignInProblem::Expired => format!(
            "GitLab at {host} refused the sign-in: the token has expired. Sign in again from Settings → Accounts."
        ),
        SignInProblem::Revoked => format!(
            "GitLab at {host} refused the sign-in: access was revoked. Sign in again from Settings → Accounts."
        ),
    }
}

impl Error {
    /// How the engine treats it: retry later, ask the user, or give up.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NameNotFound { .. }
            | Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::Server { .. }
            // An answer that isn't GitLab's (a proxy's error page during
            // maintenance, say) passes too.
            | Self::Unexpected { .. } => ErrorClass::RetryLater,
            _ => ErrorClass::NeedsUser,
        }
    }

    /// A stable code for the UI to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadAddress(_) => "bad_address",
            Self::NameNotFound { .. } => "name_not_found",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::Tls {
                problem: TlsProblem::UntrustedIssuer,
                ..
            } => "tls_untrusted",
            Self::Tls {
                problem: TlsProblem::Expired,
                ..
            } => "tls_expired",
            Self::Tls {
                problem: TlsProblem::WrongHost,
                ..
            } => "tls_wrong_host",
            Self::Tls { .. } => "tls_other",
            Self::BadCaFile { .. } => "bad_ca_file",
            Self::NotGitLab { .. } => "not_gitlab",
            Self::SignIn {
                problem: SignInProblem::Invalid,
                ..
            } => "token_invalid",
            Self::SignIn {
                problem: SignInProblem::Expired,
                ..
            } => "token_expired",
            Self::SignIn {
                problem: SignInProblem::Revoked,
                ..
            } => "token_revoked",
            Self::MissingScopes { .. } => "missing_scopes",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server { .. } => "server_error",
            Self::Rejected { .. } => "rejected",
            Self::Unexpected { .. } => "unexpected",
            Self::OAuth(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_fix_and_classes_guide_retries() {
        let e = Error::Tls {
            host: "git.example.org".into(),
            problem: TlsProblem::UntrustedIssuer,
        };
        assert!(e.to_string().contains("CA certificate"), "{e}");
        assert!(e.to_string().contains("never turns this check off"));
        assert_eq!(e.class(), ErrorClass::NeedsUser);
        assert_eq!(e.code(), "tls_untrusted");

        let e = Error::MissingScopes {
            missing: vec!["write_repository".into()],
            create_url: "https://g.example.org/-/user_settings/personal_access_tokens?name=Ferry"
                .into(),
        };
        assert!(
            e.to_string().contains("missing the scope write_repository"),
            "{e}"
        );
        assert!(e
            .to_string()
            .contains("/-/user_settings/personal_access_tokens"));

        let e = Error::SignIn {
            host: "g".into(),
            problem: SignInProblem::Expired,
        };
        assert!(e.to_string().contains("Sign in again"), "{e}");
        assert_eq!(
            Error::Timeout { host: "g".into() }.class(),
            ErrorClass::RetryLater
        );
        assert!(Error::NameNotFound { host: "g".into() }
            .to_string()
            .contains("VPN"));
    }
}
