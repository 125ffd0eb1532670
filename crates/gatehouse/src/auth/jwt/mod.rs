//! Verifying JWTs: against a trusted issuer's keys (JWKS or inline) or a
//! shared secret, then checking claims, with a precise reason for every
//! refusal.
//!
//! Order matters and is deliberate:
//! 1. recognise the token (an opaque session token is named as such);
//! 2. take the algorithm from the *key*, never from the token: the header's
//!    `alg` only selects among algorithms configuration allows, and HS tokens
//!    are only ever checked against `JWT_SECRET`, or against the one issuer's
//!    own secret (Supabase's legacy `SUPABASE_JWT_SECRET`) when they name it;
//! 3. pick the issuer by the unverified `iss` (to know whose keys to use);
//! 4. verify the signature;
//! 5. only then trust and check the claims: the issuer's provider rules
//!    (what kind of token it is, [`crate::auth::providers`]), its audience,
//!    then the dates with the issuer's leeway, the subject and the version.

mod claim_checks;
pub mod claims;
pub mod jwks;
pub mod keys;
mod verified_signatures;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::auth::identity::SHARED_SECRET;
use crate::auth::jwt::claims::{Claims, claim_missing, malformed};
use crate::auth::jwt::jwks::{JwksCache, JwksError, JwksSettings};
use crate::auth::jwt::keys::VerifyingKey;
use crate::auth::jwt::verified_signatures::VerifiedSignatures;
use crate::auth::pattern::PatternList;
use crate::auth::principal::Method;
use crate::auth::providers::ProviderRules;
use crate::auth::refusal::{Facts, Refusal};
use crate::auth::revocation;
use crate::auth::settings::{ASYMMETRIC, AuthSettings, IssuerVariables, KeySource, SYMMETRIC};
use crate::auth::token_kind::{JoseHeader, TokenKind, jose_header};
use crate::auth::verify::{Accepted, Attempt, Verify};
use crate::error::Reason;
use crate::outbound::Outbound;
use crate::secret::Secret;
pub use claim_checks::Verified;
use claim_checks::{
    ClaimRules, KeyUsed, check_audience, check_audience_or_party, check_issuer, record_claims,
};

/// The audience fix of shared-secret tokens, whose audience is
/// `JWT_AUDIENCE` or `JWT_SECRET_AUDIENCE`.
const SHARED_AUDIENCE_FIX: &str = "set JWT_AUDIENCE (or BETTER_AUTH_URL) to this environment's value, or have the issuer mint tokens for this API";

#[derive(Debug)]
struct TrustedIssuer {
    label: String,
    issuer: PatternList,
    audiences: PatternList,
    authorized_parties: PatternList,
    algorithms: Vec<Algorithm>,
    keys: Keys,
    /// A provider preset's own checks.
    provider: Option<ProviderRules>,
    /// This issuer's own clock leeway, when it has one.
    leeway: Option<i64>,
    /// This issuer's own HMAC secret (Supabase's legacy one).
    secret: Option<IssuerSecret>,
    variables: IssuerVariables,
}

impl TrustedIssuer {
    /// The checks after the signature that belong to this issuer: its
    /// provider's rules first (what kind of token this is), then its
    /// audience rule.
    fn check_claims(
        &self,
        claims: &Claims<'_>,
        kid: Option<&str>,
        now: i64,
        leeway: i64,
        facts: &mut Facts,
    ) -> Result<(), Refusal> {
        if let Some(rules) = &self.provider {
            rules.check(claims, kid, now, leeway, facts)?;
        }
        check_audience_or_party(
            claims,
            &self.audiences,
            &self.authorized_parties,
            &self.variables,
            facts,
        )
    }

    /// Whether HS tokens naming this issuer are its own business: a preset's
    /// issuer never lets `JWT_SECRET` verify tokens in its name.
    fn owns_hmac_tokens(&self) -> bool {
        self.secret.is_some() || self.provider.is_some()
    }

    /// The provider's name, or the issuer's label.
    fn title(&self) -> &str {
        self.provider
            .as_ref()
            .map_or(self.label.as_str(), |rules| rules.provider().title())
    }
}

/// An issuer's own HMAC secret; only HS256, as Supabase signs with it.
struct IssuerSecret {
    key: DecodingKey,
    fingerprint: String,
}

impl std::fmt::Debug for IssuerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerSecret")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Keys {
    Jwks(Arc<JwksCache>),
    Static(Vec<Arc<VerifyingKey>>),
}

