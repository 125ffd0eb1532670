//! One contract, every credential kind. As tower-sessions runs one suite over
//! every session store, each kind of credential Gatehouse accepts goes
//! through the same cases in the real `auth-session` binary under the Vercel
//! protocol, with credentials made by the real minters (`jose`, PyJWT,
//! `@auth/core`, a Better Auth 1.7 server, `gatehouse api-keys`,
//! `POST /api/auth/exchange`): accepted, expired, signed or sealed with the
//! wrong secret or key, malformed, and revoked the kind's real way. Each
//! refusal is checked in the response and in its one log event, which has
//! the same fields for every kind and never the credential or a secret.
//!
//! [`CONTRACT`] is the whole contract at a glance. A kind's fixtures (a
//! [`Kind`]) only make its deployment and its credentials; the assertions
//! are the same for all. A row without fixtures or without a test fails
//! [`every_row_has_fixtures_and_a_test_and_every_kind_a_row`].

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api_keys::{cli, create_key, tampered};
use super::better_auth::{BetterAuth, sign_in, sign_up_and_in};
use super::logs::FIXED_FIELDS;
use super::*;
use crate::support::db::TestDb;
use crate::support::function::{VercelFunction, block_on};
use crate::support::http_client::{Response, get, send};
use crate::support::jwks_server::{JwksServer, Reply};
use crate::support::mint::{authjs, jose, pem_spec, pyjwt, secret_spec};

const AUTH_REVOKE: &str = super::sessions::AUTH_REVOKE;
const AUTH_EXCHANGE: &str = env!("CARGO_BIN_EXE_auth-exchange");

/// A kind's whole run (servers, minters, every case) must end within this.
/// Every wait inside is bounded on its own (process start-up, responses,
/// minters, the CLI); this catches a run that is slow without hanging.
const BUDGET: Duration = Duration::from_secs(150);

/// The cell of a case a kind cannot express at all. Its fixtures list the
/// case in `unsupported`, and the suite checks that the two agree.
const UNSUPPORTED: &str = "unsupported";

/// What one kind answers. Every refusal is a 401 with a `detail` and a
/// `hint`, and one `gatehouse::auth::refusal` event.
struct Row {
    /// The principal's `method`.
    method: &'static str,
    /// The principal's `namespace`: its identity is `namespace:subject`.
    namespace: &'static str,
    /// The refusal event's `token_kind` for a credential recognised as
    /// this kind (expired, wrong secret or key, revoked).
    token_kind: &'static str,
    expired: &'static str,
    wrong_key: &'static str,
    malformed: &'static str,
    revoked: &'static str,
    /// The refusal event's `token_kind` for the malformed one: a value cut
    /// short is mostly no longer recognisable as its kind.
    malformed_kind: &'static str,
}

#[allow(clippy::too_many_arguments)]
const fn row(
    method: &'static str,
    namespace: &'static str,
    token_kind: &'static str,
    expired: &'static str,
    wrong_key: &'static str,
    malformed: &'static str,
    revoked: &'static str,
    malformed_kind: &'static str,
) -> Row {
    Row {
        method,
        namespace,
        token_kind,
        expired,
        wrong_key,
        malformed,
        revoked,
        malformed_kind,
    }
}

/// The contract. Accepted: 200, `principal.method` = method, the fixture's
/// subject in `namespace`. Each other column: the refusal reason (401).
#[rustfmt::skip]
const CONTRACT: [Row; 8] = [
    //  method                  namespace         token_kind              expired               wrong secret or key          malformed           revoked               malformed's token_kind
    row("jwt_jwks",             "jwt",            "jwt",                  "token_expired",      "signature_invalid",         "token_malformed",  "token_revoked",      "malformed"),
    row("jwt_static_key",       "jwt",            "jwt",                  "token_expired",      "signature_invalid",         "token_malformed",  "token_revoked",      "malformed"),
    row("jwt_shared_secret",    "shared-secret",  "jwt",                  "token_expired",      "signature_invalid",         "token_malformed",  "token_revoked",      "malformed"),
    // Revoking deletes Better Auth's session row (a sign-out there), so the
    // token then names no session.
    row("better_auth_session",  "better-auth",    "better_auth_session",  "session_expired",    "cookie_signature_invalid",  "token_malformed",  "session_not_found",  "malformed"),
    // Expired: the auth server answers get-session for an expired session
    // with `null`, as for any unknown one; it never says "expired".
    row("better_auth_remote",   "better-auth",    "better_auth_session",  "session_not_found",  "cookie_signature_invalid",  "token_malformed",  "token_revoked",      "malformed"),
    row("authjs_session",       "authjs",         "authjs_session",       "token_expired",      "token_decryption_failed",   "token_malformed",  "token_revoked",      "malformed"),
    // One reason for every bad key; only the detail tells them apart.
    row("api_key",              "api-key",        "api_key",              "api_key_invalid",    "api_key_invalid",           "api_key_invalid",  "api_key_invalid",    "api_key"),
    // Exchanged for a shared-secret JWT, whose namespace it keeps; revoking
    // deletes its row. A `gs_` token cut short is just an opaque token.
    row("gatehouse_session",    "shared-secret",  "gatehouse_session",    "session_expired",    "signature_invalid",         "token_malformed",  "session_not_found",  "opaque"),
];

