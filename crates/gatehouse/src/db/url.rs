//! `DATABASE_URL`, parsed once into something the pool can use and the
//! validator can reason about.
//!
//! tokio-postgres understands `sslmode=disable|prefer|require` only; the libpq
//! modes `verify-ca` and `verify-full` (and `sslrootcert`) that managed
//! providers document are handled here, so a connection string copied from a
//! provider's dashboard works as it does with `psql`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use tokio_postgres::config::Host;

/// How the connection is protected, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, plain otherwise (libpq's default).
    Prefer,
    /// TLS, certificate not verified (libpq's `require`).
    Require,
    /// TLS, certificate chain verified, host name not.
    VerifyCa,
    /// TLS, certificate chain and host name verified.
    VerifyFull,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    pub fn verifies_certificate(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }
}

/// A parsed, valid `DATABASE_URL`. `Debug` never shows the password.
#[derive(Clone)]
pub struct DatabaseUrl {
    pg: tokio_postgres::Config,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
}

/// Why a `DATABASE_URL` was refused. Never carries the URL itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlProblem(pub String);

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, UrlProblem> {
        let raw = raw.trim();
        let is_url = raw.starts_with("postgres://") || raw.starts_with("postgresql://");
        if !is_url {
            return Err(UrlProblem(
                "is not a postgres:// or postgresql:// URL".to_owned(),
            ));
        }
        let (base, query) = match raw.split_once('?') {
            Some((base, query)) => (base, query),
            None => (raw, ""),
        };
        let mut tls = TlsMode::Prefer;
        let mut root_cert = None;
        let mut kept: Vec<&str> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| UrlProblem(format!("parameter `{key}` is not valid UTF-8")))?;
            match key {
                "sslmode" => {
                    tls = match value.as_ref() {
                        "disable" => TlsMode::Disable,
                        "allow" | "prefer" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-ca" => TlsMode::VerifyCa,
                        "verify-full" => TlsMode::VerifyFull,
                        _ => {
                            return Err(UrlProblem(
                                "has an unknown sslmode; use disable, prefer, require, verify-ca or verify-full"
                                    .to_owned(),
                            ));
                        }
                    }
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                // Prisma's flags, often left in URLs shared with other clients.
                "pgbouncer"
                | "connection_limit"
                | "pool_timeout"
                | "schema"
                | "statement_cache_size" => {
                    return Err(UrlProblem(format!(
                        "has the parameter `{key}`, which belongs to Prisma, not Postgres: remove it"
                    )));
                }
                _ => kept.push(pair),
            }
        }
        let rebuilt = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut pg = tokio_postgres::Config::from_str(&rebuilt).map_err(|err| {
            // tokio-postgres' messages name the option, never its value.
            UrlProblem(format!("could not be parsed: {err}"))
        })?;
        if pg.get_hosts().is_empty() {
            return Err(UrlProblem("names no host".to_owned()));
        }
        if pg.get_user().is_none() {
            return Err(UrlProblem("names no user".to_owned()));
        }
        if root_cert.is_some() && !tls.verifies_certificate() {
            return Err(UrlProblem(
                "sets sslrootcert but not sslmode=verify-ca or verify-full, so the certificate would never be checked"
                    .to_owned(),
            ));
        }
        pg.ssl_mode(match tls {
            TlsMode::Disable => tokio_postgres::config::SslMode::Disable,
            TlsMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        if pg.get_application_name().is_none() {
            pg.application_name("gatehouse");
        }
        Ok(Self { pg, tls, root_cert })
    }

    pub fn pg_config(&self) -> &tokio_postgres::Config {
        &self.pg
    }

    /// The database this URL names: `dbname`, else (as Postgres does) the
    /// user's name.
    pub fn database_name(&self) -> &str {
        self.pg
            .get_dbname()
            .or(self.pg.get_user())
            .unwrap_or("postgres")
    }

    /// The same server, credentials and TLS, another database: how the
    /// CLI reaches the `postgres` maintenance database to create a missing
    /// development database.
    pub fn with_database(&self, name: &str) -> DatabaseUrl {
        let mut pg = self.pg.clone();
        pg.dbname(name);
        DatabaseUrl {
            pg,
            tls: self.tls,
            root_cert: self.root_cert.clone(),
        }
    }

    pub fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    pub fn root_cert(&self) -> Option<&PathBuf> {
        self.root_cert.as_ref()
    }

    /// Whether every host is this machine: plain TCP is harmless there.
    pub fn is_local(&self) -> bool {
        self.pg.get_hosts().iter().all(|host| match host {
            Host::Unix(_) => true,
            Host::Tcp(name) => {
                let name = name.trim_start_matches('[').trim_end_matches(']');
                name == "localhost"
                    || name
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        })
    }

    /// `host:port` of the first host, safe to log and show.
    pub fn display_target(&self) -> String {
        let host = match self.pg.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "?".to_owned(),
        };
        let port = self.pg.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("target", &self.display_target())
            .field("user", &self.pg.get_user())
            .field("dbname", &self.pg.get_dbname())
            .field("password", &"[redacted]")
            .field("tls", &self.tls)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_provider_urls() {
        let url = DatabaseUrl::parse(
            "postgresql://app:s3cretpw@ep-x-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
        )
        .unwrap();
        assert_eq!(url.tls_mode(), TlsMode::Require);
        assert!(!url.is_local());
        let url = DatabaseUrl::parse("postgres://u:p@db.example.com:6543/db?sslmode=verify-full")
            .unwrap();
        assert_eq!(url.tls_mode(), TlsMode::VerifyFull);
        assert_eq!(url.display_target(), "db.example.com:6543");
    }

    #[test]
    fn defaults_to_prefer_and_knows_local_hosts() {
        let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!(url.tls_mode(), TlsMode::Prefer);
        assert!(url.is_local());
        assert!(
            DatabaseUrl::parse("postgres://postgres@localhost/test")
                .unwrap()
                .is_local()
        );
        assert!(
            DatabaseUrl::parse("postgres://postgres@[::1]:5432/test")
                .unwrap()
                .is_local()
        );
    }

    #[test]
    fn refusals_never_echo_the_url() {
        for raw in [
            "mysql://u:topsecretpw@h/db",
            "postgres://u:topsecretpw@h/db?sslmode=bogus",
            "postgres://u:topsecretpw@h/db?pgbouncer=true",
            "postgres://u:topsecretpw@h:notaport/db",
            "postgres://u:topsecretpw@h/db?sslrootcert=/x.pem",
        ] {
            let problem = DatabaseUrl::parse(raw).unwrap_err();
            assert!(!problem.0.contains("topsecretpw"), "{raw}: {problem}");
        }
        let debug = format!(
            "{:?}",
            DatabaseUrl::parse("postgres://u:topsecretpw@h/db").unwrap()
        );
        assert!(!debug.contains("topsecretpw"), "{debug}");
    }
}