struct SharedSecret {
    current: DecodingKey,
    current_fingerprint: String,
    previous: Option<DecodingKey>,
    issuer: Option<PatternList>,
    audiences: Option<PatternList>,
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret")
            .field("fingerprint", &self.current_fingerprint)
            .field("has_previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct JwtVerifier {
    issuers: Vec<TrustedIssuer>,
    shared: Option<SharedSecret>,
    /// The claim checks after the signature.
    rules: ClaimRules,
    /// Public-key signatures already verified by this process.
    verified: VerifiedSignatures,
}

impl JwtVerifier {
    /// Builds key stores; fetches nothing (JWKS load on first use).
    pub fn new(settings: &AuthSettings, outbound: &Outbound) -> Self {
        let jwks_settings = JwksSettings {
            default_ttl: settings.jwks_default_ttl,
            refetch_min_interval: settings.jwks_refetch_min_interval,
            fetch_timeout: settings.jwks_fetch_timeout,
            ..JwksSettings::default()
        };
        let secret_key =
            |secret: &Secret| DecodingKey::from_secret(secret.expose().as_bytes()).ok();
        let leeway = |duration: std::time::Duration| i64::try_from(duration.as_secs()).ok();
        let issuers = settings
            .issuers
            .iter()
            .map(|issuer| TrustedIssuer {
                label: issuer.label.clone(),
                issuer: issuer.issuer.clone(),
                audiences: issuer.audiences.clone(),
                authorized_parties: issuer.authorized_parties.clone(),
                algorithms: issuer.algorithms.clone(),
                keys: match &issuer.keys {
                    KeySource::Jwks { url } => Keys::Jwks(Arc::new(JwksCache::new(
                        url.clone(),
                        jwks_settings.clone(),
                        outbound.clone(),
                    ))),
                    KeySource::Static(keys) => Keys::Static(keys.clone()),
                },
                provider: issuer.provider.clone(),
                leeway: issuer.leeway.and_then(leeway),
                secret: issuer.secret.as_ref().and_then(|secret| {
                    Some(IssuerSecret {
                        key: secret_key(secret)?,
                        fingerprint: secret.fingerprint(),
                    })
                }),
                variables: issuer.variables,
            })
            .collect();
        let shared = settings.shared_secret.as_ref().and_then(|shared| {
            Some(SharedSecret {
                current: secret_key(&shared.current)?,
                current_fingerprint: shared.current.fingerprint(),
                previous: shared.previous.as_ref().and_then(secret_key),
                issuer: shared.issuer.clone(),
                audiences: shared.audiences.clone(),
            })
        });
        JwtVerifier {
            issuers,
            shared,
            rules: ClaimRules {
                leeway: i64::try_from(settings.leeway.as_secs()).unwrap_or(30),
                token_version: settings.token_version,
                principal_claims: settings.principal_claims.clone(),
                reads_jwt_id: settings.checks_revocation(),
            },
            verified: VerifiedSignatures::new(),
        }
    }

    /// Verifies the JWS `token`, whose header classification decoded, at
    /// `now` (Unix seconds). On refusal, `facts` holds what the token says
    /// and what was expected; on success nothing is recorded, so the hot
    /// path allocates only what the principal needs.
    pub(crate) async fn verify_jws(
        &self,
        token: &str,
        header: JoseHeader,
        now: i64,
        facts: &mut Facts,
    ) -> Result<Verified, Refusal> {
        let result = self.verify_checks(token, header, now, facts).await;
        if result.is_err() {
            self.record_token(token, facts);
        }
        result
    }

