//! The cost of Gatehouse's whole check (credential extraction, token
//! recognition, header and claims parsing, issuer/audience/time checks,
//! principal) next to the raw signature verification it wraps, per
//! algorithm. Run: `cargo bench -p gatehouse --bench verify`.
//!
//! Rounds alternate between raw and full so machine noise hits both alike;
//! the medians of the rounds are compared. Every timed check is of a token
//! the process has not seen (each round mints its own), since a signature
//! already verified is not verified again
//! (`auth/jwt/verified_signatures.rs`); the last column shows what a token
//! seen before costs, the case of a client sending its token again.

// A benchmark fails on bad setup the way a test does: by panicking.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::time::Instant;

use gatehouse::auth::Authenticator;
use gatehouse::config::{Config, Env, Needs};
use gatehouse::outbound::Outbound;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
const SECRET: &str = "bench-shared-secret-of-at-least-32-bytes!!";
/// Rounds per algorithm; `VERIFY_BENCH_ROUNDS` lowers it for profiling runs
/// (`valgrind --tool=callgrind`), `VERIFY_BENCH_ONLY=RS256` picks one algorithm.
const ROUNDS: usize = 15;
/// The target: Gatehouse's whole check costs at most this much more than the
/// raw signature verification it wraps (median of the rounds), for
/// public-key algorithms. An HMAC takes under a microsecond, so a share of it
/// says nothing: HS256 shows its absolute overhead, with no target.
const MAX_OVERHEAD_PERCENT: f64 = 10.0;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}"))
        .unwrap_or_else(|err| panic!("fixture {name}: {err}"))
}

fn jwk(name: &str, kid: &str, alg: &str) -> Value {
    let mut jwk: Value = serde_json::from_str(&fixture(name)).expect("jwk json");
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg);
    jwk
}

