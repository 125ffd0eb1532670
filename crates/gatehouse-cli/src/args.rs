//! The command line, declared with clap: subcommand help, `--version`,
//! shell completions (`gatehouse completions bash`), and errors in clap's
//! standard form. The CLI is not a function binary, so clap's size does not
//! count against a function's budget.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::new_route::spec::{Methods, RouteNeeds, RoutePattern};

/// Longest `--expires-in-days`: a century, the library's limit.
pub const MAX_EXPIRES_IN_DAYS: u32 = 36_500;

/// Gatehouse's local side: the dev server, migrations, API keys, and the
/// diagnostics that find a deployment's auth problem before its users do.
#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    arg_required_else_help = true,
    after_help = "Every command reads the process environment over --env-file FILE \
                  (default: .env, if present), as the functions read theirs. \
                  `migrate` and `api-keys` need DATABASE_URL."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The env file read under the process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct Options {
    /// Read FILE under the process environment (process variables win);
    /// default: .env, if present.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve every route locally, as Vercel routes them.
    ///
    /// Creates the development database when missing and applies the
    /// migrations first.
    Dev {
        /// The port on 127.0.0.1; 0 picks a free one.
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[command(flatten)]
        options: Options,
    },
    /// Apply pending database migrations to DATABASE_URL.
    Migrate {
        #[command(flatten)]
        options: Options,
    },
    /// Create, list and revoke the API keys of server-to-server callers.
    #[command(subcommand)]
    ApiKeys(ApiKeysCommand),
    /// Check the configuration and what it meets, each problem with its fix.
    ///
    /// Postgres (latency, migrations, Better Auth's tables), every JWKS and
    /// the issuer's clock, the auth server, a sample credential, and the
    /// cookie and CORS rules browsers apply. Exits 1 on any failure.
    Doctor {
        /// A sample credential from the auth server: a token, a cookie
        /// value, NAME=VALUE or a whole Set-Cookie header; - reads stdin.
        #[arg(long, value_name = "SAMPLE", allow_hyphen_values = true)]
        token: Option<String>,
        /// The API's public URL, to judge cookies and CORS against.
        #[arg(long, value_name = "API_URL", value_parser = http_url)]
        url: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        options: Options,
    },
    /// Ask a running deployment what its clients meet.
    ///
    /// Health, token health and session with the credential, and the CORS
    /// preflight and cookie rules a browser at ORIGIN applies. Exits 1 on
    /// any failure.
    Probe {
        /// The deployment's URL, such as `https://api.example.com`.
        #[arg(value_parser = http_url)]
        url: String,
        /// A bearer token to send.
        #[arg(long)]
        token: Option<String>,
        /// A cookie to send, as the browser sends it.
        #[arg(long, value_name = "NAME=VALUE", value_parser = cookie_pair)]
        cookie: Option<String>,
        /// The frontend's origin.
        #[arg(long)]
        origin: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Walk a credential through the authenticator, check by check.
    ///
    /// Exits 0 when accepted, 1 when refused. The credential is shown only
    /// as its fingerprint.
    Explain {
        /// The credential: a token, a session cookie value or an API key;
        /// - reads it from stdin.
        #[arg(allow_hyphen_values = true)]
        credential: String,
        /// The cookie name the value came in, when it is a cookie value.
        #[arg(long, value_name = "NAME")]
        cookie: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        options: Options,
    },
    /// Mint a development token that `gatehouse dev` accepts.
    ///
    /// Signed with a development-only key kept in .gatehouse/ (created on
    /// first use) that only `gatehouse dev` trusts, and only in
    /// development; refused when ENVIRONMENT is production or preview. The
    /// token alone goes to stdout: TOKEN=$(gatehouse token --sub alice).
    Token {
        /// The user the token is for (its `sub`).
        #[arg(long, value_name = "SUBJECT")]
        sub: String,
        /// More claims, as a JSON object, e.g. '{"role":"admin"}'.
        #[arg(long, value_name = "JSON", value_parser = crate::dev_token::parse_claims)]
        claims: Option<serde_json::Map<String, serde_json::Value>>,
        /// How long the token lives: 30s, 15m, 1h (the default), up to 30d.
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = crate::dev_token::parse_lifetime)]
        expires_in: std::time::Duration,
        #[command(flatten)]
        options: Options,
    },
    /// Print the AWS SAM template of the functions, from the route table.
    ///
    /// A function per route (deploy/aws/template.yaml), or with --single one
    /// function for all routes (deploy/aws/template-single.yaml): HTTP API
    /// routes, provided.al2023 on arm64 built by cargo-lambda, the
    /// variables as parameters, secrets from Secrets Manager, log groups
    /// with a retention. --write writes both files instead.
    SamTemplate {
        /// The template of one function for all routes.
        #[arg(long)]
        single: bool,
        /// Write deploy/aws/template.yaml and template-single.yaml.
        #[arg(long, conflicts_with = "single")]
        write: bool,
        /// The project, for --write (the folder of its root Cargo.toml);
        /// default: the nearest folder, from the current one up, holding
        /// Cargo.toml and deploy/aws/.
        #[arg(long, value_name = "DIR", requires = "write")]
        root: Option<PathBuf>,
    },
    /// Add something to the project, as its own parts are written.
    #[command(subcommand)]
    New(NewCommand),
    /// Print a shell completion script.
    ///
    /// For example `gatehouse completions bash >
    /// /etc/bash_completion.d/gatehouse`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `gatehouse api-keys <subcommand>`.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key: printed once, on stdout, never shown again.
    Create {
        /// Who will use the key, e.g. billing-worker.
        #[arg(long)]
        name: String,
        /// A scope the key grants (a-z 0-9 : _ . -, e.g. orders:read);
        /// repeat for several.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Days until the key expires; leave out for a key that does not.
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_EXPIRES_IN_DAYS)))]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        options: Options,
    },
    /// List keys (id, lookup, name, scopes, times), never the key itself.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        options: Options,
    },
    /// Revoke a key by id, lookup or the whole key.
    ///
    /// Its callers are refused from then on. A lookup that starts with `--`
    /// goes after a bare `--`.
    Revoke {
        /// The key's id or lookup, as `gatehouse api-keys list` shows them.
        #[arg(allow_hyphen_values = true)]
        id_or_lookup: String,
        #[command(flatten)]
        options: Options,
    },
}

