//! The provider presets through the real `auth-session` binary: for each
//! provider, tokens in its exact shape (headers and claims as its
//! documentation shows them) minted by `jose` and PyJWT, keys served by a
//! loopback JWKS endpoint (`JWT_JWKS_URL` replacing only the derived JWKS
//! URL, so nothing reaches the internet), the accepted token and each of the
//! provider's traps.

use serde_json::{Value, json};

use super::*;
use crate::support::jwks_server::{JwksServer, Reply};
use crate::support::mint::{fixture, jose, jose_encrypted, pyjwt, secret_spec};

/// The RSA fixture key published under a provider's kid.
fn rsa_jwk(kid: &str) -> Value {
    let mut jwk = jwk(KID_RSA);
    jwk["kid"] = json!(kid);
    jwk
}

/// A `jose` spec signing with the RSA fixture key, with this exact header
/// (`alg` added).
fn rsa(header: Value, claims: &Value) -> Value {
    json!({
        "alg": "RS256",
        "key": { "pem_file": fixture("rsa-2048.key.pem") },
        "header": header,
        "claims": claims,
    })
}

/// The principal's `claims` member.
fn claims_of(principal: &Value) -> &Value {
    &principal["claims"]
}

// --- Clerk --------------------------------------------------------------

const CLERK_HOST: &str = "clean-mole-12.clerk.accounts.dev";
const CLERK_KID: &str = "ins_2bXz5nQq8d6Y0wV3kJtHfRr1uPa";
const CLERK_APP: &str = "http://localhost:3000";

/// `pk_test_` and the base64 of `<Frontend API host>$`, as Clerk makes it.
fn clerk_publishable_key() -> String {
    use base64::engine::general_purpose::STANDARD;
    format!("pk_test_{}", STANDARD.encode(format!("{CLERK_HOST}$")))
}

/// A Clerk session token (v2) as `getToken()` returns it: 60 s, `nbf` 10 s
/// before `iat`, the frontend's origin in `azp`, no `aud`.
fn clerk_claims(now: i64) -> Value {
    json!({
        "azp": CLERK_APP,
        "exp": now + 60,
        "fva": [0, -1],
        "iat": now,
        "iss": format!("https://{CLERK_HOST}"),
        "nbf": now - 10,
        "sid": "sess_2bXz7aQq0d6Y0wV3kJtHfRr9xYz",
        "sts": "active",
        "sub": "user_2bXz5nQq8d6Y0wV3kJtHfRr1uPa",
        "v": 2,
    })
}

fn clerk_header() -> Value {
    json!({ "kid": CLERK_KID, "typ": "JWT", "cat": "cl_B7d4PD111AAA" })
}

