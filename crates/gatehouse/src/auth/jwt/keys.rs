//! Public keys that verify JWT signatures, parsed from a JWK, a JWKS document
//! or an inline PEM.
//!
//! Every key is pinned to exactly one algorithm when it is parsed, so a token
//! can never choose how it is checked: the verifier compares the token's `alg`
//! with [`VerifyingKey::algorithm`] instead of trusting the header. That is
//! why shared-secret algorithms (`HS*`) and `none` are refused here outright:
//! accepting `HS256` "with" an RSA public key is the classic key-confusion
//! forgery.
//!
//! Keys that the crypto backend would only reject at verification time (a
//! truncated coordinate, a 1024-bit RSA modulus, a private key pasted where
//! the public one belongs) are refused at parse time instead, with a message
//! that says what to fix, rather than surfacing later as "invalid signature"
//! on every token.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

/// The RSA sizes the aws-lc verifier accepts (`RSA_PKCS1_2048_8192_*`,
/// `RSA_PSS_2048_8192_*`). A key outside them could never verify anything.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

const RSA_ALGORITHMS: &str = "RS256, RS384, RS512, PS256, PS384 or PS512";

/// A public key pinned to one algorithm, ready for `jsonwebtoken::decode`.
#[derive(Clone)]
pub struct VerifyingKey {
    /// The JWK's `kid`, matched against the token header's `kid`.
    pub kid: Option<String>,
    /// The only algorithm this key verifies.
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public key bytes are not secret, but they are long and useless in a
        // log line; kid and algorithm are what a reader needs.
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// `kid/ALG`, or `(no kid)/ALG`: the form used in logs ("keys tried").
    pub fn label(&self) -> String {
        format!(
            "{}/{:?}",
            self.kid.as_deref().unwrap_or("(no kid)"),
            self.algorithm
        )
    }
}

/// Why a key (or a whole JWKS document) cannot be used. Every message names
/// the problem and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the JWKS is not JSON ({detail}); check that the URL serves the JWKS document itself")]
    NotJson { detail: String },
    #[error(
        "the document is JSON but not a JWKS: it is {found}; a JWKS is an object with a `keys` array, like {{\"keys\":[{{\"kty\":\"OKP\",...}}]}}"
    )]
    NotAJwks { found: &'static str },
    #[error("the JWK is {found}, not a JSON object; each entry of `keys` must be an object")]
    NotAnObject { found: &'static str },
    #[error("the {kty} key has no `{member}` member; the JWKS publisher must include it")]
    MissingMember { kty: String, member: &'static str },
    #[error("the `{member}` member is invalid: {detail}")]
    BadMember {
        member: &'static str,
        detail: String,
    },
    #[error(
        "the key has `use` \"enc\": it encrypts, it does not verify signatures; publish a `use`: \"sig\" key for JWTs"
    )]
    EncryptionKey,
    #[error("the key has `use` {value:?}; only signing keys (`use`: \"sig\") verify JWTs")]
    UnknownUse { value: String },
    #[error(
        "the key's `key_ops` ({ops}) do not include \"verify\"; publish it with \"verify\" or drop `key_ops`"
    )]
    NotForVerification { ops: String },
    #[error(
        "the JWK contains private key material (`{member}`): the JWKS endpoint is publishing its signing key; remove it from the JWKS and rotate that key now"
    )]
    PrivateKeyMaterial { member: &'static str },
    #[error(
        "kty \"oct\" is a shared secret, which is never published in a JWKS; for HS256 tokens set JWT_SECRET instead"
    )]
    SharedSecretKey,
    #[error("kty {kty:?} is not supported; use an RSA, EC (P-256, P-384) or OKP (Ed25519) key")]
    UnsupportedKeyType { kty: String },
    #[error("{kty} curve {crv:?} is not supported; {fix}")]
    UnsupportedCurve {
        kty: &'static str,
        crv: String,
        fix: &'static str,
    },
    #[error(
        "`alg` \"none\" is never accepted: an unsigned token proves nothing; sign tokens with EdDSA, ES256 or RS256"
    )]
    AlgNone,
    #[error(
        "`alg` {alg:?} is a shared-secret (HMAC) algorithm and cannot be paired with a public key (that is the key-confusion forgery); verify HMAC tokens with JWT_SECRET, or fix the key's `alg`"
    )]
    SymmetricAlgorithm { alg: String },
    #[error(
        "`alg` {alg:?} is an encryption algorithm, not a signature one; this key cannot verify JWTs"
    )]
    EncryptionAlgorithm { alg: String },
    #[error("`alg` {alg:?} does not fit {key}; such a key signs with {expected}")]
    AlgorithmMismatch {
        alg: String,
        key: String,
        expected: &'static str,
    },
    #[error("the RSA key is {bits} bits; verification needs 2048 to 8192 bits: publish a {fix}")]
    RsaKeySize { bits: usize, fix: &'static str },
    #[error(
        "the PEM could not be read ({detail}); paste the whole `-----BEGIN PUBLIC KEY-----` block"
    )]
    PemUnreadable { detail: &'static str },
    #[error("the PEM is a {label}, not a public key; give the public key instead ({fix})")]
    PemNotPublic { label: String, fix: &'static str },
    #[error("the PEM holds {found}, but the algorithm is {algorithm:?}; {fix}")]
    PemAlgorithmMismatch {
        found: &'static str,
        algorithm: Algorithm,
        fix: &'static str,
    },
}

/// A key of a JWKS that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the document's `keys` array.
    pub index: usize,
    pub kid: Option<String>,
    pub reason: KeyError,
}

