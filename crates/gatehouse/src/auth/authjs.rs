//! Decrypting Auth.js (NextAuth v5) and NextAuth v4 session cookies.
//!
//! These cookies are not signed JWTs but JWEs with `alg: dir`: the content key
//! is derived from `AUTH_SECRET` with HKDF, so whoever holds the secret can
//! read the session, and nobody else can read or forge it. v5 uses
//! A256CBC-HS512 with the cookie name as HKDF salt; v4 uses A256GCM with an
//! empty salt. The algorithm is fixed by the cookie name's generation, never
//! chosen by the token alone.

use serde_json::{Map, Value};

use crate::auth::identity;
use crate::auth::jwe::{Enc, Jwe, JweError, hkdf_sha256};
use crate::auth::principal::{Method, Principal};
use crate::auth::refusal::Refusal;
use crate::auth::revocation;
use crate::auth::settings::AuthSettings;
use crate::auth::verify::{Accepted, Attempt, Verify, select_claims};
use crate::clock::numeric_date_secs;
use crate::clock::rfc3339;
use crate::reason::Reason;
use crate::secret::Secret;

/// The cookie names Auth.js v5 uses by default, in the order a bearer token
/// (which carries no cookie name) is tried: HTTPS deployments are the norm.
const V5_DEFAULT_SALTS: [&str; 2] = ["__Secure-authjs.session-token", "authjs.session-token"];

/// Cookie-name prefixes of NextAuth v4; v5 renamed its cookies to `authjs.`.
const V4_PREFIXES: [&str; 3] = ["next-auth.", "__Secure-next-auth.", "__Host-next-auth."];

const V4_INFO: &[u8] = b"NextAuth.js Generated Encryption Key";

/// Which Auth.js generation a cookie name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// `@auth/core` / NextAuth v5: `dir` + `A256CBC-HS512`, salted by cookie name.
    V5,
    /// NextAuth v4: `dir` + `A256GCM`, unsalted.
    V4,
}

/// The generation a session cookie name belongs to: NextAuth v4 named its
/// cookies `next-auth.*` (with the optional `__Secure-`/`__Host-` prefix);
/// everything else, including custom names, is treated as v5.
pub fn generation(cookie_name: &str) -> Generation {
    if V4_PREFIXES
        .iter()
        .any(|prefix| cookie_name.starts_with(prefix))
    {
        Generation::V4
    } else {
        Generation::V5
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthJsError {
    /// Not five base64url segments, bad header JSON, wrong IV/tag length,
    /// payload not a JSON object...; the text says what, and is safe to show.
    #[error("malformed Auth.js session token: {0}")]
    Malformed(&'static str),
    /// The header's `alg`/`enc` pair is not the one this cookie's generation
    /// uses (`dir` + `A256CBC-HS512` for v5, `dir` + `A256GCM` for v4).
    #[error(
        "Auth.js session token uses alg {alg:?} with enc {enc:?}; Auth.js v5 cookies use \
         \"dir\" with \"A256CBC-HS512\" and NextAuth v4 cookies \"dir\" with \"A256GCM\""
    )]
    Unsupported { alg: String, enc: String },
    /// The authentication tag did not verify with any secret: the cookie was
    /// encrypted with another AUTH_SECRET (or for another cookie name), or altered.
    #[error(
        "Auth.js session token did not decrypt with any of the {secrets_tried} configured \
         secret(s): it was encrypted with another AUTH_SECRET or altered"
    )]
    DecryptionFailed { secrets_tried: usize },
}