/// `gatehouse new <subcommand>`.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum NewCommand {
    /// Add a route: its handlers, binary, route-table entry, docs rows,
    /// OpenAPI path and test.
    ///
    /// Writes src/routes/<module>.rs (a working handler per method: GET
    /// answers the route's parameters, the caller and a database round trip
    /// as its needs say; the others change nothing and answer a `todo`),
    /// its static in src/routes/mod.rs and ROUTES, api/<path>.rs and its
    /// [[bin]], its rows in docs/routes.md and README.md, its path in
    /// openapi.json, and tests/integration/routes/<module>.rs. All of it or,
    /// when the route exists or a file is not as expected, nothing.
    Route {
        /// The route's path pattern, as Vercel names the file under api/:
        /// /api/orders or /api/orders/[id].
        #[arg(value_parser = RoutePattern::parse)]
        pattern: RoutePattern,
        /// Its methods, comma-separated, from GET, POST, PUT, PATCH, DELETE
        /// (HEAD and OPTIONS are answered for every route).
        #[arg(long, value_name = "METHODS", default_value = "GET", value_parser = Methods::parse)]
        methods: Methods,
        /// What it needs from the configuration: none, or auth, database or
        /// both (auth,database).
        #[arg(long, value_name = "NEEDS", default_value = "none", value_parser = RouteNeeds::parse)]
        needs: RouteNeeds,
        /// The project (the folder of its root Cargo.toml); default: the
        /// nearest folder, from the current one up, holding Cargo.toml and
        /// src/routes/mod.rs.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
}

impl ApiKeysCommand {
    pub fn options(&self) -> &Options {
        match self {
            ApiKeysCommand::Create { options, .. }
            | ApiKeysCommand::List { options, .. }
            | ApiKeysCommand::Revoke { options, .. } => options,
        }
    }
}

fn http_url(raw: &str) -> Result<String, String> {
    if raw.starts_with("https://") || raw.starts_with("http://") {
        Ok(raw.to_owned())
    } else {
        Err("not an http(s) URL; pass the API's public URL, e.g. https://api.example.com".into())
    }
}