struct Case {
    name: &'static str,
    alg: Algorithm,
    kid: &'static str,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

fn cases() -> (Vec<Case>, Value) {
    let rsa_pem = fixture("rsa-2048.key.pem");
    let keys = vec![
        jwk("rsa-2048.jwk.json", "rs", "RS256"),
        jwk("rsa-2048.jwk.json", "ps", "PS256"),
        jwk("ec-p256.jwk.json", "es256", "ES256"),
        jwk("ec-p384.jwk.json", "es384", "ES384"),
        jwk("ed25519-a.jwk.json", "ed", "EdDSA"),
    ];
    let decoding = |index: usize| {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys[index].clone()).expect("jwk");
        DecodingKey::from_jwk(&jwk).expect("decoding key")
    };
    let cases = vec![
        Case {
            name: "EdDSA",
            alg: Algorithm::EdDSA,
            kid: "ed",
            encoding: EncodingKey::from_ed_pem(fixture("ed25519-a.key.pem").as_bytes())
                .expect("ed"),
            decoding: decoding(4),
        },
        Case {
            name: "RS256",
            alg: Algorithm::RS256,
            kid: "rs",
            encoding: EncodingKey::from_rsa_pem(rsa_pem.as_bytes()).expect("rsa"),
            decoding: decoding(0),
        },
        Case {
            name: "PS256",
            alg: Algorithm::PS256,
            kid: "ps",
            encoding: EncodingKey::from_rsa_pem(rsa_pem.as_bytes()).expect("rsa"),
            decoding: decoding(1),
        },
        Case {
            name: "ES256",
            alg: Algorithm::ES256,
            kid: "es256",
            encoding: EncodingKey::from_ec_pem(fixture("ec-p256.key.pem").as_bytes())
                .expect("p256"),
            decoding: decoding(2),
        },
        Case {
            name: "ES384",
            alg: Algorithm::ES384,
            kid: "es384",
            encoding: EncodingKey::from_ec_pem(fixture("ec-p384.key.pem").as_bytes())
                .expect("p384"),
            decoding: decoding(3),
        },
        Case {
            name: "HS256",
            alg: Algorithm::HS256,
            kid: "",
            encoding: EncodingKey::from_secret(SECRET.as_bytes()).expect("hmac key"),
            decoding: DecodingKey::from_secret(SECRET.as_bytes()).expect("hmac key"),
        },
    ];
    (cases, json!({ "keys": keys }))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let (cases, jwks) = cases();
    let issuers = json!([{
        "name": "bench",
        "issuer": "https://issuer.bench",
        "public_keys": jwks.to_string(),
        "audiences": ["https://api.bench"],
    }]);
    let env = Env::from_pairs([
        ("JWT_TRUSTED_ISSUERS", issuers.to_string()),
        ("JWT_SECRET", SECRET.to_owned()),
        ("JWT_SECRET_ISSUER", "https://issuer.bench".to_owned()),
        ("JWT_SECRET_AUDIENCE", "https://api.bench".to_owned()),
    ]);
    let config = Config::load(&env, Needs::AUTH)
        .unwrap_or_else(|errors| panic!("bench configuration: {errors}"));
    let authenticator = Authenticator::new(
        config.auth,
        &Outbound::new(),
        std::sync::Arc::new(gatehouse::db::LazyDatabase::new(None)),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let now = gatehouse::clock::unix_now();

    println!(
        "| algorithm | raw signature verify (µs) | Gatehouse full check (µs) | overhead (median) | overhead spread (p10..p90 of rounds) | ≤ {MAX_OVERHEAD_PERCENT}% | full check, token seen before (µs) |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|");
    let mut missed = Vec::new();
    let rounds = std::env::var("VERIFY_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    let only = std::env::var("VERIFY_BENCH_ONLY").ok();
    for case in cases
        .iter()
        .filter(|case| only.as_deref().is_none_or(|name| name == case.name))
    {
        let mut header = Header::new(case.alg);
        if !case.kid.is_empty() {
            header.kid = Some(case.kid.to_owned());
        }
        // `n` makes each token of a round its own bytes.
        let mint = |n: usize| {
            let claims = json!({
                "sub": "user-123", "iss": "https://issuer.bench", "aud": "https://api.bench",
                "iat": now, "exp": now + 900, "email": "user@example.com", "name": "Bench User",
                "jti": format!("bench-{n}"),
            });
            let token = jsonwebtoken::encode(&header, &claims, &case.encoding).expect("encode");
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::AUTHORIZATION,
                format!("Bearer {token}").parse().expect("header"),
            );
            (token, headers)
        };
        let (token, headers) = mint(usize::MAX);
        let (signing_input, signature) = token.rsplit_once('.').expect("three parts");

        // Sanity: both paths accept the token before anything is timed.
        assert!(
            jsonwebtoken::crypto::verify(
                signature,
                signing_input.as_bytes(),
                &case.decoding,
                case.alg
            )
            .expect("raw")
        );
        runtime
            .block_on(authenticator.authenticate_at(&headers, now))
            .unwrap_or_else(|refusal| {
                panic!(
                    "{}: refused {:?}: {}",
                    case.name, refusal.reason, refusal.detail
                )
            });

        let iterations = if case.alg == Algorithm::HS256 {
            20_000
        } else {
            2_000
        };
        let (mut raw, mut full, mut seen) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let tokens: Vec<_> = (0..iterations)
                .map(|n| mint(round * iterations + n))
                .collect();
            let started = Instant::now();
            for (token, _) in &tokens {
                let (signing_input, signature) = token.rsplit_once('.').expect("three parts");
                let ok = jsonwebtoken::crypto::verify(
                    signature,
                    signing_input.as_bytes(),
                    &case.decoding,
                    case.alg,
                );
                std::hint::black_box(ok).ok();
            }
            raw.push(started.elapsed().as_secs_f64() * 1e6 / iterations as f64);

            let started = Instant::now();
            runtime.block_on(async {
                for (_, headers) in &tokens {
                    std::hint::black_box(authenticator.authenticate_at(headers, now).await).ok();
                }
            });
            full.push(started.elapsed().as_secs_f64() * 1e6 / iterations as f64);

            let started = Instant::now();
            runtime.block_on(async {
                for _ in 0..iterations {
                    std::hint::black_box(authenticator.authenticate_at(&headers, now).await).ok();
                }
            });
            seen.push(started.elapsed().as_secs_f64() * 1e6 / iterations as f64);
        }
        // Per round, then across rounds: how stable the verdict is.
        let mut per_round: Vec<f64> = raw
            .iter()
            .zip(&full)
            .map(|(raw, full)| (full - raw) / raw * 100.0)
            .collect();
        per_round.sort_by(f64::total_cmp);
        let at = |q: f64| per_round[((per_round.len() - 1) as f64 * q).round() as usize];
        let (low, high) = (at(0.1), at(0.9));
        let (raw, full, seen) = (median(raw), median(full), median(seen));
        let overhead = (full - raw) / raw * 100.0;
        let verdict = if case.alg == Algorithm::HS256 {
            format!("no target ({:+.2} µs absolute)", full - raw)
        } else if overhead <= MAX_OVERHEAD_PERCENT {
            "met".to_owned()
        } else {
            missed.push(case.name);
            "MISSED".to_owned()
        };
        println!(
            "| {} | {raw:.2} | {full:.2} | {overhead:+.1}% | {low:+.1}%..{high:+.1}% | {verdict} | {seen:.2} |",
            case.name,
        );
    }
    if missed.is_empty() {
        println!(
            "\nverdict: the whole check is within {MAX_OVERHEAD_PERCENT}% of the raw signature check for every public-key algorithm"
        );
    } else {
        println!(
            "\nverdict: over {MAX_OVERHEAD_PERCENT}% for {}",
            missed.join(", ")
        );
    }
}