/// Where a kind answers differently from [`CONTRACT`] today: product bugs,
/// reported and not fixed here. The suite asserts the answer given, so a
/// fix fails it until its line is removed; nothing drifts unseen.
struct Discrepancy {
    method: &'static str,
    case: Case,
    /// `reason`, or the event's `token_kind`.
    field: &'static str,
    /// What [`CONTRACT`] says.
    contract: &'static str,
    /// What the kind answers.
    actual: &'static str,
}

/// Where a kind answers otherwise than [`CONTRACT`]: none. (The suite's
/// first run found one: a revoked JWT's event said `token_kind: ""`, its
/// facts being recorded only when the JWT verifier itself refused; the
/// authenticator now records them for a refusal after it too.) A new line
/// here is a known bug, kept visible until it is fixed.
#[rustfmt::skip]
const DISCREPANCIES: [Discrepancy; 0] = [];

/// The cases besides the accepted credential, in the order they run:
/// `Revoked` last, since it ends the accepted credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Expired,
    WrongKey,
    Malformed,
    Revoked,
}

const CASES: [Case; 4] = [
    Case::Expired,
    Case::WrongKey,
    Case::Malformed,
    Case::Revoked,
];

impl Row {
    fn expected(&self, case: Case) -> &'static str {
        match case {
            Case::Expired => self.expired,
            Case::WrongKey => self.wrong_key,
            Case::Malformed => self.malformed,
            Case::Revoked => self.revoked,
        }
    }

    /// What [`CONTRACT`] says of `field` (`reason` or `token_kind`).
    fn contract(&self, case: Case, field: &str) -> &'static str {
        match (field, case) {
            ("reason", _) => self.expected(case),
            ("token_kind", Case::Malformed) => self.malformed_kind,
            ("token_kind", _) => self.token_kind,
            _ => panic!("the contract has no field {field}"),
        }
    }

    /// What the kind answers for `field`: the contract, unless a
    /// [`DISCREPANCIES`] line says otherwise.
    fn answer(&self, case: Case, field: &str) -> &'static str {
        DISCREPANCIES
            .iter()
            .find(|d| d.method == self.method && d.case == case && d.field == field)
            .map_or_else(|| self.contract(case, field), |d| d.actual)
    }
}

/// One `#[test]` per kind, named after its method, and the list of them.
macro_rules! contract_tests {
    ($($method:ident),* $(,)?) => {
        $(
            #[test]
            fn $method() {
                run(stringify!($method));
            }
        )*
        /// The kinds a test above runs the contract for.
        const TESTED: &[&str] = &[$(stringify!($method)),*];
    };
}

contract_tests!(
    jwt_jwks,
    jwt_static_key,
    jwt_shared_secret,
    better_auth_session,
    better_auth_remote,
    authjs_session,
    api_key,
    gatehouse_session,
);

/// How a kind's fixtures are made, and the cases it cannot express.
struct Fixtures {
    build: Build,
    /// Cases the kind has no notion of, even approximately; the table
    /// marks them [`UNSUPPORTED`]. Empty for every kind today: where a
    /// kind lacks a case in name, its fixtures use the closest real
    /// equivalent and say why.
    unsupported: &'static [Case],
}

/// Builds a kind's fixtures.
type Build = fn() -> Box<dyn Kind>;

fn fixtures(method: &str) -> Option<Fixtures> {
    let (build, unsupported): (Build, &'static [Case]) = match method {
        "jwt_jwks" => (|| Box::new(Jwt::jwks()), &[]),
        "jwt_static_key" => (|| Box::new(Jwt::static_key()), &[]),
        "jwt_shared_secret" => (|| Box::new(Jwt::shared_secret()), &[]),
        "better_auth_session" => (|| Box::new(BetterAuthSession::in_database()), &[]),
        "better_auth_remote" => (|| Box::new(BetterAuthSession::remote()), &[]),
        "authjs_session" => (|| Box::new(AuthJs::new()), &[]),
        "api_key" => (|| Box::new(ApiKey::new()), &[]),
        "gatehouse_session" => (|| Box::new(ApiSession::new()), &[]),
        _ => return None,
    };
    Some(Fixtures { build, unsupported })
}

/// Where a credential travels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Bearer,
    Cookie(&'static str),
    ApiKeyHeader,
}

/// A credential as a client sends it.
#[derive(Clone)]
struct Credential {
    carrier: Carrier,
    /// What the carrier holds: a token, a cookie's value, a key. Never in
    /// any output; logged only as its fingerprint.
    value: String,
}

impl Credential {
    fn new(carrier: Carrier, value: String) -> Credential {
        Credential { carrier, value }
    }

    /// The same carrier holding `value`.
    fn holding(&self, value: String) -> Credential {
        Credential::new(self.carrier, value)
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        match self.carrier {
            Carrier::Bearer => vec![("authorization", bearer(&self.value))],
            Carrier::Cookie(name) => vec![("cookie", format!("{name}={}", self.value))],
            Carrier::ApiKeyHeader => vec![("x-api-key", self.value.clone())],
        }
    }