#[test]
fn clerk_session_tokens_are_accepted_to_five_seconds_past_exp_and_azp_is_checked() {
    let server = JwksServer::start(Reply::jwks(&[rsa_jwk(CLERK_KID)]));
    let publishable = clerk_publishable_key();
    let function = start(
        AUTH_SESSION,
        &[
            ("CLERK_PUBLISHABLE_KEY", &publishable),
            ("CLERK_AUTHORIZED_PARTIES", CLERK_APP),
            ("JWT_JWKS_URL", &server.url()),
        ],
    );
    let now = now();
    let fresh = clerk_claims(now);
    // Issued 61 s ago by a 60 s token: expired 1 s ago, inside the 5 s skew.
    let at_the_edge = clerk_claims(now - 61);
    // Expired 6 s ago: past Clerk's 5 s (JWT_LEEWAY_SECS's 30 would pass it).
    let past_the_edge = clerk_claims(now - 66);
    // Issued by a clock 3 s ahead of ours.
    let clock_ahead = clerk_claims(now + 3);
    let tokens = jose(&[
        rsa(clerk_header(), &at_the_edge),
        rsa(clerk_header(), &fresh),
        rsa(clerk_header(), &past_the_edge),
        rsa(clerk_header(), &clock_ahead),
        rsa(
            clerk_header(),
            &with(&fresh, json!({ "azp": "https://evil.example" })),
        ),
        rsa(clerk_header(), &with(&fresh, json!({ "azp": null }))),
        rsa(
            clerk_header(),
            &with(
                &fresh,
                json!({ "iss": "https://other-instance-7.clerk.accounts.dev" }),
            ),
        ),
    ]);

    let principal = assert_accepted(&session_with(&function, &tokens[0]));
    assert_eq!(principal["expires_at"], now - 1);
    let principal = assert_accepted(&session_with(&function, &tokens[1]));
    assert_eq!(principal["subject"], "user_2bXz5nQq8d6Y0wV3kJtHfRr1uPa");
    assert_eq!(principal["namespace"], "clerk");
    assert_eq!(principal["issuer"], format!("https://{CLERK_HOST}"));
    assert_eq!(principal["method"], "jwt_jwks");
    assert_eq!(principal["key_id"], CLERK_KID);
    assert_eq!(principal["algorithm"], "RS256");
    let body = assert_refused(
        &session_with(&function, &tokens[2]),
        "token_expired",
        &["leeway 5 s"],
        &[],
    );
    assert_eq!(body["facts"]["leeway_secs"], 5, "{body}");
    assert_accepted(&session_with(&function, &tokens[3]));
    assert_refused(
        &session_with(&function, &tokens[4]),
        "audience_mismatch",
        &["https://evil.example"],
        &["CLERK_AUTHORIZED_PARTIES"],
    );
    assert_refused(
        &session_with(&function, &tokens[5]),
        "claim_missing",
        &["azp"],
        &[],
    );
    assert_refused(
        &session_with(&function, &tokens[6]),
        "issuer_mismatch",
        &["other-instance-7"],
        &["CLERK_PUBLISHABLE_KEY"],
    );
    assert_eq!(
        server.requests(),
        1,
        "the JWKS came from JWT_JWKS_URL, once"
    );
}

#[test]
fn clerk_jwt_key_verifies_without_any_network_call() {
    let pem = std::fs::read_to_string(fixture("rsa-2048.pub.pem")).expect("the public PEM");
    // As a dashboard field holds it: one line, `\n` escaped.
    let escaped = pem.trim().replace('\n', "\\n");
    let publishable = clerk_publishable_key();
    let function = start(
        AUTH_SESSION,
        &[
            ("CLERK_PUBLISHABLE_KEY", &publishable),
            ("CLERK_JWT_KEY", &escaped),
        ],
    );
    let tokens = jose(&[rsa(clerk_header(), &clerk_claims(now()))]);
    let principal = assert_accepted(&session_with(&function, &tokens[0]));
    assert_eq!(principal["method"], "jwt_static_key");
    assert_eq!(principal["namespace"], "clerk");
    // No CLERK_AUTHORIZED_PARTIES: any `azp`, as verifyToken without
    // authorizedParties (warned outside development).
    let other_origin = with(
        &clerk_claims(now()),
        json!({ "azp": "https://elsewhere.example" }),
    );
    let token = jose(&[rsa(clerk_header(), &other_origin)]).remove(0);
    assert_accepted(&session_with(&function, &token));
}

// --- Supabase -----------------------------------------------------------

const SUPABASE_URL: &str = "https://abcdefghijklmnopqrst.supabase.co";
const SUPABASE_ISS: &str = "https://abcdefghijklmnopqrst.supabase.co/auth/v1";
const SUPABASE_KID: &str = "0b2e5b6c-8f3a-4c1e-9d7a-2f4b6e8c1a3d";
const SUPABASE_USER: &str = "8d3a8b6e-2c4f-4b1a-9e7d-5f6a2b3c4d5e";

/// A user's access token as Supabase Auth (GoTrue) mints it.
fn supabase_claims(now: i64) -> Value {
    json!({
        "iss": SUPABASE_ISS,
        "sub": SUPABASE_USER,
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": "ada@example.com",
        "phone": "",
        "app_metadata": { "provider": "email", "providers": ["email"] },
        "user_metadata": { "email_verified": true },
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{ "method": "password", "timestamp": now }],
        "session_id": "a4c3f8e2-6b1d-4e9a-8c7f-3d2b1a0e9f8c",
        "is_anonymous": false,
    })
}

