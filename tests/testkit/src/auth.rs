//! Who is asking: resolves a personal access token or an OAuth access token
//! as GitLab does, for the REST API and for git over HTTP.

use chrono::Utc;

use crate::state::Data;

/// A request's verified identity.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user_id: u64,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// True for a personal access token, false for an OAuth token.
    pub personal: bool,
    /// The token's row id.
    pub token_id: u64,
}

impl Caller {
    /// True if the token has any of `scopes`.
    pub fn has_any(&self, scopes: &[&str]) -> bool {
        self.scopes.iter().any(|s| scopes.contains(&s.as_str()))
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No such token.
    Unknown,
    /// It has expired.
    Expired,
    /// It was revoked.
    Revoked,
}

/// Resolves `token`: a personal access token, else an OAuth access token.
/// Marks a personal token as used.
pub fn resolve(data: &mut Data, token: &str) -> Result<Caller, Rejection> {
    let now = Utc::now();
    if let Some(t) = data.tokens.iter_mut().find(|t| t.token == token) {
        if t.revoked {
            return Err(Rejection::Revoked);
        }
        if t.expires_at.is_some_and(|d| d <= now.date_naive()) {
            return Err(Rejection::Expired);
        }
        t.last_used_at = Some(now);
        return Ok(Caller {
            user_id: t.user_id,
            scopes: t.scopes.clone(),
            personal: true,
            token_id: t.id,
        });
    }
    if let Some(t) = data.oauth_tokens.iter().find(|t| t.access_token == token) {
        if t.revoked {
            return Err(Rejection::Revoked);
        }
        if t.remaining(now) <= 0 {
            return Err(Rejection::Expired);
        }
        return Ok(Caller {
            user_id: t.user_id,
            scopes: t.scopes.clone(),
            personal: false,
            token_id: t.id,
        });
    }
    Err(Rejection::Unknown)
}

/// Checks constant-time-ish equality of two secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