    /// The principal's and the refusal event's `credential_source`.
    fn source(&self) -> String {
        match self.carrier {
            Carrier::Bearer => "authorization_header".to_owned(),
            Carrier::Cookie(name) => format!("cookie:{name}"),
            Carrier::ApiKeyHeader => "x-api-key_header".to_owned(),
        }
    }

    /// The refusal event's `cookies_present`.
    fn cookies_present(&self) -> &'static str {
        match self.carrier {
            Carrier::Cookie(name) => name,
            _ => "",
        }
    }
}

/// What the fixtures get to revoke a credential through the API.
struct Harness<'a> {
    row: &'a Row,
    /// `auth-revoke`, with the environment of the function under test.
    revoker: &'a VercelFunction,
    /// The accepted credential's subject.
    subject: &'a str,
}

/// A credential kind's fixtures: the deployment that accepts it, and its
/// credentials, made by the minters the kind's own tests use.
trait Kind {
    /// The environment of `auth-session` and `auth-revoke`.
    fn env(&self) -> Vec<(String, String)>;

    /// A credential the deployment accepts, and the subject it names.
    fn accepted(&mut self) -> (Credential, String);

    /// The credential for `case`: for [`Case::Revoked`], `accepted` once
    /// revoked the kind's real way. `None` only for an unsupported case.
    fn produce(
        &mut self,
        case: Case,
        accepted: &Credential,
        harness: &Harness<'_>,
    ) -> Option<Credential>;

    /// Values that must never reach any output: the secrets the deployment
    /// and the minters hold, and secret parts of credentials.
    fn secrets(&self) -> Vec<String>;

    /// The output of processes the fixtures started (for the leak check).
    fn other_output(&self) -> String {
        String::new()
    }
}

/// A fresh database with Gatehouse's migrations (revocations live there).
fn migrated() -> TestDb {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    db
}