/// The project's `anon` or `service_role` API key: `iss: "supabase"`, the
/// project ref, the role, no `sub`, ten years of validity.
fn supabase_api_key(role: &str) -> Value {
    json!({
        "iss": "supabase",
        "ref": "abcdefghijklmnopqrst",
        "role": role,
        "iat": 1_700_000_000,
        "exp": 2_015_576_000,
    })
}

#[test]
fn supabase_user_tokens_are_accepted_and_its_api_keys_never_are() {
    let mut es256 = fixture_jwk("ec-p256.jwk.json");
    es256["kid"] = json!(SUPABASE_KID);
    let server = JwksServer::start(Reply::jwks(&[es256]));
    let legacy = unique_secret("supabase-legacy");
    let generic = unique_secret("generic");
    let function = start(
        AUTH_SESSION,
        &[
            ("SUPABASE_URL", SUPABASE_URL),
            ("SUPABASE_JWT_SECRET", &legacy),
            ("JWT_SECRET", &generic),
            ("JWT_SECRET_AUDIENCE", "authenticated"),
            ("JWT_JWKS_URL", &server.url()),
            ("PRINCIPAL_CLAIMS", "email,role"),
        ],
    );
    let now = now();
    let user = supabase_claims(now);
    let asymmetric = jose(&[
        json!({
            "alg": "ES256",
            "key": { "pem_file": fixture("ec-p256.key.pem") },
            "header": { "kid": SUPABASE_KID, "typ": "JWT" },
            "claims": user,
        }),
        json!({
            "alg": "ES256",
            "key": { "pem_file": fixture("ec-p256.key.pem") },
            "header": { "kid": SUPABASE_KID, "typ": "JWT" },
            "claims": with(&user, json!({ "aud": "anon" })),
        }),
    ]);
    let hs256 = pyjwt(&[
        secret_spec("HS256", &legacy, &user),
        secret_spec("HS256", &legacy, &supabase_api_key("anon")),
        secret_spec("HS256", &legacy, &supabase_api_key("service_role")),
        // A service_role token in a user's shape, signed with the secret.
        secret_spec(
            "HS256",
            &legacy,
            &with(&user, json!({ "role": "service_role" })),
        ),
        // Signed with JWT_SECRET, in Supabase's name: never JWT_SECRET's.
        secret_spec("HS256", &generic, &user),
        secret_spec("HS256", &unique_secret("other-project"), &user),
    ]);

    let principal = assert_accepted(&session_with(&function, &asymmetric[0]));
    assert_eq!(principal["namespace"], "supabase");
    assert_eq!(principal["subject"], SUPABASE_USER);
    assert_eq!(principal["method"], "jwt_jwks");
    assert_eq!(principal["algorithm"], "ES256");
    assert_eq!(
        claims_of(&principal),
        &json!({ "email": "ada@example.com", "role": "authenticated", "is_anonymous": false })
    );
    let principal = assert_accepted(&session_with(&function, &hs256[0]));
    assert_eq!(principal["namespace"], "supabase");
    assert_eq!(principal["method"], "jwt_shared_secret");
    assert_eq!(principal["algorithm"], "HS256");

    assert_refused(
        &session_with(&function, &asymmetric[1]),
        "audience_mismatch",
        &["anon"],
        &["session.access_token"],
    );
    assert_refused(
        &session_with(&function, &hs256[1]),
        "token_type_mismatch",
        &["`anon` API key"],
        &["session.access_token"],
    );
    assert_refused(
        &session_with(&function, &hs256[2]),
        "token_type_mismatch",
        &["`service_role` API key"],
        &["Row Level Security"],
    );
    assert_refused(
        &session_with(&function, &hs256[3]),
        "token_type_mismatch",
        &["service_role"],
        &[],
    );
    for token in &hs256[4..] {
        assert_refused(
            &session_with(&function, token),
            "signature_invalid",
            &["SUPABASE_JWT_SECRET"],
            &["SUPABASE_JWT_SECRET"],
        );
    }
    let output = function.process.all_output();
    for secret in [&legacy, &generic] {
        assert!(!output.contains(&secret[..20]), "a secret was logged");
    }
}