fn cookie_pair(raw: &str) -> Result<String, String> {
    if raw.contains('=') {
        Ok(raw.to_owned())
    } else {
        Err("takes NAME=VALUE, as the browser sends it".into())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    use super::*;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("gatehouse").chain(line.split_whitespace()))
            .map(|cli| cli.command)
    }

    fn refused(line: &str) -> String {
        parse(line).unwrap_err().to_string()
    }

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_commands_and_options() {
        assert_eq!(
            parse("dev --port 4000").unwrap(),
            Command::Dev {
                port: 4000,
                options: Options::default()
            }
        );
        assert_eq!(
            parse("migrate --env-file=.env.test").unwrap(),
            Command::Migrate {
                options: Options {
                    env_file: Some(".env.test".into())
                }
            }
        );
        assert!(matches!(
            parse("explain - --json").unwrap(),
            Command::Explain { credential, json: true, .. } if credential == "-"
        ));
        assert_eq!(
            parse("sam-template --single").unwrap(),
            Command::SamTemplate {
                single: true,
                write: false,
                root: None
            }
        );
        // --write writes both; --root only with it.
        assert!(parse("sam-template --single --write").is_err());
        assert!(parse("sam-template --root .").is_err());
    }

    #[test]
    fn help_version_and_errors_come_in_clap_s_form() {
        assert_eq!(
            parse("").unwrap_err().kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(
            parse("--version").unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
        assert_eq!(
            parse("api-keys create --help").unwrap_err().kind(),
            ErrorKind::DisplayHelp
        );
        assert!(refused("dev --port").contains("a value is required"));
        assert!(refused("dev --port 99999").contains("99999"));
        assert!(refused("migrate --port 1").contains("unexpected argument '--port'"));
        assert!(refused("deploy").contains("unrecognized subcommand 'deploy'"));
        assert!(refused("doctor --url api.example.com").contains("not an http(s) URL"));
        assert!(refused("probe https://a.example --cookie x").contains("NAME=VALUE"));
    }

    #[test]
    fn parses_api_keys_subcommands() {
        let api_keys = |line: &str| match parse(line).unwrap() {
            Command::ApiKeys(command) => command,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            api_keys(
                "api-keys create --name billing --scope orders:read --scope=orders:write --expires-in-days 30"
            ),
            ApiKeysCommand::Create {
                name: "billing".to_owned(),
                scopes: vec!["orders:read".to_owned(), "orders:write".to_owned()],
                expires_in_days: Some(30),
                options: Options::default(),
            }
        );
        assert_eq!(
            api_keys("api-keys list --json --env-file .env.test"),
            ApiKeysCommand::List {
                json: true,
                options: Options {
                    env_file: Some(".env.test".into())
                },
            }
        );
        for (line, lookup) in [
            ("api-keys revoke AbCdEfGh_-12", "AbCdEfGh_-12"),
            ("api-keys revoke -AbCdEfGh-12", "-AbCdEfGh-12"),
            ("api-keys revoke -- --AbCdEfGh-1", "--AbCdEfGh-1"),
        ] {
            assert_eq!(
                api_keys(line),
                ApiKeysCommand::Revoke {
                    id_or_lookup: lookup.to_owned(),
                    options: Options::default(),
                }
            );
        }
    }

    #[test]
    fn parses_new_route() {
        let Command::New(NewCommand::Route {
            pattern,
            methods,
            needs,
            root,
        }) = parse(
            "new route /api/orders/[id] --methods GET,PATCH --needs auth,database --root /tmp/p",
        )
        .unwrap()
        else {
            panic!("not new route");
        };
        assert_eq!(pattern.as_str(), "/api/orders/[id]");
        assert_eq!(methods.listed(), "GET, PATCH");
        assert!(needs.auth && needs.database);
        assert_eq!(root, Some(PathBuf::from("/tmp/p")));
        let Command::New(NewCommand::Route {
            methods,
            needs,
            root,
            ..
        }) = parse("new route /api/ping").unwrap()
        else {
            panic!("not new route");
        };
        assert_eq!(methods.listed(), "GET");
        assert_eq!(needs, RouteNeeds::default());
        assert_eq!(root, None);
        assert!(refused("new route /orders").contains("does not start with /api/"));
        assert!(refused("new route /api/x --methods GET,FETCH").contains("`FETCH`"));
        assert!(refused("new route /api/x --needs cache").contains("`cache` is not a need"));
        assert!(refused("new route").contains("<PATTERN>"));
    }

    #[test]
    fn refuses_bad_api_keys_arguments() {
        assert!(refused("api-keys rotate").contains("unrecognized subcommand 'rotate'"));
        assert!(refused("api-keys create").contains("--name <NAME>"));
        assert!(refused("api-keys create billing").contains("unexpected argument 'billing'"));
        assert!(refused("api-keys create --name x --expires-in-days 0").contains("1..=36500"));
        assert!(refused("api-keys create --name x --expires-in-days soon").contains("soon"));
        assert!(
            refused("api-keys create --name x --json").contains("unexpected argument '--json'")
        );
        assert!(refused("api-keys revoke").contains("<ID_OR_LOOKUP>"));
        assert!(refused("api-keys revoke a b").contains("unexpected argument 'b'"));
    }
}