/// Decrypts a JWE compact session token and returns its claims object.
///
/// `cookie_name` is the cookie's base name (without a `.0`/`.1` chunk suffix;
/// the caller joins chunks), which is both the v5 HKDF salt and what decides
/// the generation. `None` means the token came in an `Authorization` header:
/// the v5 default cookie names are tried as salts, or v4 if the header says
/// `A256GCM`. Every secret is tried, so a rotated-out secret keeps working
/// while it is still listed. Claims such as `exp` are not checked here.
pub fn decrypt(
    secrets: &[Secret],
    cookie_name: Option<&str>,
    token: &str,
) -> Result<Map<String, Value>, AuthJsError> {
    let jwe = Jwe::parse(token)?;
    let generation = match jwe.enc() {
        Enc::A256CbcHs512 => Generation::V5,
        Enc::A256Gcm => Generation::V4,
    };
    if let Some(name) = cookie_name
        && self::generation(name) != generation
    {
        return Err(jwe.unsupported().into());
    }
    let salts: &[&str] = match cookie_name {
        Some(name) => &[name],
        None => &V5_DEFAULT_SALTS,
    };
    for secret in secrets {
        let ikm = secret.expose().as_bytes();
        let plaintext = match generation {
            Generation::V5 => salts
                .iter()
                .find_map(|salt| open_v5(&jwe, ikm, salt).transpose())
                .transpose()?,
            Generation::V4 => {
                hkdf_sha256::<32>(ikm, &[], V4_INFO).and_then(|key| jwe.open_gcm(&key))
            }
        };
        if let Some(plaintext) = plaintext {
            return serde_json::from_slice(&plaintext)
                .map_err(|_| AuthJsError::Malformed("decrypted payload is not a JSON object"));
        }
    }
    Err(AuthJsError::DecryptionFailed {
        secrets_tried: secrets.len(),
    })
}

/// Opens a v5 token with the key Auth.js derives for `salt` (its cookie
/// name). `Ok(None)`: the tag did not verify (another secret or salt).
fn open_v5(jwe: &Jwe<'_>, ikm: &[u8], salt: &str) -> Result<Option<Vec<u8>>, AuthJsError> {
    let info = format!("Auth.js Generated Encryption Key ({salt})");
    let Some(key) = hkdf_sha256::<64>(ikm, salt.as_bytes(), info.as_bytes()) else {
        return Ok(None);
    };
    Ok(jwe.open_cbc_hs512(&key)?)
}

impl From<JweError> for AuthJsError {
    fn from(err: JweError) -> Self {
        match err {
            JweError::Malformed(what) => AuthJsError::Malformed(what),
            JweError::Unsupported { alg, enc } => AuthJsError::Unsupported { alg, enc },
        }
    }
}

/// Auth.js (or NextAuth v4) encrypted session cookies, decrypted with
/// `AUTH_SECRET`.
#[derive(Debug)]
pub(crate) struct AuthjsVerifier {
    secrets: Vec<Secret>,
    leeway: i64,
    checks_revocation: bool,
    principal_claims: Vec<String>,
}

impl AuthjsVerifier {
    pub(crate) fn new(settings: &AuthSettings) -> Self {
        AuthjsVerifier {
            secrets: settings.authjs_secrets.clone(),
            leeway: i64::try_from(settings.leeway.as_secs()).unwrap_or(30),
            checks_revocation: settings.checks_revocation(),
            principal_claims: settings.principal_claims.clone(),
        }
    }

    /// Whether `AUTH_SECRET` is set: without it, a JWE is not a credential
    /// this deployment accepts.
    pub(crate) fn is_configured(&self) -> bool {
        !self.secrets.is_empty()
    }
}

