//! Configuration, read from the environment once at cold start.
//!
//! [`Config::load`] reads every variable, collects *every* problem in one pass
//! and returns either a [`Config`] (which is valid by construction) or a
//! [`ConfigErrors`] listing them all. Functions never panic on bad
//! configuration: the host keeps serving and answers each request with a
//! `misconfigured` problem, so the cause is visible from outside too.
//!
//! Variables that are set are always validated; variables a function needs
//! (its [`Needs`]) must also be present.

use std::fmt;

pub mod env;

pub(crate) use env::Reader;
pub use env::{ConfigProblem, Env, Environment, MIN_SECRET_BYTES};

use crate::auth::settings::AuthSettings;
use crate::db::url::{DatabaseUrl, TlsMode};

/// What a function needs from the environment beyond the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    pub database: bool,
    /// A way to verify tokens (an issuer or a shared secret).
    pub auth: bool,
}

impl Needs {
    pub const NONE: Needs = Needs {
        database: false,
        auth: false,
    };
    pub const DATABASE: Needs = Needs {
        database: true,
        auth: false,
    };
    pub const AUTH: Needs = Needs {
        database: false,
        auth: true,
    };
    pub const AUTH_AND_DATABASE: Needs = Needs {
        database: true,
        auth: true,
    };

    /// What a process serving several routes (the dev server) needs.
    pub const fn union(self, other: Needs) -> Needs {
        Needs {
            database: self.database || other.database,
            auth: self.auth || other.auth,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// How logs are written. Resolved even when the rest of the configuration is
/// broken, so the problems themselves can be logged in the right format.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: tracing_subscriber::filter::Targets,
}

pub use crate::db::settings::DatabaseConfig;

/// A valid configuration. Fields are public for reading; the only way to
/// build one is [`Config::load`].
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub log: LogSettings,
    pub database: Option<DatabaseConfig>,
    pub auth: AuthSettings,
    pub debug_endpoints: bool,
    /// `VERCEL_GIT_COMMIT_SHA`, reported by the detailed health route.
    pub commit_sha: Option<String>,
    /// Problems that do not stop the function, logged once at cold start.
    pub warnings: Vec<ConfigProblem>,
}

/// Every problem found, plus what is needed to report them.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub environment: Environment,
    pub log: LogSettings,
    pub problems: Vec<ConfigProblem>,
    pub warnings: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} configuration problem(s)", self.problems.len())?;
        for problem in &self.problems {
            write!(f, "; {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads and validates everything. Never panics; never logs.
    pub fn load(env: &Env, needs: Needs) -> Result<Config, ConfigErrors> {
        let mut r = Reader {
            env,
            problems: Vec::new(),
            warnings: Vec::new(),
        };

        let environment = read_environment(&mut r);
        let log = read_log_settings(&mut r, environment);
        let database = read_database(&mut r, environment);
        let mut auth = crate::auth::settings::read(&mut r, environment);
        crate::auth::settings::check_with_database(&mut r, &mut auth, database.is_some());

        let debug_endpoints = r.bool("DEBUG_ENDPOINTS");
        if debug_endpoints && environment == Environment::Production {
            r.error(
                "DEBUG_ENDPOINTS",
                "is on in production, where debug routes would expose token contents",
                "unset DEBUG_ENDPOINTS in the production environment",
            );
        }
        let commit_sha = r.get("VERCEL_GIT_COMMIT_SHA");

        // What this function needs but is absent, unless the variable was
        // already reported as invalid (one problem per cause).
        for problem in missing(needs, database.is_some(), auth.can_verify()) {
            let related = |reported: &ConfigProblem| {
                reported.variable == problem.variable
                    || (problem.variable == "BETTER_AUTH_URL"
                        && reported.variable.starts_with("JWT_"))
            };
            if !r.problems.iter().any(related) {
                r.problems.push(problem);
            }
        }

        if r.problems.is_empty() {
            Ok(Config {
                environment,
                log,
                database,
                auth,
                debug_endpoints,
                commit_sha,
                warnings: r.warnings,
            })
        } else {
            Err(ConfigErrors {
                environment,
                log,
                problems: r.problems,
                warnings: r.warnings,
            })
        }
    }
}

fn read_environment(r: &mut Reader<'_>) -> Environment {
    let parse = |value: &str| match value.to_ascii_lowercase().as_str() {
        "production" | "prod" => Some(Environment::Production),
        "preview" | "staging" => Some(Environment::Preview),
        "development" | "dev" | "local" | "test" => Some(Environment::Development),
        _ => None,
    };
    if let Some(raw) = r.get("ENVIRONMENT") {
        return parse(&raw).unwrap_or_else(|| {
            r.error(
                "ENVIRONMENT",
                format!("is \"{raw}\", not one of production, preview, development"),
                "set ENVIRONMENT to production, preview or development",
            );
            // Unknown means strict: hide details as production does.
            Environment::Production
        });
    }
    if let Some(raw) = r.get("VERCEL_ENV") {
        return parse(&raw).unwrap_or(Environment::Production);
    }
    // Fail closed: a function a platform started (Vercel's IPC socket, the
    // Lambda Runtime API) is a deployment, and without a word saying which
    // one it is production, never development with its debug routes.
    // `vercel dev --local` and `gatehouse dev` set neither variable.
    let platform = if r.get("AWS_LAMBDA_RUNTIME_API").is_some() {
        Some("AWS Lambda")
    } else if r.get("VERCEL_IPC_PATH").is_some() {
        Some("Vercel")
    } else {
        None
    };
    match platform {
        Some(platform) => {
            r.warn(
                "ENVIRONMENT",
                format!("is not set (nor VERCEL_ENV), and {platform} started this function: it runs as production"),
                "set ENVIRONMENT=production, preview or development explicitly; on Vercel, \"Automatically expose System Environment Variables\" also sets VERCEL_ENV",
            );
            Environment::Production
        }
        None => Environment::Development,
    }
}

fn read_log_settings(r: &mut Reader<'_>, environment: Environment) -> LogSettings {
    let default_format = match environment {
        Environment::Development => LogFormat::Pretty,
        _ => LogFormat::Json,
    };
    let format = match r.get("LOG_FORMAT").as_deref() {
        None => default_format,
        Some("json") => LogFormat::Json,
        Some("pretty" | "text") => LogFormat::Pretty,
        Some(other) => {
            r.error(
                "LOG_FORMAT",
                format!("is \"{other}\", not json or pretty"),
                "set LOG_FORMAT to json or pretty, or unset it (json in production and preview)",
            );
            LogFormat::Json
        }
    };
    let default_filter = || "info".parse().unwrap_or_default();
    let filter = match r.get("LOG_LEVEL") {
        None => default_filter(),
        Some(raw) => raw.parse().unwrap_or_else(|_| {
            r.error(
                "LOG_LEVEL",
                format!("is \"{raw}\", not a level or target list"),
                "set LOG_LEVEL to error, warn, info, debug or trace, or a list such as info,gatehouse=debug",
            );
            default_filter()
        }),
    };
    LogSettings { format, filter }
}

fn read_database(r: &mut Reader<'_>, environment: Environment) -> Option<DatabaseConfig> {
    let pool_max = match r.get("DATABASE_POOL_MAX") {
        None => DEFAULT_POOL_MAX,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=64).contains(&n) => n,
            _ => {
                r.error(
                    "DATABASE_POOL_MAX",
                    format!("is \"{raw}\", not a whole number from 1 to 64"),
                    "set DATABASE_POOL_MAX to a small number such as 4: each function instance opens its own pool",
                );
                DEFAULT_POOL_MAX
            }
        },
    };
    let idle_timeout = r.seconds("DATABASE_IDLE_TIMEOUT_SECS", 5.0, 0.1, 3600.0);
    let connect_timeout = r.seconds("DATABASE_CONNECT_TIMEOUT_SECS", 5.0, 0.1, 60.0);
    let statement_timeout = r.seconds("DATABASE_STATEMENT_TIMEOUT_SECS", 5.0, 0.1, 300.0);

    let raw = r.get("DATABASE_URL")?;
    let url = match DatabaseUrl::parse(&raw) {
        Ok(url) => url,
        Err(problem) => {
            r.error(
                "DATABASE_URL",
                problem.0,
                "copy the connection string from your provider: postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=require",
            );
            return None;
        }
    };
    if environment == Environment::Production && !url.is_local() {
        match url.tls_mode() {
            TlsMode::Disable => r.error(
                "DATABASE_URL",
                format!("has sslmode=disable towards {}, so passwords and data cross the network in clear text", url.display_target()),
                "set sslmode=require (or verify-full) in DATABASE_URL",
            ),
            TlsMode::Prefer => r.warn(
                "DATABASE_URL",
                "has no sslmode (or sslmode=prefer), which silently falls back to clear text",
                "add sslmode=require (or verify-full) to DATABASE_URL",
            ),
            TlsMode::Require => r.warn(
                "DATABASE_URL",
                "has sslmode=require, which encrypts but does not check the server's certificate (as libpq does)",
                "use sslmode=verify-full (add sslrootcert=/path/to/ca.pem for a provider with its own CA) to rule out an impostor server",
            ),
            TlsMode::VerifyCa | TlsMode::VerifyFull => {}
        }
    }
    Some(DatabaseConfig {
        url,
        pool_max,
        idle_timeout,
        connect_timeout,
        statement_timeout,
    })
}