impl fmt::Display for SkippedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            Some(kid) => write!(f, "key #{} (kid {kid:?}): {}", self.index, self.reason),
            None => write!(f, "key #{} (no kid): {}", self.index, self.reason),
        }
    }
}

/// The usable keys of a JWKS document, and the ones it had to skip. A JWKS
/// may legitimately mix in encryption keys or key types we do not use, so
/// one bad entry does not discard the others; the skipped list says why.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub keys: Vec<VerifyingKey>,
    pub skipped: Vec<SkippedKey>,
}

/// Parses a JWKS document, `{"keys":[...]}`. Fails only when the document
/// itself is not a JWKS; individual unusable keys land in
/// [`KeySet::skipped`]. An empty `keys` is not an error here: the caller
/// decides whether zero usable keys is fatal.
pub fn from_jwks(json: &[u8]) -> Result<KeySet, KeyError> {
    let document: Value = serde_json::from_slice(json).map_err(|err| KeyError::NotJson {
        detail: err.to_string(),
    })?;
    let keys = match &document {
        Value::Object(object) => match object.get("keys") {
            Some(Value::Array(keys)) => keys,
            Some(_) => {
                return Err(KeyError::NotAJwks {
                    found: "an object whose `keys` is not an array",
                });
            }
            None if object.contains_key("kty") => {
                return Err(KeyError::NotAJwks {
                    found: "a single JWK, not a set",
                });
            }
            None => {
                return Err(KeyError::NotAJwks {
                    found: "an object without a `keys` member",
                });
            }
        },
        other => {
            return Err(KeyError::NotAJwks {
                found: json_kind(other),
            });
        }
    };
    let mut set = KeySet {
        keys: Vec::with_capacity(keys.len()),
        skipped: Vec::new(),
    };
    for (index, jwk) in keys.iter().enumerate() {
        match from_jwk(jwk) {
            Ok(key) => set.keys.push(key),
            Err(reason) => set.skipped.push(SkippedKey {
                index,
                kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
                reason,
            }),
        }
    }
    Ok(set)
}

/// Parses one JWK into a key pinned to its algorithm: the JWK's `alg` when it
/// has one (checked against the key type), otherwise the one its type
/// implies (RSA → RS256, EC P-256 → ES256, EC P-384 → ES384, OKP Ed25519 →
/// EdDSA). Better Auth's JWKS omits `alg`, so the derivation is the common
/// path, not a fallback.
pub fn from_jwk(jwk: &Value) -> Result<VerifyingKey, KeyError> {
    let Value::Object(jwk) = jwk else {
        return Err(KeyError::NotAnObject {
            found: json_kind(jwk),
        });
    };
    let kid = optional_str(jwk, "kid")?.map(str::to_owned);
    let kty = optional_str(jwk, "kty")?.ok_or(KeyError::MissingMember {
        kty: "JWK".to_owned(),
        member: "kty",
    })?;
    check_use(jwk)?;
    let alg = optional_str(jwk, "alg")?;
    if let Some(alg) = alg {
        check_alg_family(alg)?;
    }
    if kty == "oct" {
        return Err(KeyError::SharedSecretKey);
    }
    if jwk.contains_key("d") {
        return Err(KeyError::PrivateKeyMaterial { member: "d" });
    }
    let (algorithm, key) = match kty {
        "RSA" => rsa_key(jwk, alg)?,
        "EC" => ec_key(jwk, alg)?,
        "OKP" => okp_key(jwk, alg)?,
        other => {
            return Err(KeyError::UnsupportedKeyType {
                kty: other.to_owned(),
            });
        }
    };
    Ok(VerifyingKey {
        kid,
        algorithm,
        key,
    })
}