impl Verify for AuthjsVerifier {
    const CHECKS: &'static [&'static str] = &[
        "recognised",
        "decryption",
        "expiry and clock",
        "required claims",
        "revocation",
        "user profile",
    ];

    async fn verify(&self, attempt: Attempt<'_>) -> Result<Accepted, Refusal> {
        let Attempt {
            credential,
            now,
            facts,
            ..
        } = attempt;
        let leeway = self.leeway;
        let token = credential.token.expose();
        let claims = decrypt(&self.secrets, credential.source.cookie_name(), token).map_err(
            |err| match err {
                AuthJsError::Malformed(what) => Refusal::new(
                    Reason::TokenMalformed,
                    format!("the Auth.js session token {what}"),
                    "send the session cookie exactly as Auth.js set it (all of its .0, .1, … chunks)",
                ),
                AuthJsError::Unsupported { alg, enc } => {
                    facts.alg = Some(format!("{alg}+{enc}"));
                    Refusal::new(
                        Reason::AlgorithmNotAllowed,
                        format!("the encrypted token uses alg {alg} with enc {enc}; Auth.js uses dir with A256CBC-HS512 (NextAuth v4: A256GCM)"),
                        "send an Auth.js session cookie, or a signed JWT in Authorization: Bearer",
                    )
                }
                AuthJsError::DecryptionFailed { secrets_tried } => Refusal::revealing(
                    Reason::TokenDecryptionFailed,
                    format!("the Auth.js session token does not decrypt with the {secrets_tried} configured secret(s)"),
                    "AUTH_SECRET here differs from the Auth.js app's (or the cookie was altered, or its name changed): set the same AUTH_SECRET in both",
                ),
            },
        )?;
        let number = |name: &str| claims.get(name).and_then(Value::as_f64);
        let exp = match number("exp") {
            None => None,
            Some(exp) => Some(numeric_date_secs(exp).ok_or_else(|| {
                Refusal::new(
                    Reason::TokenMalformed,
                    format!("the Auth.js session token's `exp` is {exp:e}, outside the dates this API accepts (1970 to 9999)"),
                    "Auth.js sets exp to a date in seconds; the token was not made by Auth.js's encode",
                )
            })?),
        };
        let Some(exp) = exp else {
            return Err(Refusal::new(
                Reason::ClaimMissing,
                "the Auth.js session token has no `exp` (claim `exp`)",
                "Auth.js always sets exp; the token was not made by Auth.js's encode",
            ));
        };
        facts.exp = Some(exp);
        facts.iat = number("iat").and_then(numeric_date_secs);
        if exp + leeway <= now {
            return Err(Refusal::revealing(
                Reason::TokenExpired,
                format!(
                    "the Auth.js session expired at {} (server time {}, leeway {leeway} s)",
                    rfc3339(exp),
                    rfc3339(now)
                ),
                "sign in again; Auth.js refreshes the cookie only while the session is used (session.updateAge)",
            ));
        }
        let Some(subject) = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| !sub.is_empty())
        else {
            return Err(Refusal::new(
                Reason::ClaimMissing,
                "the Auth.js session names no user (claim `sub`)",
                "return `sub` from the Auth.js jwt callback (it is there unless the callback drops it)",
            ));
        };
        let mut principal = Principal::new(
            identity::AUTHJS,
            subject.to_owned(),
            Method::AuthjsSession,
            credential.source.to_string(),
        );
        principal.expires_at = Some(exp);
        principal.issued_at = number("iat");
        if self.checks_revocation {
            let jti = claims.get("jti").and_then(Value::as_str);
            principal.revocation_id = Some(revocation::token_id(jti, token));
        }
        principal.claims = claims;
        select_claims(&mut principal, &self.principal_claims);
        Ok(Accepted::pending(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token_kind::MAX_TOKEN_BYTES;
    use aws_lc_rs::aead;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// A256GCM's IV length, and the longest algorithm name an error keeps.
    const GCM_IV_LEN: usize = 12;
    const MAX_ALGORITHM_NAME: usize = 32;

    const SECRET: &str = "authjs-test-secret-0123456789abcdef";
    const OTHER_SECRET: &str = "another-secret-fedcba9876543210-xyz";

    // Produced in tests/interop with the real libraries (@auth/core 0.41.3's
    // `encode` for v5; node:crypto HKDF + jose `EncryptJWT` for v4), exp ~100
    // years ahead:
    //   node mint-authjs.mjs '[
    //     {"secret":"authjs-test-secret-0123456789abcdef","salt":"authjs.session-token",
    //      "token":{"sub":"u1","email":"a@b.c","name":"A"},"maxAge":3153600000},
    //     {"secret":"authjs-test-secret-0123456789abcdef","salt":"__Secure-authjs.session-token",
    //      "token":{"sub":"u2","email":"b@c.d","name":"B"},"maxAge":3153600000},
    //     {"secret":"authjs-test-secret-0123456789abcdef","v4":true,
    //      "token":{"sub":"u3","email":"c@d.e","name":"C"},"maxAge":3153600000}]'
    const V5_TOKEN: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiOXJjRzhmMFhvVTNGa29fOVl6TWtjcm9QcXdnVFFkRllUMGROT2x5Mks1SHJINjMyNmFmOGRWNkNQWW1Fdks3OWMwbmNMd3J2bkppOFhWeGxFM2doS1EifQ..sj1B3QBb65tJr71zjJNarw.m8JcT0gs2PtOD66k51ArXcSKWCNG34IYOBC_eyiY19b6xy0KzaMo6f8SfYQeKE1IXv_DImUssPkNgmC4B98mb8Wu4xMu1gr5mJorfOiHzPTOIhR1OtrX2GigdiqYuvEXdpr6Fk83UyeNmVBQApYodhZh3Hp9NAIFH0X1e4Ef1r4.V7Ybw4YlLJzWy07-IvJQn5OHiz9f5Dmphnbcvn3d1gE";
    const V5_SECURE_TOKEN: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoiVjliQnBnXzlxd3MtdjZYTG16VFhxc00tQldyTGJrOGhhWHF6LUMxZUxWd1pyRFVnQnQtckZiNmdOQU5ldmFMNkxIMDI5SU5xNE4xR0h0NlFuQ2Jwb0EifQ..Uihu6KR6Seey0fUz9dlHpA.N-lYkHHay_tbtSL2gGfQfl3x1Zh3Ge4ro_g6PPiRulrIwLHlQwXf3InmCQHpGCCIn7jSwvrBO_KBQWskGrNblM28haynzZkel0mkWRIzTS7Ag4-04rtUPw70Igbdg_9FZrUA2aXREVa7kesVtRZKjjp9ZSJSDA0rIBN_-5n9Ynw.17KUOX2LhnJnBDL0Ot96o5HEJeVhNahrCc3gmaqanYI";
    const V4_TOKEN: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..PNITllszqukp2lT0.7xGtFU77bUroWRADO_dynRsjpis_MwIV2cmN8KNgFj1rZrbnkLKZUPlcBmvMp7GOM6aTeZ10a5Gzqu6K2O7BCUspulk2U9f7fRgATeL39_QFIrisY-ZDGYhfxCmQ7NhwoYEzF7I9HMI3Xu9KTQ0P0L2v75867w.gByAT2LYuGEnH7FU5sAdog";

    const V5_NAME: &str = "authjs.session-token";
    const V5_SECURE_NAME: &str = "__Secure-authjs.session-token";
    const V4_NAME: &str = "next-auth.session-token";

    fn secrets(values: &[&str]) -> Vec<Secret> {
        values.iter().map(|value| Secret::new(*value)).collect()
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn segments(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    /// Encrypts `payload` the NextAuth v4 way under `header`, for payloads the
    /// real minter cannot produce (non-object JSON).
    fn seal_v4(secret: &str, header: &str, payload: &[u8]) -> String {
        let protected = b64(header.as_bytes());
        let key = hkdf_sha256::<32>(secret.as_bytes(), &[], V4_INFO).unwrap();
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, &key).unwrap());
        let iv = [7u8; GCM_IV_LEN];
        let mut buffer = payload.to_vec();
        let tag = key
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

    fn assert_claims(claims: &Map<String, Value>, sub: &str, email: &str, name: &str) {
        assert_eq!(claims["sub"], sub);
        assert_eq!(claims["email"], email);
        assert_eq!(claims["name"], name);
        assert_eq!(claims["iat"], 1_796_013_899);
        assert_eq!(claims["exp"], 4_949_613_899_u64);
        assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() == 36));
    }

    #[test]
    fn generation_follows_the_cookie_prefix() {
        assert_eq!(generation(V5_NAME), Generation::V5);
        assert_eq!(generation(V5_SECURE_NAME), Generation::V5);
        assert_eq!(generation("__Host-authjs.session-token"), Generation::V5);
        assert_eq!(generation("my-app.session"), Generation::V5);
        assert_eq!(generation(V4_NAME), Generation::V4);
        assert_eq!(
            generation("__Secure-next-auth.session-token"),
            Generation::V4
        );
        assert_eq!(generation("__Host-next-auth.session-token"), Generation::V4);
    }

    #[test]
    fn real_vectors_decrypt_to_their_claims() {
        let keys = secrets(&[SECRET]);
        let claims = decrypt(&keys, Some(V5_NAME), V5_TOKEN).unwrap();
        assert_claims(&claims, "u1", "a@b.c", "A");
        let claims = decrypt(&keys, Some(V5_SECURE_NAME), V5_SECURE_TOKEN).unwrap();
        assert_claims(&claims, "u2", "b@c.d", "B");
        let claims = decrypt(&keys, Some(V4_NAME), V4_TOKEN).unwrap();
        assert_claims(&claims, "u3", "c@d.e", "C");
        let claims = decrypt(&keys, Some("__Secure-next-auth.session-token"), V4_TOKEN).unwrap();
        assert_claims(&claims, "u3", "c@d.e", "C");
    }

    #[test]
    fn bearer_tokens_try_both_default_salts_and_v4() {
        let keys = secrets(&[SECRET]);
        assert_claims(&decrypt(&keys, None, V5_TOKEN).unwrap(), "u1", "a@b.c", "A");
        assert_claims(
            &decrypt(&keys, None, V5_SECURE_TOKEN).unwrap(),
            "u2",
            "b@c.d",
            "B",
        );
        assert_claims(&decrypt(&keys, None, V4_TOKEN).unwrap(), "u3", "c@d.e", "C");
    }

    #[test]
    fn wrong_secret_fails() {
        let keys = secrets(&[OTHER_SECRET]);
        for (name, token) in [
            (Some(V5_NAME), V5_TOKEN),
            (None, V5_SECURE_TOKEN),
            (Some(V4_NAME), V4_TOKEN),
            (None, V4_TOKEN),
        ] {
            assert_eq!(
                decrypt(&keys, name, token),
                Err(AuthJsError::DecryptionFailed { secrets_tried: 1 })
            );
        }
        assert_eq!(
            decrypt(&[], Some(V5_NAME), V5_TOKEN),
            Err(AuthJsError::DecryptionFailed { secrets_tried: 0 })
        );
    }

    #[test]
    fn every_secret_is_tried_for_rotation() {
        let keys = secrets(&[OTHER_SECRET, "third-secret-000000000000000000000", SECRET]);
        assert_claims(
            &decrypt(&keys, Some(V5_NAME), V5_TOKEN).unwrap(),
            "u1",
            "a@b.c",
            "A",
        );
        assert_claims(
            &decrypt(&keys, None, V5_SECURE_TOKEN).unwrap(),
            "u2",
            "b@c.d",
            "B",
        );
        assert_claims(
            &decrypt(&keys, Some(V4_NAME), V4_TOKEN).unwrap(),
            "u3",
            "c@d.e",
            "C",
        );
    }

    #[test]
    fn the_cookie_name_is_the_salt() {
        let keys = secrets(&[SECRET]);
        let failed = Err(AuthJsError::DecryptionFailed { secrets_tried: 1 });
        assert_eq!(decrypt(&keys, Some(V5_SECURE_NAME), V5_TOKEN), failed);
        assert_eq!(decrypt(&keys, Some(V5_NAME), V5_SECURE_TOKEN), failed);
        assert_eq!(
            decrypt(&keys, Some("authjs.session-token.0"), V5_TOKEN),
            failed
        );
    }

    #[test]
    fn the_cookie_generation_fixes_the_algorithm() {
        let keys = secrets(&[SECRET]);
        assert_eq!(
            decrypt(&keys, Some(V4_NAME), V5_TOKEN),
            Err(AuthJsError::Unsupported {
                alg: "dir".into(),
                enc: "A256CBC-HS512".into()
            })
        );
        assert_eq!(
            decrypt(&keys, Some(V5_NAME), V4_TOKEN),
            Err(AuthJsError::Unsupported {
                alg: "dir".into(),
                enc: "A256GCM".into()
            })
        );
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let keys = secrets(&[SECRET]);
        for (name, token) in [
            (V5_NAME, V5_TOKEN),
            (V5_SECURE_NAME, V5_SECURE_TOKEN),
            (V4_NAME, V4_TOKEN),
        ] {
            for (index, original) in token.char_indices().filter(|&(_, c)| c != '.') {
                for replacement in ['A', 'g', '_'] {
                    if replacement == original {
                        continue;
                    }
                    let mut altered = token.to_owned();
                    altered.replace_range(index..index + 1, &replacement.to_string());
                    let result = decrypt(&keys, Some(name), &altered);
                    assert!(
                        matches!(
                            result,
                            Err(AuthJsError::DecryptionFailed { .. }
                                | AuthJsError::Malformed(_)
                                | AuthJsError::Unsupported { .. })
                        ),
                        "{name}: changing character {index} gave {result:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn flipped_bytes_in_each_segment_fail_authentication() {
        let keys = secrets(&[SECRET]);
        for (name, token) in [(V5_NAME, V5_TOKEN), (V4_NAME, V4_TOKEN)] {
            for segment in [2, 3, 4] {
                let mut parts = segments(token);
                let mut bytes = URL_SAFE_NO_PAD.decode(&parts[segment]).unwrap();
                bytes[0] ^= 0x01;
                parts[segment] = b64(&bytes);
                assert_eq!(
                    decrypt(&keys, Some(name), &parts.join(".")),
                    Err(AuthJsError::DecryptionFailed { secrets_tried: 1 }),
                    "{name}: segment {segment}"
                );
            }
            // The same header JSON encoded differently is a different AAD.
            let mut parts = segments(token);
            let header = URL_SAFE_NO_PAD.decode(&parts[0]).unwrap();
            let mut spaced = header.clone();
            spaced.insert(1, b' ');
            parts[0] = b64(&spaced);
            assert_eq!(
                decrypt(&keys, Some(name), &parts.join(".")),
                Err(AuthJsError::DecryptionFailed { secrets_tried: 1 }),
                "{name}: re-encoded header"
            );
        }
    }

    #[test]
    fn unsupported_algorithms_are_named() {
        let keys = secrets(&[SECRET]);
        let rest = segments(V5_TOKEN)[1..].join(".");
        for (alg, enc) in [
            ("dir", "A128CBC-HS256"),
            ("dir", "A128GCM"),
            ("RSA-OAEP", "A256GCM"),
            ("A256KW", "A256CBC-HS512"),
            ("none", "none"),
        ] {
            let header = format!(r#"{{"alg":"{alg}","enc":"{enc}"}}"#);
            let token = format!("{}.{rest}", b64(header.as_bytes()));
            let expected = Err(AuthJsError::Unsupported {
                alg: alg.into(),
                enc: enc.into(),
            });
            assert_eq!(decrypt(&keys, Some(V5_NAME), &token), expected);
            assert_eq!(decrypt(&keys, None, &token), expected);
        }
        let long = "x".repeat(1000);
        let header = format!(r#"{{"alg":"{long}","enc":"A256GCM"}}"#);
        let token = format!("{}.{rest}", b64(header.as_bytes()));
        let Err(AuthJsError::Unsupported { alg, .. }) = decrypt(&keys, None, &token) else {
            panic!("expected Unsupported");
        };
        assert_eq!(alg.len(), MAX_ALGORITHM_NAME);
    }

    #[test]
    fn garbage_is_malformed() {
        let keys = secrets(&[SECRET]);
        let [header, _, iv, ciphertext, tag] = <[String; 5]>::try_from(segments(V5_TOKEN)).unwrap();
        let header_of = |json: &str| b64(json.as_bytes());
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        let cases = [
            String::new(),
            ".....".to_owned(),
            "a.b.c.d".to_owned(),
            "a.b.c.d.e.f".to_owned(),
            "!!!.x.y.z.w".to_owned(),
            huge,
            format!("{header}.{}", segments(V5_TOKEN)[1..].join(".") + ".extra"),
            format!(
                "{}.{}",
                "A".repeat(MAX_TOKEN_BYTES),
                segments(V5_TOKEN)[1..].join(".")
            ),
            format!("{}..{iv}.{ciphertext}.{tag}", header_of("[]")),
            format!("{}..{iv}.{ciphertext}.{tag}", header_of("not json")),
            format!("{}..{iv}.{ciphertext}.{tag}", header_of(r#"{"alg":"dir"}"#)),
            format!(
                "{}..{iv}.{ciphertext}.{tag}",
                header_of(r#"{"alg":"dir","enc":7}"#)
            ),
            format!(
                "{}..{iv}.{ciphertext}.{tag}",
                header_of(r#"{"alg":"dir","enc":"A256CBC-HS512","zip":"DEF"}"#)
            ),
            format!(
                "{}..{iv}.{ciphertext}.{tag}",
                header_of(r#"{"alg":"dir","enc":"A256CBC-HS512","crit":["b64"]}"#)
            ),
            format!("{header}.AAAA.{iv}.{ciphertext}.{tag}"),
            format!("{header}..{iv}=.{ciphertext}.{tag}"),
            format!("{header}..{iv}.{ciphertext}.{tag}*"),
            format!("{header}..{iv}.{ciphertext}+/.{tag}"),
            format!("{header}..{}.{ciphertext}.{tag}", b64(&[0; 12])),
            format!("{header}..{iv}.{ciphertext}.{}", b64(&[0; 16])),
            format!("{header}..{iv}.{}.{tag}", b64(&[0; 15])),
            format!("{header}..{iv}..{tag}"),
            format!("{header}..{iv}.{ciphertext}."),
        ];
        for token in &cases {
            let result = decrypt(&keys, Some(V5_NAME), token);
            assert!(
                matches!(result, Err(AuthJsError::Malformed(_))),
                "{:.80}: {result:?}",
                token
            );
        }
    }

    #[test]
    fn an_authentic_payload_that_is_not_an_object_is_malformed() {
        let keys = secrets(&[SECRET]);
        let header = r#"{"alg":"dir","enc":"A256GCM"}"#;
        for payload in [&b"[1,2]"[..], b"\"text\"", b"not json", b""] {
            let token = seal_v4(SECRET, header, payload);
            assert_eq!(
                decrypt(&keys, Some(V4_NAME), &token),
                Err(AuthJsError::Malformed(
                    "decrypted payload is not a JSON object"
                ))
            );
        }
        let token = seal_v4(SECRET, header, br#"{"sub":"u9"}"#);
        assert_eq!(decrypt(&keys, Some(V4_NAME), &token).unwrap()["sub"], "u9");
    }

    #[test]
    fn errors_never_show_the_secret_or_the_token() {
        let keys = secrets(&[SECRET, OTHER_SECRET]);
        let ciphertext = segments(V5_TOKEN)[3].clone();
        let errors = [
            decrypt(&secrets(&[OTHER_SECRET]), Some(V5_NAME), V5_TOKEN).unwrap_err(),
            decrypt(&keys, Some(V5_SECURE_NAME), V5_TOKEN).unwrap_err(),
            decrypt(&keys, Some(V4_NAME), V5_TOKEN).unwrap_err(),
            decrypt(&keys, Some(V5_NAME), "a.b.c.d").unwrap_err(),
            decrypt(&keys, Some(V5_NAME), &V5_TOKEN.replace("..", ".AAAA.")).unwrap_err(),
        ];
        for error in &errors {
            for shown in [format!("{error}"), format!("{error:?}")] {
                assert!(!shown.contains(SECRET), "{shown}");
                assert!(!shown.contains(OTHER_SECRET), "{shown}");
                assert!(!shown.contains(&ciphertext), "{shown}");
            }
        }
    }
}