fn pairs(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn start_env(program: &str, env: &[(String, String)]) -> VercelFunction {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start(program, &env)
}

#[track_caller]
fn present(function: &VercelFunction, credential: &Credential) -> Response {
    let headers = credential.headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    get(function.addr(), SESSION, &headers)
}

/// `POST /api/auth/revoke` with the credential itself, as a client signs
/// out of this API. The route names the kind and the subject, and the
/// revocation is stored under the namespace-qualified identity.
#[track_caller]
fn revoke_through_the_route(harness: &Harness<'_>, credential: &Credential, db: &TestDb) {
    let headers = credential.headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let response = send(
        harness.revoker.addr(),
        "POST",
        "/api/auth/revoke",
        &headers,
        "",
    );
    assert_eq!(response.status, 200, "{}: {response}", harness.row.method);
    let body = response.json();
    assert_eq!(body["method"], harness.row.method, "{response}");
    assert_eq!(body["subject"], harness.subject, "{response}");
    let identity = format!("{}:{}", harness.row.namespace, harness.subject);
    let stored = block_on(db.count(&format!(
        "SELECT count(*) FROM gatehouse_revoked_tokens WHERE subject = '{}'",
        identity.replace('\'', "''")
    )));
    assert_eq!(stored, 1, "one revocation stored for {identity}");
    // Another process (the checker) refuses it within REVOCATION_SYNC_MS.
    std::thread::sleep(std::time::Duration::from_millis(REVOCATION_SYNC_MS));
}

/// The deployment's `REVOCATION_SYNC_MS`.
const REVOCATION_SYNC_MS: u64 = 100;

/// `value` without its last `.`-separated part: a JWS or JWE cut short.
fn without_last_segment(value: &str) -> String {
    let (head, _) = value
        .rsplit_once('.')
        .unwrap_or_else(|| panic!("a JWS or JWE has dots"));
    head.to_owned()
}

/// `value` without its last 12 characters: a cookie or key cut short, as
/// a truncated copy or a proxy's limit leaves it.
fn cut_short(value: &str) -> String {
    value[..value.len() - 12].to_owned()
}

// ---------------------------------------------------------------------------
// The fixtures.

/// The JWT kinds. Tokens are minted by `jose` (asymmetric) or PyJWT
/// (shared secret) when the fixtures are built.
struct Jwt {
    env: Vec<(String, String)>,
    /// Revocations live here.
    db: TestDb,
    _jwks: Option<JwksServer>,
    secrets: Vec<String>,
    subject: String,
    accepted: String,
    expired: String,
    wrong_key: String,
}

/// Claims of a token that expired an hour ago, issued two hours ago.
fn expired_claims(sub: &str) -> Value {
    let now = now();
    with(
        &claims(sub),
        json!({ "iat": now - 7200, "exp": now - 3600 }),
    )
}

impl Jwt {
    /// `JWT_JWKS_URL` on a loopback JWKS endpoint. The wrong key: Ed25519
    /// key `b` signing under the kid of the published key `a`.
    fn jwks() -> Jwt {
        let server = JwksServer::start(Reply::jwks(&standard_keys()));
        let db = migrated();
        let subject = "contract-jwks".to_owned();
        let env = pairs(&[
            ("JWT_JWKS_URL", &server.url()),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("JWKS_REFETCH_MIN_SECS", "1"),
            ("DATABASE_URL", &db.url),
        ]);
        let [accepted, expired, wrong_key] = three(jose(&[
            spec("EdDSA", KID_ED_A, &claims(&subject)),
            spec("EdDSA", KID_ED_A, &expired_claims(&subject)),
            pem_spec(
                "EdDSA",
                "ed25519-b.key.pem",
                Some(KID_ED_A),
                &claims(&subject),
            ),
        ]));
        Jwt {
            env,
            db,
            _jwks: Some(server),
            secrets: Vec::new(),
            subject,
            accepted,
            expired,
            wrong_key,
        }
    }

    /// `JWT_PUBLIC_KEYS` holding one key inline (Ed25519 `a`), as a JWKS
    /// document: the form it takes (a PEM is refused at cold start, its
    /// algorithm unknown). The wrong key: Ed25519 `b` under `a`'s kid.
    fn static_key() -> Jwt {
        let db = migrated();
        let subject = "contract-static".to_owned();
        let keys = json!({ "keys": [jwk(KID_ED_A)] }).to_string();
        let env = pairs(&[
            ("JWT_PUBLIC_KEYS", &keys),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("DATABASE_URL", &db.url),
        ]);
        let [accepted, expired, wrong_key] = three(jose(&[
            spec("EdDSA", KID_ED_A, &claims(&subject)),
            spec("EdDSA", KID_ED_A, &expired_claims(&subject)),
            pem_spec(
                "EdDSA",
                "ed25519-b.key.pem",
                Some(KID_ED_A),
                &claims(&subject),
            ),
        ]));
        Jwt {
            env,
            db,
            _jwks: None,
            secrets: Vec::new(),
            subject,
            accepted,
            expired,
            wrong_key,
        }
    }

    /// `JWT_SECRET`, tokens from PyJWT. The wrong secret: another service's.
    fn shared_secret() -> Jwt {
        let db = migrated();
        let subject = "contract-hmac".to_owned();
        let secret = unique_secret("contract-hmac");
        let foreign = unique_secret("contract-foreign");
        let env = pairs(&[
            ("JWT_SECRET", &secret),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("DATABASE_URL", &db.url),
        ]);
        let [accepted, expired, wrong_key] = three(pyjwt(&[
            secret_spec("HS256", &secret, &claims(&subject)),
            secret_spec("HS256", &secret, &expired_claims(&subject)),
            secret_spec("HS256", &foreign, &claims(&subject)),
        ]));
        Jwt {
            env,
            db,
            _jwks: None,
            secrets: vec![secret, foreign],
            subject,
            accepted,
            expired,
            wrong_key,
        }
    }
}

fn three(tokens: Vec<String>) -> [String; 3] {
    <[String; 3]>::try_from(tokens).unwrap_or_else(|_| panic!("three tokens"))
}

impl Kind for Jwt {
    fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }

    fn accepted(&mut self) -> (Credential, String) {
        (
            Credential::new(Carrier::Bearer, self.accepted.clone()),
            self.subject.clone(),
        )
    }

    fn produce(
        &mut self,
        case: Case,
        accepted: &Credential,
        harness: &Harness<'_>,
    ) -> Option<Credential> {
        Some(match case {
            Case::Expired => accepted.holding(self.expired.clone()),
            Case::WrongKey => accepted.holding(self.wrong_key.clone()),
            // Its signature dropped: two segments.
            Case::Malformed => accepted.holding(without_last_segment(&accepted.value)),
            Case::Revoked => {
                revoke_through_the_route(harness, accepted, &self.db);
                accepted.clone()
            }
        })
    }

    fn secrets(&self) -> Vec<String> {
        self.secrets.clone()
    }
}

const BETTER_AUTH_COOKIE: &str = "better-auth.session_token";

/// A Better Auth session of a real Better Auth server, in the cookie its
/// browser holds: read from its database, or validated by the server
/// (`AUTH_SERVER_URL`, with Gatehouse's own database for revocations).
struct BetterAuthSession {
    server: BetterAuth,
    /// Gatehouse's database in remote mode (none: Better Auth's, migrated).
    own_db: Option<TestDb>,
    email: &'static str,
    user_id: String,
    wrong_secret: String,
    /// Session tokens handed out (secret parts of the cookies).
    tokens: Vec<String>,
}

impl BetterAuthSession {
    fn in_database() -> BetterAuthSession {
        let server = BetterAuth::start();
        block_on(server.db.migrate());
        BetterAuthSession::with(server, None, "contract-db@example.com")
    }

    fn remote() -> BetterAuthSession {
        let server = BetterAuth::start();
        BetterAuthSession::with(server, Some(migrated()), "contract-remote@example.com")
    }

    fn with(server: BetterAuth, own_db: Option<TestDb>, email: &'static str) -> Self {
        BetterAuthSession {
            server,
            own_db,
            email,
            user_id: String::new(),
            wrong_secret: unique_secret("contract-better-auth-wrong"),
            tokens: Vec::new(),
        }
    }