impl Config {
    /// What `needs` requires that this configuration lacks. Empty when a
    /// route can run. The dev server asks per route, so a route that needs
    /// nothing runs even when another route's settings are missing.
    pub fn missing(&self, needs: Needs) -> Vec<ConfigProblem> {
        missing(needs, self.database.is_some(), self.auth.can_verify())
    }
}

fn missing(needs: Needs, has_database: bool, can_verify: bool) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if needs.database && !has_database {
        problems.push(ConfigProblem {
            variable: "DATABASE_URL",
            problem: "is not set, and this function uses the database".to_owned(),
            fix: "set DATABASE_URL to a postgres:// connection string (see .env.example)"
                .to_owned(),
        });
    }
    if needs.auth && !can_verify {
        problems.push(ConfigProblem {
            variable: "BETTER_AUTH_URL",
            problem: "is not set, and neither is JWT_JWKS_URL, JWT_PUBLIC_KEYS, JWT_TRUSTED_ISSUERS nor JWT_SECRET: this function cannot verify any token".to_owned(),
            fix: "set BETTER_AUTH_URL for Better Auth, JWT_JWKS_URL with JWT_ISSUER and JWT_AUDIENCE for another provider, or JWT_SECRET for shared-secret tokens".to_owned(),
        });
    }
    problems
}