#[test]
fn supabase_without_the_legacy_secret_still_names_its_api_keys() {
    let server = JwksServer::start(Reply::jwks(&[fixture_jwk("ec-p256.jwk.json")]));
    let function = start(
        AUTH_SESSION,
        &[
            ("SUPABASE_URL", SUPABASE_URL),
            ("JWT_JWKS_URL", &server.url()),
        ],
    );
    let legacy = unique_secret("supabase-legacy");
    let tokens = pyjwt(&[
        secret_spec("HS256", &legacy, &supabase_api_key("anon")),
        secret_spec("HS256", &legacy, &supabase_claims(now())),
    ]);
    assert_refused(
        &session_with(&function, &tokens[0]),
        "token_type_mismatch",
        &["`anon` API key"],
        &[],
    );
    assert_refused(
        &session_with(&function, &tokens[1]),
        "algorithm_not_allowed",
        &["HS256"],
        &["SUPABASE_JWT_SECRET"],
    );
}

// --- Auth0 --------------------------------------------------------------

const AUTH0_DOMAIN: &str = "dev-k3x9q2w8.us.auth0.com";
const AUTH0_KID: &str = "Xq8mZ3vN1pR6tY2wK9sL4bH7cJ0fD5gA";
const AUTH0_API: &str = "https://api.example.com";
const AUTH0_CLIENT: &str = "Qv7oZf3cB9nE2xW6yT1sR8uK4mJ0hL5a";

/// An access token for [`AUTH0_API`], as Auth0 mints it for a SPA that
/// asked for that audience.
fn auth0_access(now: i64) -> Value {
    json!({
        "iss": format!("https://{AUTH0_DOMAIN}/"),
        "sub": "auth0|65f1c2d3e4a5b6c7d8e9f0a1",
        "aud": [AUTH0_API, format!("https://{AUTH0_DOMAIN}/userinfo")],
        "iat": now,
        "exp": now + 86_400,
        "scope": "openid profile email read:tasks",
        "azp": AUTH0_CLIENT,
    })
}

fn auth0_header() -> Value {
    json!({ "typ": "JWT", "kid": AUTH0_KID })
}

#[test]
fn auth0_access_tokens_are_accepted_and_id_tokens_and_slashless_issuers_named() {
    let server = JwksServer::start(Reply::jwks(&[rsa_jwk(AUTH0_KID)]));
    let function = start(
        AUTH_SESSION,
        &[
            ("AUTH0_DOMAIN", AUTH0_DOMAIN),
            ("AUTH0_AUDIENCE", AUTH0_API),
            ("JWT_JWKS_URL", &server.url()),
        ],
    );
    let now = now();
    let access = auth0_access(now);
    let id_token = json!({
        "iss": format!("https://{AUTH0_DOMAIN}/"),
        "sub": "auth0|65f1c2d3e4a5b6c7d8e9f0a1",
        "aud": AUTH0_CLIENT,
        "iat": now,
        "exp": now + 36_000,
        "nonce": "bjFZbGlmeFZ1UW1hTUhn",
        "name": "Ada",
        "email": "ada@example.com",
        "sid": "a1b2c3d4e5f6",
    });
    let tokens = jose(&[
        rsa(auth0_header(), &access),
        rsa(auth0_header(), &id_token),
        rsa(
            auth0_header(),
            &with(&access, json!({ "iss": format!("https://{AUTH0_DOMAIN}") })),
        ),
    ]);
    let principal = assert_accepted(&session_with(&function, &tokens[0]));
    assert_eq!(principal["namespace"], "auth0");
    assert_eq!(principal["subject"], "auth0|65f1c2d3e4a5b6c7d8e9f0a1");
    assert_eq!(
        claims_of(&principal)["scope"],
        "openid profile email read:tasks"
    );
    assert_refused(
        &session_with(&function, &tokens[1]),
        "audience_mismatch",
        &[AUTH0_CLIENT],
        &["AUTH0_AUDIENCE", "ID token"],
    );
    assert_refused(
        &session_with(&function, &tokens[2]),
        "issuer_mismatch",
        &[],
        &["without a trailing slash", "AUTH0_DOMAIN"],
    );

    // A token the SPA requested without an audience: Auth0 encrypts it
    // (`alg: dir`, its issuer in the header) for its /userinfo only. Named
    // as such, here and where Auth.js cookies (also JWEs) are read.
    let no_audience = jose_encrypted(&[json!({
        "encrypt": { "enc": "A256GCM" },
        "header": { "iss": format!("https://{AUTH0_DOMAIN}/") },
        "claims": { "sub": "auth0|65f1c2d3e4a5b6c7d8e9f0a1" },
    })])
    .remove(0);
    let with_authjs = start(
        AUTH_SESSION,
        &[
            ("AUTH0_DOMAIN", AUTH0_DOMAIN),
            ("AUTH0_AUDIENCE", AUTH0_API),
            ("JWT_JWKS_URL", &server.url()),
            ("AUTH_SECRET", &unique_secret("authjs")),
        ],
    );
    for function in [&function, &with_authjs] {
        let body = assert_refused(
            &session_with(function, &no_audience),
            "audience_mismatch",
            &["requested without an audience"],
            &["AUTH0_AUDIENCE"],
        );
        assert_eq!(body["facts"]["token_kind"], "jwe", "{body}");
    }

    // The most common Auth0 401: the issuer configured by hand, without the
    // slash. The hint says exactly that.
    let by_hand = start(
        AUTH_SESSION,
        &[
            ("JWT_JWKS_URL", &server.url()),
            ("JWT_ISSUER", &format!("https://{AUTH0_DOMAIN}")),
            ("JWT_AUDIENCE", AUTH0_API),
        ],
    );
    assert_refused(
        &session_with(&by_hand, &tokens[0]),
        "issuer_mismatch",
        &[],
        &[
            "with a trailing slash",
            &format!("Set JWT_ISSUER to https://{AUTH0_DOMAIN}/ exactly"),
            "AUTH0_DOMAIN",
        ],
    );
}