/// Parses an inline PEM public key (SPKI `PUBLIC KEY`, or PKCS#1
/// `RSA PUBLIC KEY`) for `algorithm`. Literal `\n` sequences are accepted as
/// line breaks, because a PEM pasted into a hosting dashboard's environment
/// variable field usually arrives that way.
pub fn from_pem(pem: &str, algorithm: Algorithm) -> Result<VerifyingKey, KeyError> {
    let pem = pem.trim();
    let unescaped;
    let pem = if !pem.contains('\n') && pem.contains("\\n") {
        unescaped = pem.replace("\\n", "\n");
        unescaped.as_str()
    } else {
        pem
    };
    let label = pem_label(pem).ok_or(KeyError::PemUnreadable {
        detail: "no `-----BEGIN ...-----` line",
    })?;
    match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        "CERTIFICATE" => {
            return Err(KeyError::PemNotPublic {
                label: label.to_owned(),
                fix: "extract it with `openssl x509 -pubkey -noout -in cert.pem`",
            });
        }
        _ if label.contains("PRIVATE KEY") => {
            return Err(KeyError::PemNotPublic {
                label: label.to_owned(),
                fix: "derive it with `openssl pkey -in key.pem -pubout`, and keep the private key out of this service",
            });
        }
        _ => {
            return Err(KeyError::PemNotPublic {
                label: label.to_owned(),
                fix: "a `-----BEGIN PUBLIC KEY-----` block",
            });
        }
    }
    let bytes = pem.as_bytes();
    let key = match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            return Err(KeyError::SymmetricAlgorithm {
                alg: format!("{algorithm:?}"),
            });
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            let key =
                DecodingKey::from_rsa_pem(bytes).map_err(|_| pem_mismatch(bytes, algorithm))?;
            // Both PEM forms yield the PKCS#1 `RSAPublicKey` DER here.
            let der = key
                .try_get_as_bytes()
                .map_err(|_| KeyError::PemUnreadable {
                    detail: "the RSA key is not in DER form",
                })?;
            let bits = der_rsa_modulus_bits(der).ok_or(KeyError::PemUnreadable {
                detail: "the RSA key's modulus could not be read",
            })?;
            check_rsa_bits(bits)?;
            key
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let key =
                DecodingKey::from_ec_pem(bytes).map_err(|_| pem_mismatch(bytes, algorithm))?;
            // The SPKI bit string is the uncompressed point 04 || x || y.
            let point_len = key.try_get_as_bytes().map(<[u8]>::len).unwrap_or(0);
            match (algorithm, point_len) {
                (Algorithm::ES256, 65) | (Algorithm::ES384, 97) => key,
                (_, 65) => {
                    return Err(KeyError::PemAlgorithmMismatch {
                        found: "a P-256 key",
                        algorithm,
                        fix: "P-256 keys sign with ES256",
                    });
                }
                (_, 97) => {
                    return Err(KeyError::PemAlgorithmMismatch {
                        found: "a P-384 key",
                        algorithm,
                        fix: "P-384 keys sign with ES384",
                    });
                }
                _ => {
                    return Err(KeyError::PemAlgorithmMismatch {
                        found: "an EC key on an unsupported curve or in compressed form",
                        algorithm,
                        fix: "use an uncompressed P-256 (ES256) or P-384 (ES384) key",
                    });
                }
            }
        }
        Algorithm::EdDSA => {
            let key =
                DecodingKey::from_ed_pem(bytes).map_err(|_| pem_mismatch(bytes, algorithm))?;
            if key.try_get_as_bytes().map(<[u8]>::len).unwrap_or(0) != 32 {
                return Err(KeyError::PemUnreadable {
                    detail: "the Ed25519 key is not 32 bytes",
                });
            }
            key
        }
        // `Algorithm` is non-exhaustive: an algorithm added upstream is not
        // trusted until this function knows how to check its keys.
        _ => {
            return Err(KeyError::PemAlgorithmMismatch {
                found: "a key",
                algorithm,
                fix: "this algorithm is not supported; use EdDSA, ES256, ES384, RS256-RS512 or PS256-PS512",
            });
        }
    };
    Ok(VerifyingKey {
        kid: None,
        algorithm,
        key,
    })
}

fn rsa_key(
    jwk: &Map<String, Value>,
    alg: Option<&str>,
) -> Result<(Algorithm, DecodingKey), KeyError> {
    let algorithm = match alg {
        None => Algorithm::RS256,
        Some("RS256") => Algorithm::RS256,
        Some("RS384") => Algorithm::RS384,
        Some("RS512") => Algorithm::RS512,
        Some("PS256") => Algorithm::PS256,
        Some("PS384") => Algorithm::PS384,
        Some("PS512") => Algorithm::PS512,
        Some(other) => {
            return Err(KeyError::AlgorithmMismatch {
                alg: other.to_owned(),
                key: "an RSA key".to_owned(),
                expected: RSA_ALGORITHMS,
            });
        }
    };
    let n = required_b64(jwk, "RSA", "n")?;
    let e = required_b64(jwk, "RSA", "e")?;
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    if e.is_empty() || e.len() > 8 {
        return Err(KeyError::BadMember {
            member: "e",
            detail: format!("an RSA exponent of {} bytes is not usable", e.len()),
        });
    }
    check_rsa_bits(bit_length(n))?;
    Ok((algorithm, DecodingKey::from_rsa_raw_components(n, e)))
}