    /// The facts of a refused token, re-read from it: refusals are the slow
    /// path, so nothing is copied while checks pass.
    pub(crate) fn record_token(&self, token: &str, facts: &mut Facts) {
        let Some(header) = jose_header(token) else {
            return;
        };
        facts.token_kind.get_or_insert("jwt");
        let symmetric = header
            .alg
            .as_deref()
            .and_then(|alg| alg.parse::<Algorithm>().ok())
            .is_some_and(|alg| SYMMETRIC.contains(&alg));
        facts.alg = header.alg;
        facts.kid = header.kid;
        let payload = token.split('.').nth(1).unwrap_or_default();
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload) else {
            return;
        };
        let Ok(claims) = Claims::parse(&bytes) else {
            return;
        };
        record_claims(&claims, facts);
        let iss = claims.string("iss").ok().flatten().unwrap_or_default();
        let issuer = self
            .issuers
            .iter()
            .filter(|i| !symmetric || i.owns_hmac_tokens())
            .find(|i| i.issuer.matches(&iss));
        // HS tokens of no issuer of their own are JWT_SECRET's.
        let symmetric = symmetric && issuer.is_none();
        if facts.iss_expected.is_none() {
            facts.iss_expected = if symmetric {
                self.shared
                    .as_ref()
                    .and_then(|shared| shared.issuer.as_ref())
                    .map(PatternList::describe)
            } else {
                match issuer {
                    Some(issuer) => Some(issuer.issuer.describe()),
                    None => Some(self.all_issuers()),
                }
            };
        }
        // What the audience had to be, even when another check refused
        // first (an expired token's facts still show both sides).
        if facts.aud_expected.is_none() {
            facts.aud_expected = if symmetric {
                self.shared
                    .as_ref()
                    .and_then(|shared| shared.audiences.as_ref())
                    .map(PatternList::describe)
            } else {
                issuer
                    .filter(|issuer| !issuer.audiences.is_empty())
                    .map(|issuer| issuer.audiences.describe())
            };
        }
    }

    /// An encrypted token (JWE) whose protected header names a preset's
    /// issuer: a token its provider issued for another use than this API
    /// (Auth0 encrypts the access tokens it issues without an audience),
    /// refused as such. `None` for every other JWE, an Auth.js cookie's
    /// included.
    pub(crate) fn recognise_encrypted(&self, token: &str, facts: &mut Facts) -> Option<Refusal> {
        let header = token.split('.').next()?;
        let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
        let header = Claims::parse(&bytes).ok()?;
        let iss = header.string("iss").ok().flatten()?;
        let issuer = self.issuers.iter().find(|i| i.issuer.matches(&iss))?;
        let refusal = issuer.provider.as_ref()?.recognise_encrypted()?;
        facts.token_kind = Some("jwe");
        facts.iss_received = Some(iss.into_owned());
        facts.iss_expected = Some(issuer.issuer.describe());
        Some(refusal)
    }