    /// Gatehouse's database: where revocations are stored.
    fn db(&self) -> &TestDb {
        self.own_db.as_ref().unwrap_or(&self.server.db)
    }

    /// The cookie of a `SignedIn`, remembering its token.
    fn credential(&mut self, cookie: &str) -> Credential {
        let (_, value) = cookie.split_once('=').expect("name=value");
        self.tokens.push(token_part(value));
        Credential::new(Carrier::Cookie(BETTER_AUTH_COOKIE), value.to_owned())
    }
}

/// The session token of a signed cookie value (`<token>.<signature>`).
fn token_part(value: &str) -> String {
    value.split('.').next().unwrap_or_default().to_owned()
}

/// `token` signed as Better Auth signs its cookie, with `secret`, and
/// URL-encoded as the cookie holds it.
fn signed_cookie_value(token: &str, secret: &str) -> String {
    use aws_lc_rs::hmac;
    use base64::engine::general_purpose::STANDARD;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signature = STANDARD.encode(hmac::sign(&key, token.as_bytes()));
    format!("{token}.{signature}")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

impl Kind for BetterAuthSession {
    fn env(&self) -> Vec<(String, String)> {
        let secret = self.server.secret.as_str();
        match &self.own_db {
            None => pairs(&[
                ("DATABASE_URL", &self.server.db.url),
                ("BETTER_AUTH_SECRET", secret),
            ]),
            // With the auth server's secret, a forgery is refused by its
            // signature before the auth server is asked: the only way this
            // mode can tell a wrong secret from an unknown session.
            Some(db) => pairs(&[
                ("AUTH_SERVER_URL", &self.server.base_url),
                ("BETTER_AUTH_SECRET", secret),
                ("DATABASE_URL", &db.url),
            ]),
        }
    }

    fn accepted(&mut self) -> (Credential, String) {
        let user = sign_up_and_in(&self.server, self.email);
        self.user_id = user.user_id.clone();
        (self.credential(&user.cookie), user.user_id)
    }

    fn produce(
        &mut self,
        case: Case,
        accepted: &Credential,
        harness: &Harness<'_>,
    ) -> Option<Credential> {
        Some(match case {
            // Another session of the user whose expiry has passed: the row
            // is still there (database mode); the auth server, asked about
            // it, answers no session (remote mode).
            Case::Expired => {
                let user = sign_in(&self.server, self.email, &self.user_id);
                let credential = self.credential(&user.cookie);
                block_on(self.server.db.execute(&format!(
                    r#"UPDATE "session" SET "expiresAt" = now() - interval '1 minute' WHERE "token" = '{}'"#,
                    token_part(&credential.value)
                )));
                credential
            }
            // The accepted session's token signed with another secret, as a
            // deployment whose BETTER_AUTH_SECRET differs would see it.
            Case::WrongKey => accepted.holding(signed_cookie_value(
                &token_part(&accepted.value),
                &self.wrong_secret,
            )),
            Case::Malformed => accepted.holding(cut_short(&accepted.value)),
            Case::Revoked => {
                revoke_through_the_route(harness, accepted, self.db());
                accepted.clone()
            }
        })
    }

    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.server.secret.clone(), self.wrong_secret.clone()];
        secrets.extend(self.tokens.iter().cloned());
        secrets
    }
}

const AUTHJS_COOKIE: &str = "authjs.session-token";

/// An Auth.js v5 session cookie from `@auth/core`'s `encode`.
struct AuthJs {
    db: TestDb,
    secret: String,
    wrong_secret: String,
    subject: String,
    tokens: [String; 3],
}

impl AuthJs {
    fn new() -> AuthJs {
        let db = migrated();
        let secret = unique_secret("contract-authjs");
        let wrong_secret = unique_secret("contract-authjs-wrong");
        let subject = "contract-authjs".to_owned();
        let user = json!({ "sub": subject, "email": "authjs@example.com", "name": "Contract" });
        let spec = |secret: &str, max_age: i64| json!({ "secret": secret, "salt": AUTHJS_COOKIE, "token": user, "maxAge": max_age });
        let tokens = three(authjs(&[
            spec(&secret, 3600),
            // Expired two minutes ago, beyond the 30 s leeway.
            spec(&secret, -120),
            // Sealed by an Auth.js app holding another AUTH_SECRET.
            spec(&wrong_secret, 3600),
        ]));
        AuthJs {
            db,
            secret,
            wrong_secret,
            subject,
            tokens,
        }
    }
}

impl Kind for AuthJs {
    fn env(&self) -> Vec<(String, String)> {
        pairs(&[
            ("AUTH_SECRET", &self.secret),
            ("DATABASE_URL", &self.db.url),
        ])
    }

    fn accepted(&mut self) -> (Credential, String) {
        (
            Credential::new(Carrier::Cookie(AUTHJS_COOKIE), self.tokens[0].clone()),
            self.subject.clone(),
        )
    }