fn ec_key(
    jwk: &Map<String, Value>,
    alg: Option<&str>,
) -> Result<(Algorithm, DecodingKey), KeyError> {
    let crv = optional_str(jwk, "crv")?.ok_or(KeyError::MissingMember {
        kty: "EC".to_owned(),
        member: "crv",
    })?;
    let (algorithm, size, name) = match crv {
        "P-256" => (Algorithm::ES256, 32, "ES256"),
        "P-384" => (Algorithm::ES384, 48, "ES384"),
        other => {
            return Err(KeyError::UnsupportedCurve {
                kty: "EC",
                crv: other.to_owned(),
                fix: "use P-256 (ES256) or P-384 (ES384); P-521 and secp256k1 are not supported",
            });
        }
    };
    check_alg_fits(alg, name, || format!("an EC {crv} key"), name)?;
    let x = required_b64(jwk, "EC", "x")?;
    let y = required_b64(jwk, "EC", "y")?;
    for (member, value) in [("x", &x), ("y", &y)] {
        if value.len() != size {
            return Err(KeyError::BadMember {
                member,
                detail: format!(
                    "a {crv} coordinate is {size} bytes, this one is {}",
                    value.len()
                ),
            });
        }
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok((algorithm, DecodingKey::from_ec_der(&point)))
}

fn okp_key(
    jwk: &Map<String, Value>,
    alg: Option<&str>,
) -> Result<(Algorithm, DecodingKey), KeyError> {
    let crv = optional_str(jwk, "crv")?.ok_or(KeyError::MissingMember {
        kty: "OKP".to_owned(),
        member: "crv",
    })?;
    match crv {
        "Ed25519" => {}
        "X25519" | "X448" => {
            return Err(KeyError::UnsupportedCurve {
                kty: "OKP",
                crv: crv.to_owned(),
                fix: "it is a key-agreement (encryption) curve; JWT signatures use Ed25519",
            });
        }
        other => {
            return Err(KeyError::UnsupportedCurve {
                kty: "OKP",
                crv: other.to_owned(),
                fix: "use Ed25519 (EdDSA); Ed448 is not supported",
            });
        }
    }
    // RFC 9864 names the fully specified algorithm "Ed25519"; both mean the
    // same signature here.
    if alg != Some("Ed25519") {
        check_alg_fits(alg, "EdDSA", || "an OKP Ed25519 key".to_owned(), "EdDSA")?;
    }
    let x = required_b64(jwk, "OKP", "x")?;
    if x.len() != 32 {
        return Err(KeyError::BadMember {
            member: "x",
            detail: format!("an Ed25519 public key is 32 bytes, this one is {}", x.len()),
        });
    }
    Ok((Algorithm::EdDSA, DecodingKey::from_ed_der(&x)))
}

/// `use` must be absent or "sig"; `key_ops`, when present, must allow
/// "verify". Keys for encryption share JWKS documents with signing keys.
fn check_use(jwk: &Map<String, Value>) -> Result<(), KeyError> {
    match optional_str(jwk, "use")? {
        None | Some("sig") => {}
        Some("enc") => return Err(KeyError::EncryptionKey),
        Some(other) => {
            return Err(KeyError::UnknownUse {
                value: other.to_owned(),
            });
        }
    }
    match jwk.get("key_ops") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(ops)) => {
            if ops.iter().any(|op| op.as_str() == Some("verify")) {
                Ok(())
            } else {
                let ops: Vec<&str> = ops.iter().filter_map(Value::as_str).collect();
                Err(KeyError::NotForVerification {
                    ops: ops.join(", "),
                })
            }
        }
        Some(_) => Err(KeyError::BadMember {
            member: "key_ops",
            detail: "it must be an array of strings".to_owned(),
        }),
    }
}

/// Refuses `alg` values that can never pair with a public key, whatever the
/// key type: `none`, HMAC, and encryption algorithms.
fn check_alg_family(alg: &str) -> Result<(), KeyError> {
    if alg.eq_ignore_ascii_case("none") {
        return Err(KeyError::AlgNone);
    }
    if alg
        .get(..2)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("HS"))
    {
        return Err(KeyError::SymmetricAlgorithm {
            alg: alg.to_owned(),
        });
    }
    if alg.starts_with("RSA-OAEP")
        || alg == "RSA1_5"
        || alg.starts_with("ECDH-ES")
        || alg == "dir"
        || alg.starts_with("A128")
        || alg.starts_with("A192")
        || alg.starts_with("A256")
    {
        return Err(KeyError::EncryptionAlgorithm {
            alg: alg.to_owned(),
        });
    }
    Ok(())
}

fn check_alg_fits(
    alg: Option<&str>,
    derived: &str,
    key: impl FnOnce() -> String,
    expected: &'static str,
) -> Result<(), KeyError> {
    match alg {
        None => Ok(()),
        Some(alg) if alg == derived => Ok(()),
        Some(alg) => Err(KeyError::AlgorithmMismatch {
            alg: alg.to_owned(),
            key: key(),
            expected,
        }),
    }
}

fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if bits < RSA_MIN_BITS {
        Err(KeyError::RsaKeySize {
            bits,
            fix: "2048-bit (or larger) key; shorter ones are breakable",
        })
    } else if bits > RSA_MAX_BITS {
        Err(KeyError::RsaKeySize {
            bits,
            fix: "key of at most 8192 bits",
        })
    } else {
        Ok(())
    }
}

fn optional_str<'a>(
    jwk: &'a Map<String, Value>,
    member: &'static str,
) -> Result<Option<&'a str>, KeyError> {
    match jwk.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(other) => Err(KeyError::BadMember {
            member,
            detail: format!("it must be a string, not {}", json_kind(other)),
        }),
    }
}