    fn all_issuers(&self) -> String {
        self.issuers
            .iter()
            .map(|i| i.issuer.describe())
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn verify_checks(
        &self,
        token: &str,
        header: JoseHeader,
        now: i64,
        facts: &mut Facts,
    ) -> Result<Verified, Refusal> {
        // classify() saw exactly three segments.
        let (signing_input, signature) = token.rsplit_once('.').unwrap_or((token, ""));
        let payload = signing_input
            .split_once('.')
            .map_or("", |(_, payload)| payload);
        let payload = base64_simd::URL_SAFE_NO_PAD
            .decode_to_vec(payload)
            .map_err(|_| malformed("the token's payload is not base64url"))?;
        let claims = Claims::parse(&payload).map_err(malformed)?;

        let alg_name = header.alg.as_deref().unwrap_or_default();
        let Ok(alg) = alg_name.parse::<Algorithm>() else {
            return Err(Refusal::revealing(
                Reason::AlgorithmNotAllowed,
                format!("the token's algorithm `{alg_name}` is not one Gatehouse accepts"),
                "sign tokens with RS256, PS256, ES256, ES384 or EdDSA (or HS256 with JWT_SECRET); `none` is never accepted",
            ));
        };

        let kid = header.kid.as_deref();
        let (used, issuer) = if SYMMETRIC.contains(&alg) {
            match self.hmac_issuer(&claims) {
                Some(issuer) => (
                    self.verify_issuer_secret(issuer, alg, signing_input, signature, facts)?,
                    Some(issuer),
                ),
                None => {
                    self.recognise_foreign(&claims)?;
                    let used = self.verify_shared(alg, signing_input, signature, &claims, facts)?;
                    (used, None)
                }
            }
        } else {
            let (used, issuer) = self
                .verify_issuer(alg, kid, signing_input, signature, &claims, facts)
                .await?;
            (used, Some(issuer))
        };
        let leeway = issuer
            .and_then(|issuer| issuer.leeway)
            .unwrap_or(self.rules.leeway);
        match issuer {
            Some(issuer) => issuer.check_claims(&claims, kid, now, leeway, facts),
            None => Ok(()),
        }
        .and_then(|()| self.rules.check(&claims, now, leeway, alg, &used, facts))
        .map(|mut verified| {
            if let Some(rules) = issuer.and_then(|issuer| issuer.provider.as_ref()) {
                rules.principal_claims(&claims, &mut verified.claims);
            }
            verified
        })
        .inspect_err(|_| {
            // The signature verified: the facts name the key that did.
            facts.keys_tried.push(match (&used.key_id, used.method) {
                (Some(kid), _) => kid.clone(),
                (None, Method::JwtSharedSecret) if used.previous_secret => {
                    "previous_shared_secret".to_owned()
                }
                (None, Method::JwtSharedSecret) if used.namespace != SHARED_SECRET => {
                    format!("{}_secret", used.namespace)
                }
                (None, Method::JwtSharedSecret) => "shared_secret".to_owned(),
                (None, _) => format!("{alg:?} key without kid"),
            });
        })
    }

    /// The issuer an HS token names, when that issuer verifies its own HS
    /// tokens (with its own secret, or not at all): such a token is never
    /// checked against `JWT_SECRET`.
    fn hmac_issuer(&self, claims: &Claims<'_>) -> Option<&TrustedIssuer> {
        let iss = claims.string("iss").ok().flatten()?;
        self.issuers
            .iter()
            .find(|issuer| issuer.owns_hmac_tokens() && issuer.issuer.matches(&iss))
    }

    /// A token no trusted issuer claims that a preset's provider recognises
    /// as one of its non-user tokens (Supabase's API keys): refused as such.
    fn recognise_foreign(&self, claims: &Claims<'_>) -> Result<(), Refusal> {
        match self
            .issuers
            .iter()
            .filter_map(|issuer| issuer.provider.as_ref())
            .find_map(|rules| rules.recognise_foreign(claims))
        {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    /// An HS token naming `issuer`, against that issuer's own secret.
    fn verify_issuer_secret(
        &self,
        issuer: &TrustedIssuer,
        alg: Algorithm,
        signing_input: &str,
        signature: &str,
        facts: &mut Facts,
    ) -> Result<KeyUsed, Refusal> {
        let source = issuer
            .provider
            .as_ref()
            .and_then(ProviderRules::secret_source);
        let Some(secret) = &issuer.secret else {
            let hint = match source {
                Some((variable, place)) => format!(
                    "set {variable} to the secret {} signs these tokens with ({place}), or have it sign with its asymmetric keys (the JWKS)",
                    issuer.title()
                ),
                None => format!(
                    "{} signs with its public keys only: this token was not made by it, or its header was altered",
                    issuer.title()
                ),
            };
            return Err(Refusal::revealing(
                Reason::AlgorithmNotAllowed,
                format!(
                    "the token names the issuer of {} but is signed with {alg:?}, a shared-secret algorithm, and {} has no secret here",
                    issuer.label, issuer.label
                ),
                hint,
            ));
        };
        if alg != Algorithm::HS256 {
            return Err(Refusal::revealing(
                Reason::AlgorithmNotAllowed,
                format!(
                    "the token names the issuer of {} but is signed with {alg:?}; its secret verifies HS256 only",
                    issuer.label
                ),
                format!(
                    "{} signs with HS256: this token was not made by it, or its header was altered",
                    issuer.title()
                ),
            ));
        }
        if !signature_ok(signature, signing_input, &secret.key, alg) {
            facts.keys_tried.push(format!("{}_secret", issuer.label));
            let (variable, place) = source.unwrap_or(("the issuer's secret", "its settings"));
            return Err(Refusal::revealing(
                Reason::SignatureInvalid,
                format!(
                    "the token names the issuer of {} but its signature does not verify with {variable}",
                    issuer.label
                ),
                format!(
                    "{variable} differs from the secret {} signs with: copy it again from {place}; this deployment's is sha256:{}",
                    issuer.title(),
                    secret.fingerprint
                ),
            ));
        }
        Ok(KeyUsed {
            method: Method::JwtSharedSecret,
            key_id: None,
            previous_secret: false,
            namespace: issuer.label.clone(),
        })
    }

    fn verify_shared(
        &self,
        alg: Algorithm,
        signing_input: &str,
        signature: &str,
        claims: &Claims<'_>,
        facts: &mut Facts,
    ) -> Result<KeyUsed, Refusal> {
        let Some(shared) = &self.shared else {
            return Err(Refusal::revealing(
                Reason::AlgorithmNotAllowed,
                format!(
                    "the token is signed with {alg:?}, a shared-secret algorithm, but JWT_SECRET is not set"
                ),
                "shared-secret tokens are verified only with JWT_SECRET, never with a public key: set JWT_SECRET to the signer's secret, or have the issuer sign with its private key (RS256/ES256/EdDSA)",
            ));
        };
        let mut previous = false;
        if !signature_ok(signature, signing_input, &shared.current, alg) {
            let by_previous = shared
                .previous
                .as_ref()
                .is_some_and(|key| signature_ok(signature, signing_input, key, alg));
            if !by_previous {
                facts.keys_tried.push("shared_secret".to_owned());
                if shared.previous.is_some() {
                    facts.keys_tried.push("previous_shared_secret".to_owned());
                }
                return Err(Refusal::revealing(
                    Reason::SignatureInvalid,
                    "the token was signed with a different secret than this deployment's JWT_SECRET",
                    format!(
                        "the service that minted it holds another secret (or it was rotated without JWT_SECRET_PREVIOUS): compare secret fingerprints; this deployment's JWT_SECRET is sha256:{}",
                        shared.current_fingerprint
                    ),
                ));
            }
            previous = true;
        }
        let checked = match &shared.issuer {
            Some(issuer) => check_issuer(claims, issuer, facts),
            None => Ok(()),
        }
        .and_then(|()| match &shared.audiences {
            Some(audiences) => check_audience(claims, audiences, SHARED_AUDIENCE_FIX, facts),
            None => Ok(()),
        });
        if let Err(refusal) = checked {
            facts.keys_tried.push(
                if previous {
                    "previous_shared_secret"
                } else {
                    "shared_secret"
                }
                .to_owned(),
            );
            return Err(refusal);
        }
        Ok(KeyUsed {
            method: Method::JwtSharedSecret,
            key_id: None,
            previous_secret: previous,
            namespace: crate::auth::identity::SHARED_SECRET.to_owned(),
        })
    }

    /// The signature of an asymmetric token against the keys of the issuer
    /// it names; that issuer's claim checks are left to the caller.
    async fn verify_issuer(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        signing_input: &str,
        signature: &str,
        claims: &Claims<'_>,
        facts: &mut Facts,
    ) -> Result<(KeyUsed, &TrustedIssuer), Refusal> {
        if !ASYMMETRIC.contains(&alg) {
            return Err(Refusal::revealing(
                Reason::AlgorithmNotAllowed,
                format!("the token's algorithm {alg:?} is not accepted"),
                "use RS256, PS256, ES256, ES384 or EdDSA",
            ));
        }
        if self.issuers.is_empty() {
            return Err(Refusal::revealing(
                Reason::AlgorithmNotAllowed,
                format!(
                    "the token is signed with {alg:?} (a public-key algorithm), but no public-key issuer is configured"
                ),
                "set BETTER_AUTH_URL, or JWT_JWKS_URL with JWT_ISSUER and JWT_AUDIENCE, for the issuer that mints these tokens",
            ));
        }
        let iss = match claims.string("iss") {
            Ok(Some(iss)) => iss,
            Ok(None) => {
                return Err(claim_missing(
                    "iss",
                    "the token names no issuer, so there is no way to know whose keys verify it",
                ));
            }
            Err(_) => return Err(malformed("the `iss` claim is not a string")),
        };
        let Some(issuer) = self
            .issuers
            .iter()
            .find(|issuer| issuer.issuer.matches(&iss))
        else {
            self.recognise_foreign(claims)?;
            return Err(self.untrusted_issuer(&iss));
        };
        if !issuer.algorithms.contains(&alg) {
            let hint = match issuer.variables.algorithms {
                Some(variable) => {
                    format!("add the algorithm to {variable} if the issuer really signs with it")
                }
                None => format!(
                    "{} signs with {}: this token was not made by it, or its header was altered",
                    issuer.title(),
                    issuer
                        .algorithms
                        .iter()
                        .map(|alg| format!("{alg:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(Refusal::revealing(
                Reason::AlgorithmNotAllowed,
                format!(
                    "the token is signed with {alg:?}, which issuer {} is not allowed to use",
                    issuer.label
                ),
                hint,
            ));
        }

        let candidates = self.candidate_keys(issuer, kid, alg, facts).await?;
        let method = match issuer.keys {
            Keys::Jwks(_) => Method::JwtJwks,
            Keys::Static(_) => Method::JwtStaticKey,
        };
        let digest = VerifiedSignatures::digest(signing_input, signature);
        let mut verified = None;
        for key in &candidates {
            if key.algorithm != alg {
                return Err(Refusal::revealing(
                    Reason::AlgorithmNotAllowed,
                    format!(
                        "the token says {alg:?} but key {} is a {:?} key",
                        key.kid.as_deref().unwrap_or("?"),
                        key.algorithm
                    ),
                    "the algorithm is pinned by the key: the token was not produced with this key, or its header was altered",
                ));
            }
            if self.verified.verified_by(&digest, key) {
                verified = Some(key.kid.clone());
                break;
            }
            if signature_ok(signature, signing_input, &key.key, alg) {
                let exp = claims.number("exp").ok().flatten();
                self.verified.remember(digest, key, exp);
                verified = Some(key.kid.clone());
                break;
            }
        }
        let Some(kid_used) = verified else {
            // Named only when refusing: the accepted path stays allocation-free.
            facts.keys_tried.extend(candidates.iter().map(|key| {
                key.kid
                    .clone()
                    .unwrap_or_else(|| format!("{:?} key without kid", key.algorithm))
            }));
            return Err(Refusal::revealing(
                Reason::SignatureInvalid,
                "the token's signature does not verify with the issuer's key",
                format!(
                    "the token was altered, or it was signed by a key that is not among those of {}: check that the JWKS URL or keys ({}) belong to the same auth server that minted the token",
                    issuer.label, issuer.variables.keys
                ),
            ));
        };
        Ok((
            KeyUsed {
                method,
                key_id: kid_used,
                previous_secret: false,
                namespace: issuer.label.clone(),
            },
            issuer,
        ))
    }

    /// The refusal of an `iss` no trusted issuer has, with the fix: an
    /// issuer that differs from a trusted one only by its trailing slash
    /// (Auth0's `https://<domain>/`, the most common Auth0 401) is named as
    /// such.
    fn untrusted_issuer(&self, iss: &str) -> Refusal {
        let expected = self.all_issuers();
        let slash = self.issuers.iter().find_map(|issuer| {
            issuer
                .issuer
                .0
                .iter()
                .find(|p| {
                    p.is_exact()
                        && p.as_str() != iss
                        && p.as_str().trim_end_matches('/') == iss.trim_end_matches('/')
                })
                .map(|p| (issuer, p.as_str()))
        });
        let hint = match slash {
            Some((issuer, configured)) if iss.ends_with('/') => format!(
                "the token's issuer is {iss}, with a trailing slash, but {} is {configured}, without it: Auth0 (and other OpenID providers) put https://<domain>/ with the trailing slash in `iss`. Set {} to {iss} exactly; for Auth0, set AUTH0_DOMAIN instead, which adds it",
                issuer.variables.issuer, issuer.variables.issuer
            ),
            Some((issuer, configured)) if issuer.provider.is_some() => format!(
                "the token's issuer is {iss}, without a trailing slash, but tokens {} issues for {} carry {configured}, with one: this token was not minted by it (check the frontend signs in against the domain in {})",
                issuer.title(),
                issuer.variables.issuer,
                issuer.variables.issuer
            ),
            Some((issuer, configured)) => format!(
                "the token's issuer is {iss}, without a trailing slash, but {} is {configured}, with one: set {} to {iss} exactly, as the tokens carry it",
                issuer.variables.issuer, issuer.variables.issuer
            ),
            None => {
                let mut variables: Vec<&str> =
                    self.issuers.iter().map(|i| i.variables.issuer).collect();
                variables.dedup();
                format!(
                    "the token's issuer is {iss} but this deployment expects {expected}: set {} to match the auth server of this environment (preview deployments have their own URL: a pattern such as https://myapp-*-team.vercel.app covers them)",
                    variables.join(" / ")
                )
            }
        };
        Refusal::revealing(
            Reason::IssuerMismatch,
            format!("the token's issuer is {iss}, which this deployment does not trust"),
            hint,
        )
    }

    async fn candidate_keys(
        &self,
        issuer: &TrustedIssuer,
        kid: Option<&str>,
        alg: Algorithm,
        facts: &mut Facts,
    ) -> Result<Vec<Arc<VerifyingKey>>, Refusal> {
        let not_found = |known: Vec<String>| {
            Refusal::revealing(
                Reason::KeyNotFound,
                match kid {
                    Some(kid) => format!(
                        "no key with kid {kid} in the keys of {}; known kids: {}",
                        issuer.label,
                        known.join(", ")
                    ),
                    None => format!(
                        "the token has no kid and no {alg:?} key of {} verifies it",
                        issuer.label
                    ),
                },
                format!(
                    "the token was signed by another auth server or an old key: check that the JWKS URL or keys ({}) belong to the issuer that minted the token",
                    issuer.variables.keys
                ),
            )
        };
        match &issuer.keys {
            Keys::Static(keys) => {
                // A key without a kid (a PEM, such as CLERK_JWT_KEY) has
                // nothing to compare: it is tried whatever the token's kid,
                // and its signature decides.
                let matching: Vec<_> = keys
                    .iter()
                    .filter(|key| kid.is_none() || key.kid.is_none() || key.kid.as_deref() == kid)
                    .cloned()
                    .collect();
                if matching.is_empty() {
                    return Err(not_found(
                        keys.iter().filter_map(|k| k.kid.clone()).collect(),
                    ));
                }
                Ok(matching)
            }
            Keys::Jwks(cache) => {
                let result = match kid {
                    Some(kid) => cache.key(Some(kid), alg).await.map(|key| vec![key]),
                    None => cache.keys().await.map(|keys| {
                        keys.iter()
                            .filter(|key| key.algorithm == alg)
                            .cloned()
                            .collect()
                    }),
                };
                match result {
                    Ok(keys) if keys.is_empty() => Err(not_found(Vec::new())),
                    Ok(keys) => Ok(keys),
                    Err(JwksError::KeyNotFound {
                        kid_algorithm: Some(key_alg),
                        ..
                    }) => Err(Refusal::revealing(
                        Reason::AlgorithmNotAllowed,
                        format!(
                            "the token says {alg:?} but its key {} is a {key_alg:?} key",
                            kid.unwrap_or("?")
                        ),
                        "the algorithm is pinned by the key: the token was not produced with this key, or its header was altered",
                    )),
                    Err(JwksError::KeyNotFound { known_kids, .. }) => Err(not_found(known_kids)),
                    Err(err @ JwksError::Unavailable { .. }) => {
                        facts.keys_tried.push(format!("jwks:{}", issuer.label));
                        Err(Refusal::revealing(
                            Reason::JwksUnavailable,
                            format!(
                                "the signing keys of {} could not be loaded: {err}",
                                issuer.label
                            ),
                            "this is our dependency failing, not your token: retry shortly; if it persists, check the JWKS URL answers with JSON",
                        ))
                    }
                }
            }
        }
    }
}

fn signature_ok(signature: &str, signing_input: &str, key: &DecodingKey, alg: Algorithm) -> bool {
    jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), key, alg).unwrap_or(false)
}

impl Verify for JwtVerifier {
    const CHECKS: &'static [&'static str] = &[
        "recognised",
        "algorithm",
        "issuer",
        "key",
        "signature",
        "token type",
        "audience",
        "expiry and clock",
        "required claims",
        "token version",
        "revocation",
        "user profile",
    ];

    async fn verify(&self, attempt: Attempt<'_>) -> Result<Accepted, Refusal> {
        let Attempt {
            credential,
            kind,
            now,
            facts,
        } = attempt;
        let TokenKind::Jwt(header) = kind else {
            // Routing sends only JWTs here.
            return Err(kind.not_accepted(facts));
        };
        let token = &credential.token;
        let verified = self
            .verify_jws(token.expose(), header.clone(), now, facts)
            .await?;
        let source = credential.source.to_string();
        if verified.signed_with_previous_secret {
            // A rotation in progress: this event says which tokens still
            // need JWT_SECRET_PREVIOUS, so it is removed only once none
            // arrive.
            tracing::info!(
                target: "gatehouse::auth::rotation",
                credential_source = source.as_str(),
                token_fingerprint = token.fingerprint().as_str(),
                "token accepted with the previous secret (JWT_SECRET_PREVIOUS): its signer must move to JWT_SECRET before the previous secret is removed"
            );
        }
        let revocation_id = self
            .rules
            .reads_jwt_id
            .then(|| revocation::token_id(verified.jwt_id.as_deref(), token.expose()));
        Ok(Accepted::pending(
            verified.into_principal(source, revocation_id),
        ))
    }
}
