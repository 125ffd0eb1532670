//! Values that must never reach a log, a response or a panic message.

use std::fmt;

use sha2::{Digest, Sha256};

/// A secret string. `Debug` and `Display` print `[redacted]`; the value is only
/// reachable through [`Secret::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Call it only where the secret is used as key material.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes, for validation messages that must not show the value.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short, stable identifier safe to log: lets two services compare
    /// whether they hold the same secret without revealing it.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.0.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The first 12 hex digits of the SHA-256 of `bytes`: enough to tell values
/// apart in logs, far too little to recover or brute-force a 32-byte secret.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(12);
    for byte in &digest[..6] {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("hunter2-hunter2-hunter2-hunter2-x");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2-hunter2-hunter2-hunter2-x");
    }

    #[test]
    fn fingerprint_is_short_and_stable() {
        let a = Secret::new("a".repeat(32));
        assert_eq!(a.fingerprint().len(), 12);
        assert_eq!(a.fingerprint(), Secret::new("a".repeat(32)).fingerprint());
        assert_ne!(a.fingerprint(), Secret::new("b".repeat(32)).fingerprint());
    }
}