fn required_b64(
    jwk: &Map<String, Value>,
    kty: &str,
    member: &'static str,
) -> Result<Vec<u8>, KeyError> {
    let text = optional_str(jwk, member)?.ok_or_else(|| KeyError::MissingMember {
        kty: kty.to_owned(),
        member,
    })?;
    // RFC 7518 says unpadded base64url; some publishers pad anyway.
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|err| KeyError::BadMember {
            member,
            detail: format!("it is not base64url ({err})"),
        })
}

fn pem_label(pem: &str) -> Option<&str> {
    let rest = &pem[pem.find("-----BEGIN ")? + "-----BEGIN ".len()..];
    let label = &rest[..rest.find("-----")?];
    Some(label.trim())
}

/// Names what the PEM holds when it does not match the algorithm, by trying
/// the other key families.
fn pem_mismatch(pem: &[u8], algorithm: Algorithm) -> KeyError {
    let found = if DecodingKey::from_ed_pem(pem).is_ok() {
        Some(("an Ed25519 key", "Ed25519 keys sign with EdDSA"))
    } else if DecodingKey::from_ec_pem(pem).is_ok() {
        Some((
            "an EC key",
            "EC keys sign with ES256 (P-256) or ES384 (P-384)",
        ))
    } else if DecodingKey::from_rsa_pem(pem).is_ok() {
        Some((
            "an RSA key",
            "RSA keys sign with RS256-RS512 or PS256-PS512",
        ))
    } else {
        None
    };
    match found {
        Some((found, fix)) => KeyError::PemAlgorithmMismatch {
            found,
            algorithm,
            fix,
        },
        None => KeyError::PemAlgorithmMismatch {
            found: "no key this service can read",
            algorithm,
            fix: "paste the whole PEM block of the public key the issuer signs with",
        },
    }
}

/// The bit length of the modulus of a PKCS#1 `RSAPublicKey`
/// (`SEQUENCE { INTEGER n, INTEGER e }`), or `None` if the DER is not one.
fn der_rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (tag, sequence, _) = read_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, modulus, _) = read_tlv(sequence)?;
    if tag != 0x02 {
        return None;
    }
    Some(bit_length(strip_leading_zeros(modulus)))
}

