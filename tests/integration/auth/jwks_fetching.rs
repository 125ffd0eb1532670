//! How often the `auth-session` binary asks the JWKS endpoint, counted by
//! the endpoint itself: once for many tokens, once for many concurrent cold
//! requests, at most once per `JWKS_REFETCH_MIN_SECS` for a flood of unknown
//! kids, and never in a way that turns the endpoint's outage into refusals
//! of valid tokens.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::support::jwks_server::{JwksServer, Reply};
use crate::support::mint::jose;

#[test]
fn many_requests_cause_one_fetch_even_with_no_store() {
    let server = JwksServer::start(Reply::jwks(&standard_keys()).with_cache_control("no-store"));
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[]);
    let tokens = jose(&[
        spec("RS256", KID_RSA, &claims("many-1")),
        spec("ES256", KID_P256, &claims("many-2")),
        spec("EdDSA", KID_ED_A, &claims("many-3")),
    ]);
    for round in 0..20 {
        for token in &tokens {
            let response = session_with(&function, token);
            assert_eq!(response.status, 200, "round {round}: {response}");
        }
    }
    assert_eq!(server.requests(), 1, "60 requests, one JWKS fetch");
}

#[test]
fn sixteen_concurrent_cold_requests_cause_one_fetch() {
    // A slow endpoint, so every request arrives while the first fetch is
    // still in flight.
    let server =
        JwksServer::start(Reply::jwks(&standard_keys()).with_delay(Duration::from_millis(400)));
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[]);
    let token = jose(&[spec("PS256", KID_PS, &claims("concurrent"))]).remove(0);
    let addr = function.addr();
    let barrier = Arc::new(Barrier::new(16));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let barrier = barrier.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                barrier.wait();
                crate::support::http_client::get(
                    addr,
                    SESSION,
                    &[("authorization", &bearer(&token))],
                )
            })
        })
        .collect();
    for worker in workers {
        let response = worker.join().unwrap();
        assert_eq!(response.status, 200, "{response}");
    }
    assert_eq!(server.requests(), 1, "single flight: one fetch for 16");
}

#[test]
fn a_flood_of_unknown_kids_refetches_at_most_once_per_interval() {
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[]);
    let mut specs = vec![spec("RS256", KID_RSA, &claims("flood-valid"))];
    for n in 0..60 {
        // Valid signatures by a real key, under kids the JWKS never had.
        specs.push(mint::pem_spec(
            "EdDSA",
            "ed25519-b.key.pem",
            Some(&format!("made-up-{n}")),
            &claims("flood"),
        ));
    }
    let tokens = jose(&specs);

    let started = Instant::now();
    assert_accepted(&session_with(&function, &tokens[0]));
    for token in &tokens[1..] {
        let response = session_with(&function, token);
        assert_refused(&response, "key_not_found", &["made-up-"], &[]);
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let fetches = server.requests();
    let bound = 1 + elapsed.floor() as usize;
    assert!(
        fetches <= bound,
        "{fetches} fetches in {elapsed:.1} s with JWKS_REFETCH_MIN_SECS=1 (bound {bound})"
    );
    assert!(
        fetches >= 2,
        "an unknown kid past the interval must refetch (the issuer may have rotated): {fetches} fetch(es) in {elapsed:.1} s"
    );
    // The known key still works.
    assert_accepted(&session_with(&function, &tokens[0]));
}

#[test]
fn keys_keep_verifying_while_the_endpoint_fails_even_past_their_ttl() {
    // Fresh for 60 s, as the issuer says (and the shortest TTL allowed).
    let server = JwksServer::start(Reply::jwks(&standard_keys()).with_cache_control("max-age=60"));
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[]);
    let tokens = jose(&[
        spec(
            "EdDSA",
            KID_ED_A,
            &with(&claims("stale"), json!({"exp": now() + 900})),
        ),
        mint::pem_spec(
            "EdDSA",
            "ed25519-b.key.pem",
            Some(KID_ED_B),
            &claims("stale-new-kid"),
        ),
    ]);
    assert_accepted(&session_with(&function, &tokens[0]));
    assert_eq!(server.requests(), 1);

    server.set(Reply::status(500));
    std::thread::sleep(Duration::from_millis(1200));
    // A kid we do not hold while the endpoint fails may exist there: that is
    // our outage (503), not a bad token (401).
    let response = session_with(&function, &tokens[1]);
    assert_refused(
        &response,
        "jwks_unavailable",
        &["HTTP 500", "auth server is failing"],
        &["not your token"],
    );
    assert_eq!(server.requests(), 2, "the unknown kid caused one refetch");
    assert_accepted(&session_with(&function, &tokens[0]));

    // Past the keys' TTL (60 s, the minimum) the function tries to refresh,
    // fails, and keeps serving the keys it has: every answer is a 200.
    let deadline = Instant::now() + Duration::from_secs(64);
    let mut answers = 0;
    while Instant::now() < deadline {
        let response = session_with(&function, &tokens[0]);
        assert_eq!(
            response.status, 200,
            "a valid token must not be refused while the JWKS endpoint fails: {response}"
        );
        answers += 1;
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(answers >= 30);
    // Fetched at 0 s (TTL 60 s) and 1.2 s (the unknown kid); after expiry at
    // most one retry per request (one every 2 s, ~61 s to ~66 s).
    let retries = server.requests() - 2;
    assert!(
        (1..=4).contains(&retries),
        "expired keys are refreshed, failures tolerated, retries bounded: {retries} retries"
    );

    // The endpoint recovers: the new key is picked up.
    server.set(Reply::jwks(&[jwk(KID_ED_A), jwk(KID_ED_B)]));
    std::thread::sleep(Duration::from_millis(1200));
    let principal = assert_accepted(&session_with(&function, &tokens[1]));
    assert_eq!(principal["key_id"], KID_ED_B);
}

/// A signature verified once is not checked again on the next request
/// (`auth/jwt/verified_signatures.rs`), but only while the very key that
/// verified it is still the issuer's: when the JWKS publishes other key
/// material under the same kid (a key rotated in place, or a compromised
/// key replaced), the token that verified before is checked again with the
/// new key and refused, on the first request after the refresh.
#[test]
fn a_token_verified_before_is_refused_once_its_key_is_replaced_under_the_same_kid() {
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[]);
    let tokens = jose(&[
        spec("EdDSA", KID_ED_A, &claims("replaced")),
        // Signed by key `b` under a kid the JWKS does not have yet: asking
        // with it makes the function refetch.
        mint::pem_spec(
            "EdDSA",
            "ed25519-b.key.pem",
            Some("trigger-refetch"),
            &claims("trigger"),
        ),
    ]);
    for _ in 0..3 {
        assert_accepted(&session_with(&function, &tokens[0]));
    }
    assert_eq!(server.requests(), 1);

    // The same kid, now with key `b`'s public half.
    let mut replaced = jwk(KID_ED_B);
    replaced["kid"] = json!(KID_ED_A);
    let mut keys: Vec<_> = standard_keys()
        .into_iter()
        .filter(|key| key["kid"] != KID_ED_A)
        .collect();
    keys.push(replaced);
    server.set(Reply::jwks(&keys));
    std::thread::sleep(Duration::from_millis(1100));
    assert_refused(
        &session_with(&function, &tokens[1]),
        "key_not_found",
        &["trigger-refetch"],
        &[],
    );
    assert_eq!(server.requests(), 2, "the unknown kid refetched the JWKS");
    assert_refused(
        &session_with(&function, &tokens[0]),
        "signature_invalid",
        &[],
        &[],
    );
}
