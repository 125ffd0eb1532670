//! JWE compact tokens with `alg: dir` (RFC 7516, RFC 7518 §4.5): the
//! content is encrypted directly with a key both sides derive from a shared
//! secret. Auth.js session cookies ([`crate::auth::authjs`]) and Better
//! Auth's `jwe` cookie cache ([`crate::auth::better_auth::cookie_cache`])
//! are such tokens; each derives its own key and fixes its own algorithm,
//! and both open the token here.
//!
//! The header is checked for shape only: which `enc` is acceptable is the
//! caller's decision, never the token's.

use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::{aead, cipher, constant_time, hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::auth::token_kind::MAX_TOKEN_BYTES;

/// A256CBC-HS512 (RFC 7518 §5.2.5): 128-bit IV, tag = half an HMAC-SHA-512.
const CBC_IV_LEN: usize = 16;
const CBC_TAG_LEN: usize = 32;
/// A256GCM (RFC 7518 §5.3): 96-bit IV, 128-bit tag.
const GCM_IV_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;

/// Longest `alg`/`enc` kept in a [`JweError::Unsupported`]: they come from
/// an untrusted header, and a log line must not grow with the attacker's input.
const MAX_ALGORITHM_NAME: usize = 32;

/// The content encryptions a `dir` JWE may use here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    /// `A256CBC-HS512`: a 64-byte key, HMAC-SHA-512 half then AES-256 half.
    A256CbcHs512,
    /// `A256GCM`: a 32-byte key.
    A256Gcm,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    /// Not five base64url segments, bad header JSON, wrong IV/tag length...;
    /// the text says what, and is safe to show.
    #[error("{0}")]
    Malformed(&'static str),
    /// Not `dir` with `A256CBC-HS512` or `A256GCM`.
    #[error("alg {alg:?} with enc {enc:?}")]
    Unsupported { alg: String, enc: String },
}

/// A JWE whose shape has been checked; nothing in it is authenticated yet.
pub struct Jwe<'a> {
    /// The protected header exactly as received: it is the AAD, so it must
    /// not be re-encoded.
    protected: &'a str,
    alg: String,
    enc_name: String,
    enc: Enc,
    kid: Option<String>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

impl std::fmt::Debug for Jwe<'_> {
    /// The algorithms and `kid` only: the rest is token material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwe")
            .field("alg", &self.alg)
            .field("enc", &self.enc_name)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl<'a> Jwe<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JweError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JweError::Malformed("token is longer than 16 KiB"));
        }
        let mut segments = token.split('.');
        let (Some(protected), Some(encrypted_key), Some(iv), Some(ciphertext), Some(tag), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(JweError::Malformed(
                "not a JWE compact token (five dot-separated segments)",
            ));
        };

        let header: Map<String, Value> = URL_SAFE_NO_PAD
            .decode(protected)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(JweError::Malformed(
                "protected header is not a base64url-encoded JSON object",
            ))?;
        let (Some(alg), Some(enc_name)) = (
            header.get("alg").and_then(Value::as_str),
            header.get("enc").and_then(Value::as_str),
        ) else {
            return Err(JweError::Malformed(
                "protected header lacks a string `alg` or `enc`",
            ));
        };
        // No library we read sets these; honouring them would mean
        // inflating attacker-chosen data or ignoring extensions RFC 7516
        // says to obey.
        if header.contains_key("zip") {
            return Err(JweError::Malformed(
                "compressed (`zip`) payloads are not supported",
            ));
        }
        if header.contains_key("crit") {
            return Err(JweError::Malformed(
                "header lists critical (`crit`) extensions",
            ));
        }
        let enc = match (alg, enc_name) {
            ("dir", "A256CBC-HS512") => Enc::A256CbcHs512,
            ("dir", "A256GCM") => Enc::A256Gcm,
            _ => return Err(unsupported(alg, enc_name)),
        };
        if !encrypted_key.is_empty() {
            return Err(JweError::Malformed(
                "encrypted-key segment must be empty for alg `dir`",
            ));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(JweError::Malformed("header `kid` is not a string")),
        };

        let decode = |segment: &str, what: &'static str| {
            URL_SAFE_NO_PAD
                .decode(segment)
                .map_err(|_| JweError::Malformed(what))
        };
        let iv = decode(iv, "IV segment is not base64url")?;
        let ciphertext = decode(ciphertext, "ciphertext segment is not base64url")?;
        let tag = decode(tag, "tag segment is not base64url")?;
        let (iv_len, tag_len) = match enc {
            Enc::A256CbcHs512 => (CBC_IV_LEN, CBC_TAG_LEN),
            Enc::A256Gcm => (GCM_IV_LEN, GCM_TAG_LEN),
        };
        if iv.len() != iv_len {
            return Err(JweError::Malformed("IV has the wrong length for `enc`"));
        }
        if tag.len() != tag_len {
            return Err(JweError::Malformed(
                "authentication tag has the wrong length for `enc`",
            ));
        }
        if enc == Enc::A256CbcHs512 && (ciphertext.is_empty() || ciphertext.len() % CBC_IV_LEN != 0)
        {
            return Err(JweError::Malformed(
                "ciphertext is not a whole number of AES blocks",
            ));
        }
        Ok(Self {
            protected,
            alg: alg.to_owned(),
            enc_name: enc_name.to_owned(),
            enc,
            kid,
            iv,
            ciphertext,
            tag,
        })
    }

    pub fn enc(&self) -> Enc {
        self.enc
    }

    /// The header's `kid`, when it has one (unauthenticated until opened).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The error naming this token's `alg` and `enc`, for a caller that
    /// does not accept its `enc`.
    pub fn unsupported(&self) -> JweError {
        unsupported(&self.alg, &self.enc_name)
    }

    /// A256CBC-HS512 per RFC 7518 §5.2.2 with a 64-byte key (MAC key, then
    /// AES key). `Ok(None)` means the tag did not verify (another key: try
    /// the next one). The tag is checked before any decryption so that
    /// nothing about the padding of an unauthenticated ciphertext can leak.
    pub fn open_cbc_hs512(&self, key: &[u8; 64]) -> Result<Option<Vec<u8>>, JweError> {
        if self.enc != Enc::A256CbcHs512 {
            return Err(self.unsupported());
        }
        let (mac_key, enc_key) = key.split_at(32);
        let aad = self.protected.as_bytes();
        // AL: the AAD length in bits, as a 64-bit big-endian integer.
        let aad_bits = u64::try_from(aad.len())
            .unwrap_or(u64::MAX)
            .saturating_mul(8);
        let mut mac = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA512, mac_key));
        for part in [aad, &self.iv, &self.ciphertext, &aad_bits.to_be_bytes()] {
            mac.update(part);
        }
        let full = mac.sign();
        let authentic = full.as_ref().get(..CBC_TAG_LEN).is_some_and(|expected| {
            constant_time::verify_slices_are_equal(expected, &self.tag).is_ok()
        });
        if !authentic {
            return Ok(None);
        }

        // Authentic from here on: a failure is the issuer's fault, not a
        // wrong key, so it ends the search instead of trying other keys.
        let broken = JweError::Malformed("authenticated ciphertext does not decrypt");
        let iv: [u8; CBC_IV_LEN] = self.iv.as_slice().try_into().map_err(|_| broken.clone())?;
        let aes = cipher::UnboundCipherKey::new(&cipher::AES_256, enc_key)
            .and_then(cipher::PaddedBlockDecryptingKey::cbc_pkcs7)
            .map_err(|_| broken.clone())?;
        let mut buffer = self.ciphertext.clone();
        let plaintext = aes
            .decrypt(
                &mut buffer,
                cipher::DecryptionContext::Iv128(FixedLength::from(iv)),
            )
            .map_err(|_| broken)?;
        Ok(Some(plaintext.to_vec()))
    }

    /// A256GCM with a 32-byte key; `None` if the tag did not verify.
    pub fn open_gcm(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        if self.enc != Enc::A256Gcm {
            return None;
        }
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).ok()?);
        let nonce = aead::Nonce::try_assume_unique_for_key(&self.iv).ok()?;
        // A failed open may scribble on the buffer, so each attempt gets a copy.
        let mut buffer = self.ciphertext.clone();
        let plaintext = key
            .open_in_place_separate_tag(
                nonce,
                aead::Aad::from(self.protected.as_bytes()),
                &self.tag,
                &mut buffer,
            )
            .ok()?;
        Some(plaintext.to_vec())
    }
}