/// One DER tag-length-value: `(tag, value, rest)`.
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (len_bytes, rest) = rest.split_at_checked(count)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |len, byte| (len << 8) | usize::from(*byte));
        (len, rest)
    };
    let (value, rest) = rest.split_at_checked(len)?;
    Some((tag, value, rest))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(first) => (bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{AlgorithmFamily, EncodingKey, Header, Validation};
    use serde_json::json;

    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../../tests/fixtures/jwt/", $name))
        };
    }

    const RSA_KEY: &str = fixture!("rsa-2048.key.pem");
    const RSA_PUB: &str = fixture!("rsa-2048.pub.pem");
    const RSA_JWK: &str = fixture!("rsa-2048.jwk.json");
    const RSA_1024_PUB: &str = fixture!("rsa-1024.pub.pem");
    const RSA_1024_JWK: &str = fixture!("rsa-1024.jwk.json");
    const P256_KEY: &str = fixture!("ec-p256.key.pem");
    const P256_PUB: &str = fixture!("ec-p256.pub.pem");
    const P256_JWK: &str = fixture!("ec-p256.jwk.json");
    const P384_KEY: &str = fixture!("ec-p384.key.pem");
    const P384_PUB: &str = fixture!("ec-p384.pub.pem");
    const P384_JWK: &str = fixture!("ec-p384.jwk.json");
    const ED_KEY: &str = fixture!("ed25519-a.key.pem");
    const ED_PUB: &str = fixture!("ed25519-a.pub.pem");
    const ED_JWK: &str = fixture!("ed25519-a.jwk.json");
    const BETTER_AUTH_JWKS: &str = fixture!("better-auth-jwks.json");

    fn jwk(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// `base` with `changes` merged in (a `null` change removes the member).
    fn with(text: &str, changes: Value) -> Value {
        let mut value = jwk(text);
        let object = value.as_object_mut().unwrap();
        for (name, change) in changes.as_object().unwrap() {
            if change.is_null() {
                object.remove(name);
            } else {
                object.insert(name.clone(), change.clone());
            }
        }
        value
    }

    /// A real token signed with a fixture private key.
    fn sign(algorithm: Algorithm, private_pem: &str, kid: Option<&str>) -> String {
        let pem = private_pem.as_bytes();
        let key = match algorithm.family() {
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => EncodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => EncodingKey::from_ed_pem(pem),
            AlgorithmFamily::Hmac => EncodingKey::from_secret(pem),
        }
        .unwrap();
        let mut header = Header::new(algorithm);
        header.kid = kid.map(str::to_owned);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        jsonwebtoken::encode(&header, &json!({"sub": "user-1", "exp": now + 600}), &key).unwrap()
    }

    fn verifies(token: &str, key: &VerifyingKey) -> bool {
        let validation = Validation::new(key.algorithm);
        jsonwebtoken::decode::<Value>(token, &key.key, &validation).is_ok()
    }

    #[test]
    fn rsa_jwk_verifies_a_real_rs256_token() {
        let key = from_jwk(&jwk(RSA_JWK)).unwrap();
        assert_eq!(key.kid.as_deref(), Some("rsa-2048-2026"));
        assert_eq!(key.algorithm, Algorithm::RS256);
        assert!(verifies(&sign(Algorithm::RS256, RSA_KEY, None), &key));
        // A token signed by another key does not verify.
        let other = from_jwk(&jwk(fixture!("ed25519-b.jwk.json"))).unwrap();
        assert!(!verifies(&sign(Algorithm::EdDSA, ED_KEY, None), &other));
    }

    #[test]
    fn rsa_jwk_without_alg_is_rs256_and_may_declare_pss() {
        let key = from_jwk(&with(RSA_JWK, json!({"alg": null, "use": null}))).unwrap();
        assert_eq!(key.algorithm, Algorithm::RS256);
        let pss = from_jwk(&with(RSA_JWK, json!({"alg": "PS256"}))).unwrap();
        assert_eq!(pss.algorithm, Algorithm::PS256);
        assert!(verifies(&sign(Algorithm::PS256, RSA_KEY, None), &pss));
        let rs512 = from_jwk(&with(RSA_JWK, json!({"alg": "RS512"}))).unwrap();
        assert!(verifies(&sign(Algorithm::RS512, RSA_KEY, None), &rs512));
    }

    #[test]
    fn ec_jwks_verify_real_tokens() {
        let p256 = from_jwk(&jwk(P256_JWK)).unwrap();
        assert_eq!(p256.algorithm, Algorithm::ES256);
        assert!(verifies(&sign(Algorithm::ES256, P256_KEY, None), &p256));
        // No `alg` member: derived from the curve.
        let p384 = from_jwk(&jwk(P384_JWK)).unwrap();
        assert_eq!(p384.algorithm, Algorithm::ES384);
        assert!(verifies(&sign(Algorithm::ES384, P384_KEY, None), &p384));
    }

    #[test]
    fn better_auth_okp_key_without_alg_is_eddsa() {
        let set = from_jwks(BETTER_AUTH_JWKS.as_bytes()).unwrap();
        assert!(set.skipped.is_empty());
        let [key] = set.keys.as_slice() else {
            panic!("expected one key, got {:?}", set.keys)
        };
        assert_eq!(key.algorithm, Algorithm::EdDSA);
        assert_eq!(key.kid.as_deref(), Some("Jq0Xv4oQm3tYc8TnZ2bKpR7wLs1eHdUf"));
        let token = sign(Algorithm::EdDSA, ED_KEY, key.kid.as_deref());
        assert!(verifies(&token, key));
        // RFC 9864's fully specified name is accepted too.
        let named = from_jwk(&with(ED_JWK, json!({"alg": "Ed25519"}))).unwrap();
        assert_eq!(named.algorithm, Algorithm::EdDSA);
    }

    #[test]
    fn alg_that_does_not_fit_the_key_type_is_refused() {
        let cases = [
            (with(P256_JWK, json!({"alg": "RS256"})), "an EC P-256 key"),
            (with(P256_JWK, json!({"alg": "ES384"})), "an EC P-256 key"),
            (with(P384_JWK, json!({"alg": "ES256"})), "an EC P-384 key"),
            (with(RSA_JWK, json!({"alg": "ES256"})), "an RSA key"),
            (with(RSA_JWK, json!({"alg": "EdDSA"})), "an RSA key"),
            (with(ED_JWK, json!({"alg": "ES256"})), "an OKP Ed25519 key"),
        ];
        for (jwk, key) in cases {
            match from_jwk(&jwk) {
                Err(KeyError::AlgorithmMismatch { key: named, .. }) => assert_eq!(named, key),
                other => panic!("{jwk}: expected AlgorithmMismatch, got {other:?}"),
            }
        }
        let err = from_jwk(&with(P256_JWK, json!({"alg": "RS256"}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`alg` \"RS256\" does not fit an EC P-256 key; such a key signs with ES256"
        );
    }

    #[test]
    fn hmac_and_none_are_refused_on_public_keys() {
        for alg in ["HS256", "HS384", "HS512", "hs256"] {
            for base in [RSA_JWK, P256_JWK, ED_JWK] {
                let err = from_jwk(&with(base, json!({"alg": alg}))).unwrap_err();
                assert_eq!(
                    err,
                    KeyError::SymmetricAlgorithm {
                        alg: alg.to_owned()
                    }
                );
            }
        }
        for alg in ["none", "None", "NONE"] {
            let err = from_jwk(&with(RSA_JWK, json!({"alg": alg}))).unwrap_err();
            assert_eq!(err, KeyError::AlgNone);
        }
        assert!(KeyError::AlgNone.to_string().contains("never accepted"));
        let err = from_jwk(&with(RSA_JWK, json!({"alg": "HS256"}))).unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET"), "{err}");
        // And from PEM.
        let err = from_pem(RSA_PUB, Algorithm::HS256).unwrap_err();
        assert!(
            matches!(err, KeyError::SymmetricAlgorithm { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn encryption_keys_are_skipped_and_the_rest_kept() {
        let document = json!({"keys": [
            with(RSA_JWK, json!({"use": "enc", "alg": "RSA-OAEP-256", "kid": "enc-1"})),
            jwk(P256_JWK),
            with(RSA_JWK, json!({"use": null, "alg": "RSA-OAEP", "kid": "enc-2"})),
            with(ED_JWK, json!({"key_ops": ["encrypt"], "kid": "ops"})),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "X25519", "x": "H1eJCiwi-H6-GXbeLWC29vLd8CRY20GYEXJ2I11IUgs"},
            jwk(ED_JWK),
        ]});
        let set = from_jwks(document.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = set
            .keys
            .iter()
            .map(|key| key.kid.clone().unwrap())
            .collect();
        assert_eq!(kids, ["ec-p256-2026", "Jq0Xv4oQm3tYc8TnZ2bKpR7wLs1eHdUf"]);
        let reasons: Vec<_> = set
            .skipped
            .iter()
            .map(|skipped| (skipped.index, skipped.reason.clone()))
            .collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert_eq!(reasons[0], (0, KeyError::EncryptionKey));
        assert!(matches!(
            reasons[1],
            (2, KeyError::EncryptionAlgorithm { .. })
        ));
        assert!(matches!(
            reasons[2],
            (3, KeyError::NotForVerification { .. })
        ));
        assert_eq!(reasons[3], (4, KeyError::SharedSecretKey));
        assert!(matches!(reasons[4], (5, KeyError::UnsupportedCurve { .. })));
        assert_eq!(
            set.skipped[0].to_string(),
            "key #0 (kid \"enc-1\"): the key has `use` \"enc\": it encrypts, it does not verify signatures; publish a `use`: \"sig\" key for JWTs"
        );
    }

    #[test]
    fn unusable_key_material_is_refused_at_parse_time() {
        let weak = from_jwk(&jwk(RSA_1024_JWK)).unwrap_err();
        assert_eq!(
            weak,
            KeyError::RsaKeySize {
                bits: 1024,
                fix: "2048-bit (or larger) key; shorter ones are breakable"
            }
        );
        let short_x = from_jwk(&with(P256_JWK, json!({"x": "AAAA"}))).unwrap_err();
        assert!(
            matches!(short_x, KeyError::BadMember { member: "x", .. }),
            "{short_x:?}"
        );
        let short_ed = from_jwk(&with(ED_JWK, json!({"x": "AAAA"}))).unwrap_err();
        assert!(matches!(short_ed, KeyError::BadMember { member: "x", .. }));
        let not_b64 = from_jwk(&with(RSA_JWK, json!({"n": "***"}))).unwrap_err();
        assert!(matches!(not_b64, KeyError::BadMember { member: "n", .. }));
        let missing = from_jwk(&with(RSA_JWK, json!({"e": null}))).unwrap_err();
        assert_eq!(
            missing,
            KeyError::MissingMember {
                kty: "RSA".to_owned(),
                member: "e"
            }
        );
        let no_crv = from_jwk(&with(P256_JWK, json!({"crv": null}))).unwrap_err();
        assert!(matches!(
            no_crv,
            KeyError::MissingMember { member: "crv", .. }
        ));
        let p521 = from_jwk(&with(P256_JWK, json!({"crv": "P-521", "alg": null}))).unwrap_err();
        assert!(matches!(p521, KeyError::UnsupportedCurve { .. }));
        let ed448 = from_jwk(&with(ED_JWK, json!({"crv": "Ed448"}))).unwrap_err();
        assert!(matches!(ed448, KeyError::UnsupportedCurve { .. }));
        let private = from_jwk(&with(ED_JWK, json!({"d": "AAAA"}))).unwrap_err();
        assert_eq!(private, KeyError::PrivateKeyMaterial { member: "d" });
        assert!(private.to_string().contains("rotate"));
        let kty = from_jwk(&json!({"kty": "XYZ"})).unwrap_err();
        assert!(matches!(kty, KeyError::UnsupportedKeyType { .. }));
        let no_kty = from_jwk(&json!({"n": "AQAB"})).unwrap_err();
        assert!(matches!(
            no_kty,
            KeyError::MissingMember { member: "kty", .. }
        ));
        let bad_kid = from_jwk(&with(ED_JWK, json!({"kid": 7}))).unwrap_err();
        assert!(matches!(bad_kid, KeyError::BadMember { member: "kid", .. }));
        assert!(matches!(
            from_jwk(&json!([])),
            Err(KeyError::NotAnObject { .. })
        ));
        // Padding some publishers add is tolerated.
        let x = jwk(ED_JWK)["x"].as_str().unwrap().to_owned() + "=";
        assert!(from_jwk(&with(ED_JWK, json!({"x": x}))).is_ok());
    }

    #[test]
    fn a_document_that_is_not_a_jwks_is_an_error() {
        type Expected = fn(&KeyError) -> bool;
        let cases: [(&str, Expected); 6] = [
            ("<!DOCTYPE html><html>", |e| {
                matches!(e, KeyError::NotJson { .. })
            }),
            ("", |e| matches!(e, KeyError::NotJson { .. })),
            ("[]", |e| *e == KeyError::NotAJwks { found: "an array" }),
            (r#"{"error":"not found"}"#, |e| {
                *e == KeyError::NotAJwks {
                    found: "an object without a `keys` member",
                }
            }),
            (r#"{"keys":{}}"#, |e| matches!(e, KeyError::NotAJwks { .. })),
            (ED_JWK, |e| {
                *e == KeyError::NotAJwks {
                    found: "a single JWK, not a set",
                }
            }),
        ];
        for (body, expected) in cases {
            let err = from_jwks(body.as_bytes()).unwrap_err();
            assert!(expected(&err), "{body}: {err:?}");
        }
        let err = from_jwks(b"[]").unwrap_err();
        assert!(
            err.to_string()
                .contains("a JWKS is an object with a `keys` array")
        );
        // An empty set parses; whether that is fatal is the cache's call.
        let empty = from_jwks(br#"{"keys":[]}"#).unwrap();
        assert!(empty.keys.is_empty() && empty.skipped.is_empty());
    }

    #[test]
    fn pem_public_keys_verify_real_tokens() {
        let rsa = from_pem(RSA_PUB, Algorithm::RS256).unwrap();
        assert!(verifies(&sign(Algorithm::RS256, RSA_KEY, None), &rsa));
        let pss = from_pem(RSA_PUB, Algorithm::PS384).unwrap();
        assert!(verifies(&sign(Algorithm::PS384, RSA_KEY, None), &pss));
        let p256 = from_pem(P256_PUB, Algorithm::ES256).unwrap();
        assert!(verifies(&sign(Algorithm::ES256, P256_KEY, None), &p256));
        let p384 = from_pem(P384_PUB, Algorithm::ES384).unwrap();
        assert!(verifies(&sign(Algorithm::ES384, P384_KEY, None), &p384));
        let ed = from_pem(ED_PUB, Algorithm::EdDSA).unwrap();
        assert!(verifies(&sign(Algorithm::EdDSA, ED_KEY, None), &ed));
        assert_eq!(ed.kid, None);
        // As pasted into an environment variable field: one line, literal \n.
        let escaped = ED_PUB.trim().replace('\n', "\\n");
        let pasted = from_pem(&escaped, Algorithm::EdDSA).unwrap();
        assert!(verifies(&sign(Algorithm::EdDSA, ED_KEY, None), &pasted));
    }

    #[test]
    fn pem_problems_name_the_fix() {
        let private = from_pem(ED_KEY, Algorithm::EdDSA).unwrap_err();
        assert!(matches!(&private, KeyError::PemNotPublic { label, .. } if label == "PRIVATE KEY"));
        assert!(
            private
                .to_string()
                .contains("openssl pkey -in key.pem -pubout")
        );
        let wrong_family = from_pem(P256_PUB, Algorithm::RS256).unwrap_err();
        assert_eq!(
            wrong_family.to_string(),
            "the PEM holds an EC key, but the algorithm is RS256; EC keys sign with ES256 (P-256) or ES384 (P-384)"
        );
        let wrong_curve = from_pem(P384_PUB, Algorithm::ES256).unwrap_err();
        assert!(matches!(
            wrong_curve,
            KeyError::PemAlgorithmMismatch {
                found: "a P-384 key",
                ..
            }
        ));
        let ed_as_rsa = from_pem(ED_PUB, Algorithm::RS256).unwrap_err();
        assert!(matches!(
            ed_as_rsa,
            KeyError::PemAlgorithmMismatch {
                found: "an Ed25519 key",
                ..
            }
        ));
        let weak = from_pem(RSA_1024_PUB, Algorithm::RS256).unwrap_err();
        assert!(
            matches!(weak, KeyError::RsaKeySize { bits: 1024, .. }),
            "{weak:?}"
        );
        let garbage = from_pem("not a pem", Algorithm::RS256).unwrap_err();
        assert!(matches!(garbage, KeyError::PemUnreadable { .. }));
        let truncated = from_pem(
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
            Algorithm::RS256,
        )
        .unwrap_err();
        assert!(matches!(truncated, KeyError::PemAlgorithmMismatch { .. }));
    }

    #[test]
    fn debug_shows_kid_and_algorithm_only() {
        let key = from_jwk(&jwk(RSA_JWK)).unwrap();
        let debug = format!("{key:?}");
        assert_eq!(
            debug,
            "VerifyingKey { kid: Some(\"rsa-2048-2026\"), algorithm: RS256, .. }"
        );
        assert_eq!(key.label(), "rsa-2048-2026/RS256");
        let pem = from_pem(ED_PUB, Algorithm::EdDSA).unwrap();
        assert_eq!(pem.label(), "(no kid)/EdDSA");
    }
}
