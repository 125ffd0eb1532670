//! Public-key signatures this process has already verified, so a client
//! that sends the same token on every request (what every client does for
//! the token's lifetime) pays the signature check once per instance, not
//! once per request: an EdDSA or ES256 check is most of a JWT route's CPU.
//! Envoy's `jwt_authn` keeps the same kind of cache.
//!
//! Only the signature is remembered, nothing the token says: every other
//! check (algorithm, issuer, key lookup, `exp`/`nbf`/`iat` against the
//! clock, audience, provider rules, revocation) runs on every request. An
//! entry is the SHA-256 of the whole token (signing input and signature,
//! so no other bytes can hit it) and a weak handle on the key that
//! verified it; it counts only while that very key is still among the
//! issuer's candidates. A key dropped from the JWKS, or replaced by a
//! refresh, is a new object: its tokens are verified again, and a token of
//! a removed key is refused as before. The weak handle keeps the key's
//! allocation, so no other key can ever sit at its address.
//!
//! Only signatures that verified are inserted, so a flood of forged tokens
//! costs a check each, as before, and no memory; the cache is bounded
//! ([`crate::bounded_cache`]) and an entry dies with its token's `exp`.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::keys::VerifyingKey;
use crate::bounded_cache::{BoundedCache, Lifetime};

/// Entries kept: 40 bytes of key and a pointer each, so about 0.3 MB full.
const CAPACITY: usize = 4096;
/// How long an entry of a token without a usable `exp` is kept (such a
/// token is refused by the claim checks anyway).
const WITHOUT_EXP: Duration = Duration::from_secs(60);
/// The longest an entry is kept, whatever the token's `exp`.
const AT_MOST: Duration = Duration::from_secs(24 * 3600);

/// The SHA-256 of a whole token, the cache's key.
pub(crate) type TokenDigest = [u8; 32];

pub(crate) struct VerifiedSignatures {
    cache: Mutex<BoundedCache<TokenDigest, Weak<VerifyingKey>>>,
}

impl std::fmt::Debug for VerifiedSignatures {
    /// The number of entries only: digests of users' tokens have no place
    /// in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.cache.lock().map_or(0, |cache| cache.len());
        f.debug_struct("VerifiedSignatures")
            .field("entries", &entries)
            .finish()
    }
}

impl VerifiedSignatures {
    pub(crate) fn new() -> Self {
        VerifiedSignatures::with_capacity(CAPACITY)
    }

    fn with_capacity(capacity: usize) -> Self {
        VerifiedSignatures {
            cache: Mutex::new(BoundedCache::new(capacity)),
        }
    }

    /// The digest of the token `signing_input.signature`.
    pub(crate) fn digest(signing_input: &str, signature: &str) -> TokenDigest {
        let mut hasher = Sha256::new();
        hasher.update(signing_input.as_bytes());
        hasher.update(b".");
        hasher.update(signature.as_bytes());
        hasher.finalize().into()
    }

    /// Whether `key`, this very key object, verified this token before.
    pub(crate) fn verified_by(&self, digest: &TokenDigest, key: &Arc<VerifyingKey>) -> bool {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(digest)
            .is_some_and(|verified| std::ptr::eq(verified.as_ptr(), Arc::as_ptr(key)))
    }

    /// Records that `key` verified this token, whose `exp` is `exp` (Unix
    /// seconds, if it has one). The entry's lifetime only bounds memory: the
    /// claim checks judge `exp` on every request, at the request's time.
    pub(crate) fn remember(&self, digest: TokenDigest, key: &Arc<VerifyingKey>, exp: Option<f64>) {
        let now = crate::clock::unix_now();
        let keep = exp
            .filter(|exp| exp.is_finite())
            .map_or(WITHOUT_EXP, |exp| {
                Duration::from_secs_f64((exp - now as f64).clamp(0.0, AT_MOST.as_secs_f64()))
            });
        let instant = Instant::now();
        let lifetime = Lifetime {
            dead_after: Some(instant + keep),
            negative: false,
        };
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest, Arc::downgrade(key), lifetime, instant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey};

    fn key(kid: &str) -> Arc<VerifyingKey> {
        Arc::new(VerifyingKey {
            kid: Some(kid.to_owned()),
            algorithm: Algorithm::HS256,
            key: DecodingKey::from_secret(b"test").expect("an HMAC key"),
        })
    }

    #[test]
    fn a_signature_counts_only_for_the_key_object_that_verified_it() {
        let signatures = VerifiedSignatures::new();
        let digest = VerifiedSignatures::digest("header.payload", "signature");
        let (key, same_kid_reloaded) = (key("k1"), key("k1"));
        assert!(!signatures.verified_by(&digest, &key));
        signatures.remember(digest, &key, Some(4_000_000_000.0));
        assert!(signatures.verified_by(&digest, &key));
        // A refresh builds new key objects: verified again, once.
        assert!(!signatures.verified_by(&digest, &same_kid_reloaded));
        // Any other byte is another token.
        for (input, signature) in [
            ("header.payload", "signaturf"),
            ("header.payloae", "signature"),
            ("header.payload.", "signature"),
        ] {
            let other = VerifiedSignatures::digest(input, signature);
            assert!(!signatures.verified_by(&other, &key), "{input}.{signature}");
        }
        // A key gone from the key set can match nothing.
        drop(key);
        let replacement = self::key("k1");
        assert!(!signatures.verified_by(&digest, &replacement));
    }

    #[test]
    fn the_cache_is_bounded() {
        let signatures = VerifiedSignatures::with_capacity(8);
        let key = key("k1");
        for n in 0..100 {
            let digest = VerifiedSignatures::digest("h.p", &n.to_string());
            signatures.remember(digest, &key, None);
        }
        let cache = signatures
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        assert!(cache.len() <= 8, "{}", cache.len());
    }
}
