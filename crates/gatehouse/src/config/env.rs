//! The environment as the configuration reads it, and the words every
//! part of the configuration shares: [`Env`], the `Reader` that collects
//! every problem in one pass, [`ConfigProblem`] and [`Environment`]. The
//! settings of each part (`auth::settings`, `db::settings`) build on these
//! without importing the whole configuration, which composes them.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::secret::Secret;

/// A snapshot of environment variables. Built from the process at cold start,
/// or from pairs in tests so they never touch the process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    not_utf8: Vec<String>,
}

/// Where this deployment runs. Decides strictness and how much a refusal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Production,
    Preview,
    Development,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Preview => "preview",
            Environment::Development => "development",
        }
    }

    /// Whether refusals may show expected values and variable names.
    pub fn shows_details(self) -> bool {
        self != Environment::Production
    }
}

/// One thing wrong with the environment: which variable, what, and the fix.
/// Never contains a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    pub variable: &'static str,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.variable, self.problem, self.fix)
    }
}

impl Env {
    pub fn from_process() -> Self {
        let mut env = Env::default();
        for (key, value) in std::env::vars_os() {
            let Some(key) = key.to_str().map(str::to_owned) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => {
                    env.vars.insert(key, value);
                }
                Err(_not_utf8) => env.not_utf8.push(key),
            }
        }
        env
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut env = Env::default();
        for (key, value) in pairs {
            env.vars.insert(key.into(), value.into());
        }
        env
    }

    /// Adds or replaces a value (tests, `--env-file`).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<OsString>) {
        let key = key.into();
        match value.into().into_string() {
            Ok(value) => {
                self.vars.insert(key, value);
            }
            Err(_) => self.not_utf8.push(key),
        }
    }

    /// A set, non-blank value. Blank counts as unset: dashboards make it easy
    /// to save an empty variable, and it never means anything else.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|value| !value.trim().is_empty())
    }
}

/// Collects problems while reading variables.
pub(crate) struct Reader<'a> {
    pub(crate) env: &'a Env,
    pub(crate) problems: Vec<ConfigProblem>,
    pub(crate) warnings: Vec<ConfigProblem>,
}

impl Reader<'_> {
    pub(crate) fn error(
        &mut self,
        variable: &'static str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problems.push(ConfigProblem {
            variable,
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    pub(crate) fn warn(
        &mut self,
        variable: &'static str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.warnings.push(ConfigProblem {
            variable,
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    pub(crate) fn get(&mut self, variable: &'static str) -> Option<String> {
        if self.env.not_utf8.iter().any(|key| key == variable) {
            self.error(
                variable,
                "is not valid UTF-8",
                format!("set {variable} to a UTF-8 value"),
            );
            return None;
        }
        self.env.get(variable).map(|value| value.trim().to_owned())
    }

    pub(crate) fn seconds(
        &mut self,
        variable: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Duration {
        let Some(raw) = self.get(variable) else {
            return Duration::from_secs_f64(default);
        };
        match raw.parse::<f64>() {
            Ok(secs) if secs.is_finite() && (min..=max).contains(&secs) => {
                Duration::from_secs_f64(secs)
            }
            _ => {
                self.error(
                    variable,
                    format!("is \"{raw}\", not a number of seconds between {min} and {max}"),
                    format!("set {variable} to seconds, e.g. {default}, or unset it for the default ({default})"),
                );
                Duration::from_secs_f64(default)
            }
        }
    }

    /// Whole milliseconds between `min` and `max`.
    pub(crate) fn millis(
        &mut self,
        variable: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Duration {
        let Some(raw) = self.get(variable) else {
            return Duration::from_millis(default);
        };
        match raw.parse::<u64>() {
            Ok(ms) if (min..=max).contains(&ms) => Duration::from_millis(ms),
            _ => {
                self.error(
                    variable,
                    format!("is \"{raw}\", not a whole number of milliseconds between {min} and {max}"),
                    format!("set {variable} to milliseconds, e.g. {default}, or unset it for the default ({default})"),
                );
                Duration::from_millis(default)
            }
        }
    }

    pub(crate) fn bool(&mut self, variable: &'static str) -> bool {
        match self.get(variable).as_deref() {
            None => false,
            Some("1" | "true" | "yes" | "on") => true,
            Some("0" | "false" | "no" | "off") => false,
            Some(other) => {
                self.error(
                    variable,
                    format!("is \"{other}\", not a boolean"),
                    format!("set {variable} to true or false"),
                );
                false
            }
        }
    }

    pub(crate) fn secret(&mut self, variable: &'static str) -> Option<Secret> {
        let secret = Secret::new(self.get(variable)?);
        if secret.len() < MIN_SECRET_BYTES {
            self.error(
                variable,
                format!(
                    "is {} bytes long; secrets must be at least {MIN_SECRET_BYTES} bytes",
                    secret.len()
                ),
                format!("generate one with `openssl rand -base64 32` and set {variable} to it in every service that shares it"),
            );
            return None;
        }
        Some(secret)
    }
}

/// Shorter shared secrets can be brute-forced offline from a single token.
pub const MIN_SECRET_BYTES: usize = 32;