    fn produce(
        &mut self,
        case: Case,
        accepted: &Credential,
        harness: &Harness<'_>,
    ) -> Option<Credential> {
        Some(match case {
            Case::Expired => accepted.holding(self.tokens[1].clone()),
            Case::WrongKey => accepted.holding(self.tokens[2].clone()),
            // Its authentication tag dropped: four segments.
            Case::Malformed => accepted.holding(without_last_segment(&accepted.value)),
            Case::Revoked => {
                revoke_through_the_route(harness, accepted, &self.db);
                accepted.clone()
            }
        })
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.secret.clone(), self.wrong_secret.clone()]
    }
}

/// An API key from `gatehouse api-keys create`, in `X-API-Key`.
struct ApiKey {
    db: TestDb,
    /// Every key made (their secret parts must never be output).
    keys: Vec<String>,
}

impl ApiKey {
    fn new() -> ApiKey {
        ApiKey {
            db: migrated(),
            keys: Vec::new(),
        }
    }
}

impl Kind for ApiKey {
    fn env(&self) -> Vec<(String, String)> {
        pairs(&[("DATABASE_URL", &self.db.url)])
    }

    fn accepted(&mut self) -> (Credential, String) {
        let (key, lookup) = create_key(&self.db.url, "contract", &["auth:session"]);
        self.keys.push(key.clone());
        let (listed, _) = cli(&["api-keys", "list", "--json"], &self.db.url);
        let listed: Value = serde_json::from_str(&listed).expect("the JSON list");
        let id = listed
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["lookup"] == lookup.as_str()))
            .and_then(|k| k["id"].as_str())
            .unwrap_or_else(|| panic!("the key {lookup} is listed: {listed}"))
            .to_owned();
        (Credential::new(Carrier::ApiKeyHeader, key), id)
    }

    fn produce(
        &mut self,
        case: Case,
        accepted: &Credential,
        _harness: &Harness<'_>,
    ) -> Option<Credential> {
        Some(match case {
            // A key expires only when created with an expiry, in whole days:
            // one created with `--expires-in-days 1`, its expiry then moved
            // into the past in the database, as the session tests age rows.
            Case::Expired => {
                let (stdout, _) = cli(
                    &[
                        "api-keys",
                        "create",
                        "--name",
                        "contract-expiring",
                        "--scope",
                        "auth:session",
                        "--expires-in-days",
                        "1",
                    ],
                    &self.db.url,
                );
                let key = stdout.trim_end().to_owned();
                assert!(key.starts_with("gk_") && key.len() == 59, "{stdout}");
                block_on(self.db.execute(&format!(
                    "UPDATE gatehouse_api_keys SET expires_at = now() - interval '1 minute' WHERE lookup = '{}'",
                    &key[3..15]
                )));
                self.keys.push(key.clone());
                accepted.holding(key)
            }
            // A key is not signed; it is checked against the hash of its
            // secret part. The nearest to a wrong secret: the right lookup
            // with one character of the secret part changed.
            Case::WrongKey => accepted.holding(tampered(&accepted.value)),
            Case::Malformed => accepted.holding(cut_short(&accepted.value)),
            // Keys are revoked by the CLI (the route refuses API keys).
            Case::Revoked => {
                let (stdout, _) = cli(
                    &["api-keys", "revoke", &accepted.value[3..15]],
                    &self.db.url,
                );
                assert!(stdout.contains("revoked"), "{stdout}");
                accepted.clone()
            }
        })
    }

    fn secrets(&self) -> Vec<String> {
        self.keys.iter().map(|key| key[16..].to_owned()).collect()
    }
}

/// A session of this API (`gs_…` from `POST /api/auth/exchange`), exchanged
/// for a shared-secret JWT, sent as `Authorization: Bearer`.
struct ApiSession {
    db: TestDb,
    secret: String,
    previous: String,
    /// `auth-exchange`, which also holds `JWT_SECRET_PREVIOUS`.
    exchanger: VercelFunction,
    subject: String,
    /// JWTs to exchange: under JWT_SECRET (twice), JWT_SECRET_PREVIOUS.
    jwts: [String; 3],
    tokens: Vec<String>,
}

impl ApiSession {
    fn new() -> ApiSession {
        let db = migrated();
        let secret = unique_secret("contract-session");
        let previous = unique_secret("contract-previous");
        let subject = "contract-session".to_owned();
        let mut env = ApiSession::env_of(&db, &secret);
        env.push(("JWT_SECRET_PREVIOUS".to_owned(), previous.clone()));
        let exchanger = start_env(AUTH_EXCHANGE, &env);
        let claims = json!({ "sub": subject, "exp": now() + 600 });
        let jwts = three(pyjwt(&[
            secret_spec("HS256", &secret, &claims),
            secret_spec("HS256", &secret, &claims),
            secret_spec("HS256", &previous, &claims),
        ]));
        ApiSession {
            db,
            secret,
            previous,
            exchanger,
            subject,
            jwts,
            tokens: Vec::new(),
        }
    }

    fn env_of(db: &TestDb, secret: &str) -> Vec<(String, String)> {
        pairs(&[("DATABASE_URL", &db.url), ("JWT_SECRET", secret)])
    }