// --- Amazon Cognito -------------------------------------------------------

const COGNITO_POOL: &str = "us-east-1_AbCdEf123";
const COGNITO_ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123";
const COGNITO_KID: &str = "1A2b3C4d5E6f7G8h9I0jKlMnOpQrStUvWxYz+AbCdEf=";
const COGNITO_CLIENT: &str = "4b7c2d9e1f3a5g6h8i0j2k4l6m";
const COGNITO_USER: &str = "94a8e4c8-7021-70d5-3c1a-2b3c4d5e6f70";

fn cognito_access(now: i64, client: &str) -> Value {
    json!({
        "sub": COGNITO_USER,
        "cognito:groups": ["admin", "editors"],
        "iss": COGNITO_ISS,
        "version": 2,
        "client_id": client,
        "origin_jti": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
        "event_id": "c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now - 60,
        "exp": now + 3600,
        "iat": now - 60,
        "jti": "d4e5f6a7-b8c9-4d0e-1f2a-3b4c5d6e7f80",
        "username": "ada",
    })
}

fn cognito_id(now: i64) -> Value {
    json!({
        "sub": COGNITO_USER,
        "cognito:groups": ["admin", "editors"],
        "email_verified": true,
        "iss": COGNITO_ISS,
        "cognito:username": "ada",
        "origin_jti": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
        "aud": COGNITO_CLIENT,
        "event_id": "c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f",
        "token_use": "id",
        "auth_time": now - 60,
        "exp": now + 3600,
        "iat": now - 60,
        "jti": "e5f6a7b8-c9d0-4e1f-2a3b-4c5d6e7f8091",
        "email": "ada@example.com",
    })
}

