//! Where secrets live and how they travel.
//!
//! Promise: a token is only ever in the OS keyring or in memory inside a
//! [`Sensitive`]. `Sensitive` has no `Display` and no `Serialize`, and its
//! `Debug` prints `<redacted>`, so a token cannot reach a log line, an error
//! message, the settings file or the UI by accident: exposing it takes an
//! explicit, greppable [`Sensitive::expose`].
//!
//! # Limitations
//! The keyring store arrives with the connect step; this module holds the
//! wrapper every part of Ferry already uses.

use std::fmt;

/// A value that must never be printed, logged or serialized: tokens, secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that must send it (an HTTP
    /// header, a git credential callback, the keyring).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret, for handing it to the keyring.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

/// Reading a secret from a server's JSON answer is fine; writing one out is not.
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Sensitive<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // read through Debug
    struct TokenAnswer {
        access_token: Sensitive<String>,
        expires_in: u64,
    }

    #[test]
    fn debug_never_shows_the_value() {
        let token = Sensitive::new("glpat-very-secret".to_string());
        assert_eq!(format!("{token:?}"), "<redacted>");
        assert_eq!(token.expose(), "glpat-very-secret", "explicit access works");
    }

    #[test]
    fn a_struct_holding_a_secret_debug_prints_redacted() {
        let answer: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"s3cr3t-value","expires_in":7200}"#).unwrap();
        let printed = format!("{answer:?}");
        assert!(!printed.contains("s3cr3t"), "leaked: {printed}");
        assert!(printed.contains("<redacted>") && printed.contains("7200"));
    }

    // Compile-time proof that a Sensitive value cannot be displayed or serialized.
    trait NotDisplayOrSerialize<A> {
        fn check() {}
    }
    impl<T: ?Sized> NotDisplayOrSerialize<()> for T {}
    #[allow(dead_code)]
    struct ViaDisplay;
    impl<T: ?Sized + fmt::Display> NotDisplayOrSerialize<ViaDisplay> for T {}
    #[allow(dead_code)]
    struct ViaSerialize;
    impl<T: ?Sized + serde::Serialize> NotDisplayOrSerialize<ViaSerialize> for T {}

    #[test]
    fn sensitive_implements_neither_display_nor_serialize() {
        // If Sensitive<String> implemented Display or Serialize, this call would
        // be ambiguous and fail to compile.
        <Sensitive<String> as NotDisplayOrSerialize<_>>::check();
    }
}