    fn exchange(&mut self, jwt: usize) -> Credential {
        let response = send(
            self.exchanger.addr(),
            "POST",
            "/api/auth/exchange",
            &[("authorization", &bearer(&self.jwts[jwt]))],
            "",
        );
        assert_eq!(response.status, 201, "{response}");
        let token = response.json()["token"]
            .as_str()
            .unwrap_or_else(|| panic!("a token: {response}"))
            .to_owned();
        self.tokens.push(token.clone());
        Credential::new(Carrier::Bearer, token)
    }
}

impl Kind for ApiSession {
    fn env(&self) -> Vec<(String, String)> {
        ApiSession::env_of(&self.db, &self.secret)
    }

    fn accepted(&mut self) -> (Credential, String) {
        (self.exchange(0), self.subject.clone())
    }

    fn produce(
        &mut self,
        case: Case,
        accepted: &Credential,
        harness: &Harness<'_>,
    ) -> Option<Credential> {
        Some(match case {
            // Another session, unused past its expiry.
            Case::Expired => {
                let session = self.exchange(1);
                block_on(self.db.execute(&format!(
                    "UPDATE gatehouse_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = sha256('{}'::bytea)",
                    session.value
                )));
                session
            }
            // A `gs_` token is random, not signed: what a secret decides is
            // whether the credential it was exchanged for still verifies. A
            // session exchanged (where JWT_SECRET_PREVIOUS was still held)
            // for a JWT signed with a secret this deployment does not hold.
            Case::WrongKey => self.exchange(2),
            Case::Malformed => accepted.holding(cut_short(&accepted.value)),
            Case::Revoked => {
                revoke_through_the_route(harness, accepted, &self.db);
                accepted.clone()
            }
        })
    }

    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.secret.clone(), self.previous.clone()];
        secrets.extend(self.jwts.iter().cloned());
        secrets
    }

    fn other_output(&self) -> String {
        self.exchanger.process.all_output()
    }
}

// ---------------------------------------------------------------------------
// The suite.

fn row_of(method: &str) -> &'static Row {
    CONTRACT
        .iter()
        .find(|row| row.method == method)
        .unwrap_or_else(|| panic!("{method} has a test but no row in CONTRACT"))
}

/// Runs the whole contract for the kind `method`.
fn run(method: &str) {
    let started = Instant::now();
    let row = row_of(method);
    let fixtures = fixtures(method).unwrap_or_else(|| {
        panic!("{method} is in CONTRACT but has no fixtures: add them to `fixtures`")
    });
    let mut kind = (fixtures.build)();
    let mut env = kind.env();
    // The checker refuses a revocation through the revoker within this
    // bound (revoke_through_the_route waits it out).
    env.push((
        "REVOCATION_SYNC_MS".to_owned(),
        REVOCATION_SYNC_MS.to_string(),
    ));
    let mut checker = start_env(AUTH_SESSION, &env);
    let revoker = start_env(AUTH_REVOKE, &env);

    // 1. Accepted: the kind's method, its subject in its namespace.
    let (accepted, subject) = kind.accepted();
    assert!(!subject.is_empty(), "{method}: a subject");
    let response = present(&checker, &accepted);
    let principal = assert_accepted(&response);
    assert_eq!(principal["method"], row.method, "{principal}");
    assert_eq!(principal["subject"], subject.as_str(), "{principal}");
    assert_eq!(principal["namespace"], row.namespace, "{principal}");
    assert_eq!(
        principal["credential_source"],
        accepted.source(),
        "{principal}"
    );

    // 2 to 6: every other case, in the response and in the log.
    let harness = Harness {
        row,
        revoker: &revoker,
        subject: &subject,
    };
    let mut presented = vec![accepted.value.clone()];
    let mut responses = vec![response];
    let mut discrepancies = Vec::new();
    for case in CASES {
        let expected = row.answer(case, "reason");
        let unsupported = fixtures.unsupported.contains(&case);
        assert_eq!(
            expected == UNSUPPORTED,
            unsupported,
            "{method} {case:?}: CONTRACT and the fixtures' `unsupported` list disagree"
        );
        let produced = kind.produce(case, &accepted, &harness);
        let Some(credential) = produced else {
            assert!(
                unsupported,
                "{method} {case:?}: the fixtures made no credential for a supported case"
            );
            continue;
        };
        assert!(
            !unsupported,
            "{method} {case:?}: listed unsupported, yet the fixtures made a credential"
        );
        presented.push(credential.value.clone());
        let response = present(&checker, &credential);
        let got = response.json()["reason"]
            .as_str()
            .unwrap_or("(none: accepted?)")
            .to_owned();
        if got != expected {
            discrepancies.push(format!(
                "{method} {case:?}: expected {expected}, got {} {got}",
                response.status
            ));
            responses.push(response);
            continue;
        }
        let token_kind = row.answer(case, "token_kind");
        assert_refusal(&mut checker, &response, expected, token_kind, &credential);
        responses.push(response);
    }

    // Nothing secret anywhere: the functions' output, every response.
    let mut haystack =
        checker.process.all_output() + &revoker.process.all_output() + &kind.other_output();
    for response in &responses {
        haystack.push_str(&response.to_string());
    }
    for (index, value) in presented.iter().enumerate() {
        assert!(
            !haystack.contains(value.as_str()),
            "{method}: credential {index} reached an output"
        );
    }
    for (index, secret) in kind.secrets().iter().enumerate() {
        assert!(
            !haystack.contains(secret.as_str()),
            "{method}: secret {index} reached an output"
        );
    }
    checker.process.assert_running();
    assert!(
        discrepancies.is_empty(),
        "{method} breaks the contract:\n{}",
        discrepancies.join("\n")
    );
    let took = started.elapsed();
    assert!(took < BUDGET, "{method}: the contract took {took:?}");
}