fn unsupported(alg: &str, enc: &str) -> JweError {
    let clip = |name: &str| name.chars().take(MAX_ALGORITHM_NAME).collect();
    JweError::Unsupported {
        alg: clip(alg),
        enc: clip(enc),
    }
}

/// HKDF output length for aws-lc-rs, which takes it as a trait object.
struct OkmLen(usize);

impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 into `N` bytes, as the JavaScript libraries derive their JWE
/// keys from a secret. An empty `salt` is RFC 5869's "HashLen zeros".
/// `None` only if `N` exceeded HKDF's limit, which the fixed sizes used
/// here never do.
pub fn hkdf_sha256<const N: usize>(ikm: &[u8], salt: &[u8], info: &[u8]) -> Option<[u8; N]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let mut out = [0u8; N];
    prk.expand(&[info], OkmLen(N)).ok()?.fill(&mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Seals `payload` as A256GCM under `header`, for the round trip below.
    fn seal_gcm(key: &[u8; 32], header: &str, payload: &[u8]) -> String {
        let protected = b64(header.as_bytes());
        let sealing =
            aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).unwrap());
        let iv = [9u8; GCM_IV_LEN];
        let mut buffer = payload.to_vec();
        let tag = sealing
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(iv),
                aead::Aad::from(protected.as_bytes()),
                &mut buffer,
            )
            .unwrap();
        format!(
            "{protected}..{}.{}.{}",
            b64(&iv),
            b64(&buffer),
            b64(tag.as_ref())
        )
    }

    #[test]
    fn the_kid_is_read_and_the_enc_is_the_callers_choice() {
        let key = [3u8; 32];
        let token = seal_gcm(&key, r#"{"alg":"dir","enc":"A256GCM","kid":"k1"}"#, b"{}");
        let jwe = Jwe::parse(&token).unwrap();
        assert_eq!(jwe.kid(), Some("k1"));
        assert_eq!(jwe.enc(), Enc::A256Gcm);
        assert_eq!(jwe.open_gcm(&key).as_deref(), Some(&b"{}"[..]));
        assert_eq!(jwe.open_gcm(&[4u8; 32]), None);
        // Asked to open it as another enc: refused, never tried.
        assert_eq!(
            jwe.open_cbc_hs512(&[0u8; 64]),
            Err(JweError::Unsupported {
                alg: "dir".into(),
                enc: "A256GCM".into()
            })
        );
        let numeric_kid = seal_gcm(&key, r#"{"alg":"dir","enc":"A256GCM","kid":7}"#, b"{}");
        assert!(matches!(
            Jwe::parse(&numeric_kid),
            Err(JweError::Malformed(_))
        ));
    }
}
