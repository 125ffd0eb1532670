//! Property tests of every parser of the runtime that reads attacker bytes,
//! the same ones `fuzz/` drives with AFL++ (the tasks app's are in
//! `src/tasks/mod.rs`): whatever arrives, each answers with a value or
//! a refusal, never a panic, and what must round-trip does. Run with the
//! normal suite, so CI keeps them.

// Test code may unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gatehouse::auth::authjs;
use gatehouse::auth::better_auth::cookie_cache::{
    CookieCache, CookieCacheSettings, Strategy as CacheStrategy,
};
use gatehouse::auth::better_auth::database::{SessionSecrets, verify_signed};
use gatehouse::auth::credential;
use gatehouse::auth::jwt::claims::Claims;
use gatehouse::auth::jwt::keys;
use gatehouse::auth::pattern::PatternList;
use gatehouse::auth::token_kind;
use gatehouse::clock::numeric_date_secs;
use gatehouse::db::url::DatabaseUrl;
use gatehouse::http::public_suffix;
use gatehouse::secret::Secret;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

const SECRET: &str = "property-secret-0123456789abcdef-0123456789abcdef";

/// Text that looks like what each parser expects, and anything at all.
fn tokenish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_=.%+/-]{0,200}",
        "[a-zA-Z0-9_-]{0,40}\\.[a-zA-Z0-9_-]{0,80}\\.[a-zA-Z0-9_-]{0,60}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn headers_and_cookies_never_panic(value in "[ -~]{0,300}", name in "[a-z.-]{1,30}") {
        let names = vec!["better-auth.session_token".to_owned(), name.clone()];
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(http::header::AUTHORIZATION, value.clone());
            headers.insert(http::header::COOKIE, value.clone());
            headers.append(http::header::COOKIE, value);
        }
        let _ = credential::extract(&headers, &names);
        let _ = credential::parse_cookies(&headers);
        let _ = credential::cookie_names(&headers);
    }

    #[test]
    fn a_bearer_token_is_extracted_as_sent(token in "[A-Za-z0-9_.-]{1,200}") {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        let credential = credential::extract(&headers, &[]).unwrap();
        prop_assert_eq!(credential.token.expose(), token.as_str());
    }

    #[test]
    fn jwt_parts_never_panic(token in tokenish(), payload in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = token_kind::classify(&token);
        if let Ok(claims) = Claims::parse(&payload) {
            let _ = claims.string("sub");
            let _ = claims.number("exp");
            let _ = claims.whole_number("token_version");
            let _ = claims.strings("aud");
        }
    }

    #[test]
    fn numeric_dates_are_in_range_or_refused(value in any::<f64>()) {
        match numeric_date_secs(value) {
            Some(secs) => prop_assert!((0..=gatehouse::clock::MAX_NUMERIC_DATE).contains(&secs)),
            None => prop_assert!(!(0.0..=gatehouse::clock::MAX_NUMERIC_DATE as f64).contains(&value)),
        }
    }

    #[test]
    fn jwks_documents_never_panic(document in prop_oneof![
        any::<String>(),
        "\\{\"keys\":\\[\\{\"kty\":\"(RSA|EC|OKP|oct)\",\"crv\":\"[A-Za-z0-9-]{0,8}\",\"x\":\"[A-Za-z0-9_-]{0,60}\",\"y\":\"[A-Za-z0-9_-]{0,60}\",\"n\":\"[A-Za-z0-9_-]{0,80}\",\"e\":\"[A-Za-z0-9_-]{0,8}\",\"alg\":\"[A-Z0-9]{0,6}\"\\}\\]\\}",
    ]) {
        let _ = keys::from_jwks(document.as_bytes());
    }

    #[test]
    fn authjs_cookies_never_panic(token in tokenish()) {
        let secrets = [Secret::new(SECRET)];
        for name in [Some("authjs.session-token"), Some("next-auth.session-token"), None] {
            let _ = authjs::decrypt(&secrets, name, &token);
        }
    }

    #[test]
    fn better_auth_cookies_never_panic_and_only_signed_ones_verify(value in tokenish(), token in "[A-Za-z0-9]{1,64}") {
        let secrets = SessionSecrets::new(&[("1".to_owned(), Secret::new(SECRET))]);
        let _ = verify_signed(&value, &secrets);
        // A value signed with the secret verifies, and one bit off does not.
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
        let tag = aws_lc_rs::hmac::sign(&key, token.as_bytes());
        let signature = base64_standard(tag.as_ref());
        let signed = format!("{token}.{signature}");
        prop_assert!(verify_signed(&signed, &secrets).is_ok());
        let mut altered = tag.as_ref().to_vec();
        altered[0] ^= 1;
        let forged = format!("{token}.{}", base64_standard(&altered));
        prop_assert!(verify_signed(&forged, &secrets).is_err());
    }

    #[test]
    fn better_auth_cookie_caches_never_panic_and_nothing_unsigned_passes(
        value in tokenish(),
        json in prop_oneof![
            any::<String>(),
            "\\{\"session\":\\{[a-zA-Z\":,0-9{}]{0,120}\\},\"expiresAt\":[0-9e.+-]{0,16},\"signature\":\"[A-Za-z0-9_-]{0,44}\"\\}",
        ],
        now in 0i64..4_000_000_000,
    ) {
        let secrets = [("1".to_owned(), Secret::new(SECRET))];
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, json.as_bytes());
        for strategy in [CacheStrategy::Compact, CacheStrategy::Jwt, CacheStrategy::Jwe] {
            let cache = CookieCache::new(
                &CookieCacheSettings { strategy, version: "1".to_owned() },
                &secrets,
            );
            prop_assert!(cache.read(&value, "token", now).is_err());
            prop_assert!(cache.read(&encoded, "token", now).is_err());
        }
    }

    #[test]
    fn database_urls_never_panic_nor_show_their_password(
        raw in any::<String>(),
        password in "[A-Za-z0-9]{8,20}",
        host in "[a-z]{1,10}\\.[a-z]{2,5}",
    ) {
        let _ = DatabaseUrl::parse(&raw);
        let url = DatabaseUrl::parse(&format!("postgres://app:{password}@{host}:5432/db")).unwrap();
        let shown = format!("{} {:?}", url.display_target(), url);
        prop_assert!(!shown.contains(&password));
    }

    #[test]
    fn origin_patterns_never_panic_and_never_open_a_public_suffix(
        raw in any::<String>(),
        origin in "https?://[a-z0-9.*-]{1,40}(:[0-9]{1,5})?",
        label in "[a-z]{1,8}",
    ) {
        if let Ok(list) = PatternList::parse(&raw) {
            let _ = list.matches(&origin);
            for pattern in &list.0 {
                let _ = pattern.open_to_strangers();
            }
        }
        let _ = public_suffix::public_suffix(&origin);
        // A wildcard directly under a public suffix is always flagged; one
        // under a registrable domain never is.
        for suffix in ["vercel.app", "co.uk", "com", "github.io"] {
            let pattern = PatternList::parse(&format!("https://{label}-*.{suffix}")).unwrap();
            prop_assert!(pattern.0[0].open_to_strangers().is_some(), "{}", suffix);
        }
        let owned = PatternList::parse(&format!("https://*.{label}.example.com")).unwrap();
        prop_assert!(owned.0[0].open_to_strangers().is_none());
    }
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