#[test]
fn cognito_tokens_follow_token_use_and_client_id_and_groups_become_roles() {
    let server = JwksServer::start(Reply::jwks(&[rsa_jwk(COGNITO_KID)]));
    let clients = format!("otherclient1, {COGNITO_CLIENT}");
    let jwks_url = server.url();
    let env = |token_use| {
        [
            ("COGNITO_USER_POOL_ID", COGNITO_POOL),
            ("COGNITO_CLIENT_ID", clients.as_str()),
            ("COGNITO_TOKEN_USE", token_use),
            ("JWT_JWKS_URL", jwks_url.as_str()),
        ]
    };
    let access_fn = start(AUTH_SESSION, &env("access"));
    let id_fn = start(AUTH_SESSION, &env("id"));
    let now = now();
    let header = json!({ "kid": COGNITO_KID });
    let tokens = jose(&[
        rsa(header.clone(), &cognito_access(now, COGNITO_CLIENT)),
        rsa(header.clone(), &cognito_id(now)),
        rsa(
            header.clone(),
            &cognito_access(now, "someotherappclient00000000"),
        ),
        rsa(
            header.clone(),
            &with(
                &cognito_id(now),
                json!({ "aud": "someotherappclient00000000" }),
            ),
        ),
    ]);

    let principal = assert_accepted(&session_with(&access_fn, &tokens[0]));
    assert_eq!(principal["namespace"], "cognito");
    assert_eq!(principal["subject"], COGNITO_USER);
    assert_eq!(claims_of(&principal)["roles"], json!(["admin", "editors"]));
    assert_eq!(
        claims_of(&principal)["scope"],
        "aws.cognito.signin.user.admin"
    );
    assert_refused(
        &session_with(&access_fn, &tokens[1]),
        "token_type_mismatch",
        &["an ID token", "COGNITO_TOKEN_USE=access"],
        &["COGNITO_TOKEN_USE=id"],
    );
    assert_refused(
        &session_with(&access_fn, &tokens[2]),
        "audience_mismatch",
        &["someotherappclient00000000"],
        &["COGNITO_CLIENT_ID"],
    );

    let principal = assert_accepted(&session_with(&id_fn, &tokens[1]));
    assert_eq!(principal["subject"], COGNITO_USER);
    assert_eq!(claims_of(&principal)["roles"], json!(["admin", "editors"]));
    assert_refused(
        &session_with(&id_fn, &tokens[0]),
        "token_type_mismatch",
        &["an access token"],
        &["COGNITO_TOKEN_USE=access"],
    );
    assert_refused(
        &session_with(&id_fn, &tokens[3]),
        "audience_mismatch",
        &["(aud)"],
        &["COGNITO_CLIENT_ID"],
    );
}

// --- Firebase -------------------------------------------------------------

const FIREBASE_PROJECT: &str = "gatehouse-demo-4f2a1";
const FIREBASE_KID: &str = "a9f1c4e7b2d5086f3e1c9a7b5d3f1e0c8a6b4d2f";
const FIREBASE_UID: &str = "kZ2wQx9vLm3Np7Rt5Yb1Hc8Jd4Fg";

/// A Firebase ID token as `user.getIdToken()` returns it.
fn firebase_claims(now: i64) -> Value {
    json!({
        "name": "Ada Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/ada",
        "iss": format!("https://securetoken.google.com/{FIREBASE_PROJECT}"),
        "aud": FIREBASE_PROJECT,
        "auth_time": now - 300,
        "user_id": FIREBASE_UID,
        "sub": FIREBASE_UID,
        "iat": now,
        "exp": now + 3600,
        "email": "ada@example.com",
        "email_verified": true,
        "firebase": {
            "identities": { "email": ["ada@example.com"] },
            "sign_in_provider": "password",
        },
    })
}

#[test]
fn firebase_id_tokens_follow_verify_id_token_and_auth_time() {
    let server = JwksServer::start(Reply::jwks(&[rsa_jwk(FIREBASE_KID)]));
    let function = start(
        AUTH_SESSION,
        &[
            ("FIREBASE_PROJECT_ID", FIREBASE_PROJECT),
            ("JWT_JWKS_URL", &server.url()),
        ],
    );
    let now = now();
    let token = firebase_claims(now);
    let header = json!({ "kid": FIREBASE_KID, "typ": "JWT" });
    let tokens = jose(&[
        rsa(header.clone(), &token),
        rsa(
            header.clone(),
            &with(&token, json!({ "auth_time": now + 120 })),
        ),
        rsa(header.clone(), &with(&token, json!({ "sub": "" }))),
        rsa(
            header.clone(),
            &with(&token, json!({ "aud": "another-project-1" })),
        ),
        rsa(json!({ "typ": "JWT" }), &token),
        rsa(header.clone(), &with(&token, json!({ "auth_time": null }))),
    ]);
    let principal = assert_accepted(&session_with(&function, &tokens[0]));
    assert_eq!(principal["namespace"], "firebase");
    assert_eq!(principal["subject"], FIREBASE_UID);
    assert_eq!(principal["key_id"], FIREBASE_KID);
    assert_eq!(claims_of(&principal)["email"], "ada@example.com");
    assert_refused(
        &session_with(&function, &tokens[1]),
        "token_not_yet_valid",
        &["auth_time"],
        &[],
    );
    assert_refused(
        &session_with(&function, &tokens[2]),
        "claim_missing",
        &["sub"],
        &[],
    );
    assert_refused(
        &session_with(&function, &tokens[3]),
        "audience_mismatch",
        &["another-project-1"],
        &["FIREBASE_PROJECT_ID"],
    );
    assert_refused(
        &session_with(&function, &tokens[4]),
        "key_not_found",
        &["kid"],
        &["getIdToken"],
    );
    assert_refused(
        &session_with(&function, &tokens[5]),
        "claim_missing",
        &["auth_time"],
        &[],
    );
}