pub const DEFAULT_POOL_MAX: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)], needs: Needs) -> Result<Config, ConfigErrors> {
        Config::load(&Env::from_pairs(pairs.iter().copied()), needs)
    }

    #[test]
    fn defaults_work_with_an_empty_environment() {
        let config = load(&[], Needs::NONE).unwrap();
        assert_eq!(config.environment, Environment::Development);
        assert_eq!(config.log.format, LogFormat::Pretty);
        assert!(config.database.is_none());
    }

    #[test]
    fn a_platform_without_an_environment_is_production_with_a_warning() {
        for platform in ["VERCEL_IPC_PATH", "AWS_LAMBDA_RUNTIME_API"] {
            let config = load(&[(platform, "/tmp/x")], Needs::NONE).unwrap();
            assert_eq!(config.environment, Environment::Production, "{platform}");
            assert!(
                config.warnings.iter().any(
                    |w| w.variable == "ENVIRONMENT" && w.fix.contains("ENVIRONMENT=production")
                ),
                "{platform}: {:?}",
                config.warnings
            );
            // Saying so explicitly wins, and is not warned about.
            let config = load(
                &[(platform, "/tmp/x"), ("ENVIRONMENT", "development")],
                Needs::NONE,
            )
            .unwrap();
            assert_eq!(config.environment, Environment::Development);
            assert!(config.warnings.iter().all(|w| w.variable != "ENVIRONMENT"));
        }
    }

    #[test]
    fn environment_defaults_from_vercel_env_and_explicit_wins() {
        let config = load(&[("VERCEL_ENV", "preview")], Needs::NONE).unwrap();
        assert_eq!(config.environment, Environment::Preview);
        assert_eq!(config.log.format, LogFormat::Json);
        let config = load(
            &[("VERCEL_ENV", "preview"), ("ENVIRONMENT", "production")],
            Needs::NONE,
        )
        .unwrap();
        assert_eq!(config.environment, Environment::Production);
    }

    #[test]
    fn every_problem_is_collected_in_one_pass() {
        let secret = "short-secret-value";
        let errors = load(
            &[
                ("ENVIRONMENT", "production"),
                ("LOG_FORMAT", "xml"),
                ("DATABASE_POOL_MAX", "0"),
                ("DATABASE_IDLE_TIMEOUT_SECS", "soon"),
                (
                    "DATABASE_URL",
                    "postgres://u:pw-in-url@db.example.com/app?sslmode=disable",
                ),
                ("JWT_SECRET", secret),
                ("DEBUG_ENDPOINTS", "true"),
            ],
            Needs::DATABASE,
        )
        .unwrap_err();
        let variables: Vec<_> = errors.problems.iter().map(|p| p.variable).collect();
        assert_eq!(
            variables,
            [
                "LOG_FORMAT",
                "DATABASE_POOL_MAX",
                "DATABASE_IDLE_TIMEOUT_SECS",
                "DATABASE_URL",
                "JWT_SECRET",
                "DEBUG_ENDPOINTS"
            ]
        );
        let all = format!("{errors} {errors:?}");
        assert!(!all.contains(secret), "secret leaked: {all}");
        assert!(!all.contains("pw-in-url"), "password leaked: {all}");
        assert!(errors.problems.iter().all(|p| !p.fix.is_empty()));
    }

    #[test]
    fn needed_variables_must_be_present() {
        assert!(load(&[], Needs::NONE).is_ok());
        let errors = load(&[], Needs::DATABASE).unwrap_err();
        assert_eq!(errors.problems[0].variable, "DATABASE_URL");
    }

    #[test]
    fn plain_text_is_fine_locally_and_only_a_warning_for_prefer() {
        let local = [
            ("ENVIRONMENT", "production"),
            (
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1/x?sslmode=disable",
            ),
        ];
        assert!(load(&local, Needs::DATABASE).is_ok());
        let config = load(
            &[
                ("ENVIRONMENT", "production"),
                ("DATABASE_URL", "postgres://u:p@db.example.com/x"),
            ],
            Needs::DATABASE,
        )
        .unwrap();
        assert_eq!(config.warnings[0].variable, "DATABASE_URL");
        let require = load(
            &[
                ("ENVIRONMENT", "production"),
                (
                    "DATABASE_URL",
                    "postgres://u:p@db.example.com/x?sslmode=require",
                ),
            ],
            Needs::DATABASE,
        )
        .unwrap();
        assert!(
            require.warnings[0]
                .problem
                .contains("does not check the server's certificate")
        );
        let verified = load(
            &[
                ("ENVIRONMENT", "production"),
                (
                    "DATABASE_URL",
                    "postgres://u:p@db.example.com/x?sslmode=verify-full",
                ),
            ],
            Needs::DATABASE,
        )
        .unwrap();
        assert!(verified.warnings.is_empty());
    }

    #[test]
    fn unknown_environment_is_an_error_and_treated_as_production() {
        let errors = load(&[("ENVIRONMENT", "prodution")], Needs::NONE).unwrap_err();
        assert_eq!(errors.environment, Environment::Production);
        assert_eq!(errors.problems[0].variable, "ENVIRONMENT");
    }

    #[test]
    fn blank_values_count_as_unset() {
        let config = load(
            &[("DATABASE_POOL_MAX", "  "), ("JWT_SECRET", "")],
            Needs::NONE,
        )
        .unwrap();
        assert!(config.auth.shared_secret.is_none());
    }
}