/// The refusal: a 401 with `reason`, its detail and hint, and its facts;
/// and its one log event with the fixed fields, for every kind alike.
#[track_caller]
fn assert_refusal(
    checker: &mut VercelFunction,
    response: &Response,
    reason: &str,
    token_kind: &str,
    credential: &Credential,
) {
    let body = assert_refused(response, reason, &[], &[]);
    let source = credential.source();
    let fingerprint = fingerprint(&credential.value);
    assert_eq!(body["facts"]["credential_source"], source, "{response}");
    assert_eq!(
        body["facts"]["token_fingerprint"], fingerprint,
        "{response}"
    );

    wait_logged(checker, response);
    let events: Vec<Value> = refusal_events(checker)
        .into_iter()
        .filter(|event| event["request_id"] == response.request_id())
        .collect();
    assert_eq!(events.len(), 1, "one refusal event: {events:?}");
    let event = &events[0];
    for field in FIXED_FIELDS {
        assert!(event.get(field).is_some(), "{field} missing: {event}");
    }
    let expected = json!({
        "reason": reason,
        "status": 401,
        "request_id": response.request_id(),
        "route": SESSION,
        "credential_source": source,
        "token_fingerprint": fingerprint,
        "token_kind": token_kind,
        "cookies_present": credential.cookies_present(),
        "detail": body["detail"],
        "hint": body["hint"],
    });
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&event[field], value, "{field} in {event}");
    }
    assert_eq!(event["span"]["request_id"], response.request_id());
    assert_eq!(event["level"], "INFO", "{event}");
}

/// The kinds `docs/routes.md` names as `principal.method` values.
fn documented_methods() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/routes.md");
    let text = std::fs::read_to_string(path).expect("docs/routes.md");
    let mut methods = BTreeSet::new();
    // "`method` is `jwt_jwks`, `jwt_static_key`, … or `api_key`."
    let list = text
        .split_once("`method` is ")
        .and_then(|(_, rest)| rest.split_once(". "))
        .map(|(list, _)| list)
        .expect("docs/routes.md lists the `method` values");
    methods.extend(list.split('`').skip(1).step_by(2).map(str::to_owned));
    // `method: "gatehouse_session"`, in the exchange route's row.
    for (at, _) in text.match_indices("method: \"") {
        let rest = &text[at + "method: \"".len()..];
        methods.extend(rest.split('"').next().map(str::to_owned));
    }
    methods
}

/// The guard: the table lists exactly the kinds the docs name, each row has
/// fixtures and a test, and each cell is a real 401 reason or marks a case
/// the fixtures say they cannot express.
#[test]
fn every_row_has_fixtures_and_a_test_and_every_kind_a_row() {
    let table: BTreeSet<String> = CONTRACT.iter().map(|r| r.method.to_owned()).collect();
    assert_eq!(table.len(), CONTRACT.len(), "a kind appears twice");
    let documented = documented_methods();
    assert!(documented.len() >= 8, "{documented:?}");
    assert_eq!(
        table, documented,
        "CONTRACT must list exactly the kinds docs/routes.md names"
    );
    let tested: BTreeSet<String> = TESTED.iter().map(|m| (*m).to_owned()).collect();
    assert_eq!(table, tested, "every row needs its test in contract_tests!");
    let codes: Vec<&str> = gatehouse::error::Reason::ALL
        .iter()
        .map(|reason| reason.as_str())
        .collect();
    for row in &CONTRACT {
        let fixtures = fixtures(row.method).unwrap_or_else(|| {
            panic!(
                "{} is in CONTRACT but has no fixtures: add them to `fixtures`",
                row.method
            )
        });
        for case in CASES {
            let expected = row.expected(case);
            assert_eq!(
                expected == UNSUPPORTED,
                fixtures.unsupported.contains(&case),
                "{} {case:?}: CONTRACT and the fixtures' `unsupported` list disagree",
                row.method
            );
            if expected != UNSUPPORTED {
                assert!(codes.contains(&expected), "{expected} is not a reason");
                assert_eq!(status_of(expected), 401, "{} {case:?}", row.method);
            }
        }
    }
    for d in &DISCREPANCIES {
        let row = row_of(d.method);
        assert_eq!(
            row.contract(d.case, d.field),
            d.contract,
            "{} {:?}: DISCREPANCIES quotes the contract wrongly",
            d.method,
            d.case
        );
        assert_ne!(d.actual, d.contract, "{} {:?}", d.method, d.case);
    }
}
