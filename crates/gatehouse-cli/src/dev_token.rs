//! Development tokens: `gatehouse token --sub alice` mints a JWT that
//! `gatehouse dev` accepts, so a first authenticated request needs no
//! identity provider.
//!
//! The signing key is an Ed25519 key generated on first use and kept in
//! `.gatehouse/dev-signing-key.json` (mode 0600, git-ignored by a
//! `.gitignore` beside it), in the directory the commands run from, as
//! `.env` is. Only `gatehouse dev`, and only when `ENVIRONMENT` is
//! development, trusts it: the functions never read this file, and
//! `gatehouse token` refuses to mint when the environment is production or
//! preview, so a development token cannot be mistaken for a real one.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse::auth::jwt::keys;
use gatehouse::auth::pattern::PatternList;
use gatehouse::auth::settings::{IssuerSettings, IssuerVariables, KeySource};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

/// The development issuer: its `iss`, `aud` and identity namespace.
pub const ISSUER: &str = "gatehouse-dev";

/// Where the key lives, under the working directory.
const DIR: &str = ".gatehouse";
const KEY_FILE: &str = "dev-signing-key.json";

/// Longest `--expires-in`: development tokens are for trying things.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 86_400);

/// Claims `gatehouse token` sets itself, from its flags and the clock.
const RESERVED: [&str; 5] = ["iss", "aud", "sub", "iat", "exp"];

pub struct DevKey {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl DevKey {
    /// The key in `.gatehouse/`, created when there is none.
    pub fn load_or_create() -> Result<DevKey, String> {
        let path = key_path();
        match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes).map_err(|problem| {
                format!(
                    "{} is not a development key ({problem}); delete it and run `gatehouse token` again (tokens it signed stop working)",
                    path.display()
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => create(&path),
            Err(err) => Err(format!("could not read {}: {err}", path.display())),
        }
    }

    /// The issuer `gatehouse dev` adds to the configuration.
    pub fn issuer_settings(&self) -> Result<IssuerSettings, String> {
        let jwk = json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.public),
        });
        let key = keys::from_jwk(&jwk).map_err(|err| format!("the development key: {err}"))?;
        let exact = |value: &str| {
            PatternList::parse(value).map_err(|problem| format!("{value}: {}", problem.0))
        };
        Ok(IssuerSettings {
            label: ISSUER.to_owned(),
            issuer: exact(ISSUER)?,
            audiences: exact(ISSUER)?,
            authorized_parties: PatternList::default(),
            keys: KeySource::Static(vec![std::sync::Arc::new(key)]),
            algorithms: vec![Algorithm::EdDSA],
            provider: None,
            leeway: None,
            secret: None,
            variables: IssuerVariables {
                issuer: "`gatehouse token`'s issuer",
                audience_fix: "mint the token with `gatehouse token`",
                authorized_parties: "nothing",
                keys: "the development key in .gatehouse/",
                algorithms: None,
            },
        })
    }

    /// A token for `subject`, valid for `lifetime`, with `extra` claims.
    pub fn mint(
        &self,
        subject: &str,
        extra: Map<String, Value>,
        lifetime: Duration,
        now: u64,
    ) -> Result<String, String> {
        if let Some(reserved) = RESERVED.iter().find(|name| extra.contains_key(**name)) {
            return Err(format!(
                "--claims sets `{reserved}`, which gatehouse token sets itself; use --sub for the subject and --expires-in for the lifetime"
            ));
        }
        let mut claims = extra;
        claims.insert("iss".into(), ISSUER.into());
        claims.insert("aud".into(), ISSUER.into());
        claims.insert("sub".into(), subject.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + lifetime.as_secs()).into());
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&self.pkcs8))
            .map_err(|err| format!("could not sign the token: {err}"))
    }
}

fn key_path() -> PathBuf {
    Path::new(DIR).join(KEY_FILE)
}

fn parse(bytes: &[u8]) -> Result<DevKey, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|err| err.to_string())?;
    let field = |name: &str| {
        value[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no `{name}`"))
    };
    let kid = field("kid")?;
    let pkcs8 = URL_SAFE_NO_PAD
        .decode(field("pkcs8")?)
        .map_err(|_| "`pkcs8` is not base64url".to_owned())?;
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| "not an Ed25519 key".to_owned())?;
    Ok(DevKey {
        kid,
        public: pair.public_key().as_ref().to_vec(),
        pkcs8,
    })
}

fn create(path: &Path) -> Result<DevKey, String> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| "could not generate a key: the system's random source failed".to_owned())?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| "the generated key did not load".to_owned())?;
    let public = pair.public_key().as_ref().to_vec();
    let kid = format!("dev-{}", &gatehouse::secret::fingerprint(&public)[..8]);
    let dir = path.parent().unwrap_or(Path::new(DIR));
    std::fs::create_dir_all(dir)
        .map_err(|err| format!("could not create {}: {err}", dir.display()))?;
    // Never committed: the key signs tokens `gatehouse dev` accepts.
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n")
            .map_err(|err| format!("could not write {}: {err}", ignore.display()))?;
    }
    let document = json!({
        "about": "gatehouse token's development signing key: trusted by `gatehouse dev` in development only. Never deploy or commit it.",
        "kid": kid,
        "pkcs8": URL_SAFE_NO_PAD.encode(pkcs8.as_ref()),
    });
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(document.to_string().as_bytes())
                .map_err(|err| format!("could not write {}: {err}", path.display()))?;
            Ok(DevKey {
                kid,
                pkcs8: pkcs8.as_ref().to_vec(),
                public,
            })
        }
        // Another `gatehouse` created it meanwhile: use that one.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path)
                .map_err(|err| format!("could not read {}: {err}", path.display()))?;
            parse(&bytes)
        }
        Err(err) => Err(format!("could not create {}: {err}", path.display())),
    }
}

/// `30s`, `15m`, `1h`, `7d`: a lifetime up to [`MAX_LIFETIME`].
pub fn parse_lifetime(raw: &str) -> Result<Duration, String> {
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err("a number with s, m, h or d, e.g. 15m or 1h".into()),
    };
    let lifetime = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds_per))
        .map(Duration::from_secs)
        .filter(|lifetime| !lifetime.is_zero() && *lifetime <= MAX_LIFETIME)
        .ok_or_else(|| "from 1s to 30d, e.g. 15m or 1h".to_owned())?;
    Ok(lifetime)
}

/// `--claims`: a JSON object.
pub fn parse_claims(raw: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(claims)) => Ok(claims),
        Ok(_) => Err("a JSON object, e.g. '{\"role\":\"admin\"}'".into()),
        Err(err) => Err(format!("not JSON ({err}); e.g. '{{\"role\":\"admin\"}}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_have_a_unit_and_a_bound() {
        assert_eq!(parse_lifetime("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_lifetime("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_lifetime("30d"), Ok(MAX_LIFETIME));
        for bad in [
            "",
            "1",
            "h",
            "0m",
            "31d",
            "1w",
            "-1h",
            "99999999999999999999d",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn claims_are_an_object_and_leave_the_reserved_ones_alone() {
        assert!(parse_claims("[1]").is_err());
        assert!(parse_claims("{").is_err());
        let key = DevKey {
            kid: "dev-test".into(),
            pkcs8: Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .unwrap()
                .as_ref()
                .to_vec(),
            public: Vec::new(),
        };
        let extra = parse_claims(r#"{"exp": 1}"#).unwrap();
        let refused = key
            .mint("alice", extra, Duration::from_secs(60), 1)
            .unwrap_err();
        assert!(
            refused.contains("`exp`") && refused.contains("--expires-in"),
            "{refused}"
        );
    }
}