// --- Side by side ---------------------------------------------------------

#[test]
fn presets_sit_beside_each_other_each_its_own_namespace() {
    // Supabase on loopback (as `supabase start` serves it): its JWKS is
    // derived from SUPABASE_URL, no override needed; Clerk with its PEM.
    let server = JwksServer::start(Reply::jwks(&[fixture_jwk("ec-p256.jwk.json")]));
    let supabase_url = server
        .url()
        .replace(crate::support::jwks_server::JWKS_PATH, "");
    let pem = std::fs::read_to_string(fixture("rsa-2048.pub.pem")).expect("the public PEM");
    let publishable = clerk_publishable_key();
    let function = start(
        AUTH_SESSION,
        &[
            ("SUPABASE_URL", &supabase_url),
            ("CLERK_PUBLISHABLE_KEY", &publishable),
            ("CLERK_JWT_KEY", &pem),
        ],
    );
    let now = now();
    let shared_sub = "user_same_42";
    let tokens = jose(&[
        json!({
            "alg": "ES256",
            "key": { "pem_file": fixture("ec-p256.key.pem") },
            "header": { "kid": "ec-p256-2026", "typ": "JWT" },
            "claims": with(
                &supabase_claims(now),
                json!({ "iss": format!("{supabase_url}/auth/v1"), "sub": shared_sub }),
            ),
        }),
        rsa(
            clerk_header(),
            &with(&clerk_claims(now), json!({ "sub": shared_sub })),
        ),
    ]);
    let supabase = assert_accepted(&session_with(&function, &tokens[0]));
    let clerk = assert_accepted(&session_with(&function, &tokens[1]));
    assert_eq!(
        (supabase["namespace"].as_str(), supabase["subject"].as_str()),
        (Some("supabase"), Some(shared_sub))
    );
    assert_eq!(
        (clerk["namespace"].as_str(), clerk["subject"].as_str()),
        (Some("clerk"), Some(shared_sub))
    );
    assert!(
        server.requests() >= 1,
        "Supabase's derived JWKS URL was used"
    );
}

// --- Misconfigured --------------------------------------------------------

#[test]
fn a_misconfigured_preset_answers_misconfigured_naming_problem_and_fix_and_no_secret() {
    let secret_key = format!("sk_test_{}", unique_secret("clerk").replace('-', ""));
    let function = start(
        AUTH_SESSION,
        &[
            // Clerk's secret key pasted where the publishable key belongs.
            ("CLERK_PUBLISHABLE_KEY", &secret_key),
            ("COGNITO_USER_POOL_ID", "useast1_AbCdEf123"),
            ("COGNITO_CLIENT_ID", "4b7c2d9e1f3a5g6h8i0j2k4l6m"),
        ],
    );
    let response = session_with(&function, "irrelevant.token.value");
    let body = response.assert_problem(500, "misconfigured");
    let text = body.to_string();
    for fragment in [
        "CLERK_PUBLISHABLE_KEY",
        "is a secret key (sk_…), which must never be given to this API",
        "pk_test_… or pk_live_…",
        "COGNITO_USER_POOL_ID",
        "not a user pool id",
        "us-east-1_AbCdEf123",
    ] {
        assert!(text.contains(fragment), "lacks {fragment:?}: {body:#}");
    }
    assert!(
        !text.contains(&secret_key[8..]),
        "the secret key was returned"
    );
    assert!(
        !function.process.all_output().contains(&secret_key[8..]),
        "the secret key was logged"
    );
}
