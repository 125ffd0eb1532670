//! Command-line parsing, by hand: a handful of subcommands do not justify a
//! parser crate's compile time.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage:
  gatehouse dev [--port PORT] [--env-file FILE]   serve every route locally (default port 3000)
  gatehouse migrate [--env-file FILE]             apply pending database migrations
  gatehouse api-keys create --name NAME [--scope SCOPE]... [--expires-in-days N] [--env-file FILE]
                                                  create a key for a server-to-server caller; the key
                                                  is printed once, on stdout, and cannot be shown again
  gatehouse api-keys list [--json] [--env-file FILE]
                                                  list keys (id, lookup, name, scopes, times), never the key
  gatehouse api-keys revoke ID-OR-LOOKUP [--env-file FILE]
                                                  revoke a key (by id, lookup or the whole key); callers
                                                  using it are refused from then on
  gatehouse doctor [--token SAMPLE] [--url API_URL] [--json] [--env-file FILE]
                                                  check the configuration, Postgres (latency, migrations,
                                                  Better Auth's tables), every JWKS and the issuer's clock,
                                                  the auth server, issuer/audience against BETTER_AUTH_URL,
                                                  a SAMPLE credential from the auth server (a token, cookie
                                                  value, NAME=VALUE or whole Set-Cookie header; - reads
                                                  stdin) and the cookie and CORS rules browsers apply to
                                                  API_URL; each problem with its fix; exit 1 on any failure
  gatehouse probe URL [--token TOKEN] [--cookie NAME=VALUE] [--origin ORIGIN] [--json]
                                                  what a client of the running deployment at URL
                                                  experiences: health, token health and session with the
                                                  credential, and the CORS preflight and cookie rules a
                                                  browser at ORIGIN applies; exit 1 on any failure
  gatehouse explain [--cookie NAME] [--json] [--env-file FILE] CREDENTIAL
                                                  what the functions would make of a token, session
                                                  cookie value or API key (CREDENTIAL, or - to read it
                                                  from stdin), check by check; exit 0 when accepted,
                                                  1 when refused; the credential is shown only as its
                                                  fingerprint
  gatehouse help                                  show this

Every command reads the process environment and FILE (default: .env, if
present); all but `dev` need DATABASE_URL. A SCOPE is made of a-z 0-9 : _ . -
(e.g. orders:read); repeat --scope for several.";

/// Longest `--expires-in-days`: a century, the library's limit.
pub const MAX_EXPIRES_IN_DAYS: u32 = 36_500;

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Dev(Options),
    Migrate(Options),
    ApiKeys(Options, ApiKeysCommand),
    Doctor {
        options: Options,
        json: bool,
        /// A sample credential, or `-` for stdin.
        token: Option<String>,
        /// The API's public URL.
        url: Option<String>,
    },
    Probe {
        url: String,
        token: Option<String>,
        cookie: Option<String>,
        origin: Option<String>,
        json: bool,
    },
    Explain {
        options: Options,
        credential: String,
        cookie: Option<String>,
        json: bool,
    },
    Help,
}

/// `gatehouse api-keys <subcommand>`.
#[derive(Debug, PartialEq, Eq)]
pub enum ApiKeysCommand {
    Create {
        name: String,
        scopes: Vec<String>,
        expires_in_days: Option<u32>,
    },
    List {
        json: bool,
    },
    Revoke {
        id_or_lookup: String,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub port: u16,
    pub env_file: Option<PathBuf>,
}

pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let Some(name) = args.next() else {
        return Ok(Command::Help);
    };
    if name == "api-keys" {
        return parse_api_keys(args);
    }
    if name == "explain" {
        return parse_explain(args);
    }
    if name == "probe" {
        return parse_probe(args);
    }
    let mut options = Options {
        port: 3000,
        env_file: None,
    };
    let allows_port = name == "dev";
    let mut json = false;
    let (mut token, mut url) = (None, None);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--port" if allows_port => {
                let raw = value("--port")?;
                options.port = raw
                    .parse()
                    .map_err(|_| format!("--port {raw} is not a port number (1-65535)"))?;
            }
            "--env-file" => options.env_file = Some(PathBuf::from(value("--env-file")?)),
            "--json" if name == "doctor" => json = true,
            "--token" if name == "doctor" => token = Some(value("--token")?),
            "--url" if name == "doctor" => {
                let raw = value("--url")?;
                if !raw.starts_with("https://") && !raw.starts_with("http://") {
                    return Err(format!(
                        "--url {raw} is not an http(s) URL; pass the API's public URL, e.g. https://api.example.com"
                    ));
                }
                url = Some(raw);
            }
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown option {other} for `{name}`")),
        }
    }
    match name.as_str() {
        "dev" => Ok(Command::Dev(options)),
        "migrate" => Ok(Command::Migrate(options)),
        "doctor" => Ok(Command::Doctor {
            options,
            json,
            token,
            url,
        }),
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(format!("unknown command `{other}`")),
    }
}

/// `probe URL [--token T] [--cookie NAME=VALUE] [--origin O] [--json]`.
fn parse_probe(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let (mut url, mut token, mut cookie, mut origin, mut json) = (None, None, None, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token" => token = Some(args.next().ok_or("--token needs a value")?),
            "--cookie" => cookie = Some(args.next().ok_or("--cookie needs NAME=VALUE")?),
            "--origin" => origin = Some(args.next().ok_or("--origin needs a value")?),
            "--json" => json = true,
            "-h" | "--help" => return Ok(Command::Help),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag} for `probe`"));
            }
            _ if url.is_none() => url = Some(arg),
            _ => return Err("`probe` takes one deployment URL".to_owned()),
        }
    }
    let url = url.ok_or("`probe` needs the deployment's URL, e.g. https://api.example.com")?;
    if cookie.as_deref().is_some_and(|c| !c.contains('=')) {
        return Err("--cookie takes NAME=VALUE, as the browser sends it".to_owned());
    }
    Ok(Command::Probe {
        url,
        token,
        cookie,
        origin,
        json,
    })
}

/// `explain [--cookie NAME] [--json] [--env-file FILE] CREDENTIAL`.
fn parse_explain(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut options = Options {
        port: 3000,
        env_file: None,
    };
    let (mut cookie, mut json, mut credential) = (None, false, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cookie" => cookie = Some(args.next().ok_or("--cookie needs a cookie name")?),
            "--env-file" => {
                options.env_file = Some(PathBuf::from(
                    args.next().ok_or("--env-file needs a value")?,
                ));
            }
            "--json" => json = true,
            "-h" | "--help" => return Ok(Command::Help),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag} for `explain`"));
            }
            _ if credential.is_none() => credential = Some(arg),
            _ => return Err("`explain` takes one credential".to_owned()),
        }
    }
    let credential = credential
        .ok_or("`explain` needs the credential (a token, a cookie value, or - to read stdin)")?;
    Ok(Command::Explain {
        options,
        credential,
        cookie,
        json,
    })
}

/// `api-keys` takes its own flags, so it is parsed apart from `dev` and
/// `migrate`.
fn parse_api_keys(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    const NEEDS_SUBCOMMAND: &str =
        "`api-keys` needs a subcommand: create, list or revoke (see `gatehouse help`)";
    let Some(sub) = args.next() else {
        return Err(NEEDS_SUBCOMMAND.to_owned());
    };
    match sub.as_str() {
        "create" | "list" | "revoke" => {}
        "-h" | "--help" | "help" => return Ok(Command::Help),
        other => {
            return Err(format!(
                "unknown subcommand `api-keys {other}`; {NEEDS_SUBCOMMAND}"
            ));
        }
    }
    let mut options = Options {
        port: 3000,
        env_file: None,
    };
    let mut name = None;
    let mut scopes = Vec::new();
    let mut expires_in_days = None;
    let mut json = false;
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        // Lookups are base64url and may start with `-`, or even `--`: after
        // a bare `--`, everything is positional.
        if arg == "--" {
            positional.extend(args.by_ref());
            break;
        }
        if !arg.starts_with("--") && arg != "-h" {
            positional.push(arg);
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match (sub.as_str(), flag.as_str()) {
            (_, "--env-file") => options.env_file = Some(PathBuf::from(value("--env-file")?)),
            (_, "-h" | "--help") => return Ok(Command::Help),
            ("create", "--name") => name = Some(value("--name")?),
            ("create", "--scope") => scopes.push(value("--scope")?),
            ("create", "--expires-in-days") => {
                let raw = value("--expires-in-days")?;
                let days = raw
                    .parse::<u32>()
                    .ok()
                    .filter(|days| (1..=MAX_EXPIRES_IN_DAYS).contains(days))
                    .ok_or_else(|| {
                        format!(
                            "--expires-in-days {raw} is not a whole number of days from 1 to {MAX_EXPIRES_IN_DAYS}; leave it out for a key that does not expire"
                        )
                    })?;
                expires_in_days = Some(days);
            }
            ("list", "--json") if inline.is_none() => json = true,
            ("revoke", other) => {
                return Err(format!(
                    "unknown option {other} for `api-keys revoke`; if it is a lookup that starts with --, write `gatehouse api-keys revoke -- {other}`"
                ));
            }
            (_, other) => return Err(format!("unknown option {other} for `api-keys {sub}`")),
        }
    }
    let command = match sub.as_str() {
        "create" => {
            if let Some(extra) = positional.first() {
                return Err(format!(
                    "unexpected argument {extra:?} for `api-keys create`; pass the name as --name NAME"
                ));
            }
            let name = name.ok_or(
                "`api-keys create` needs --name NAME, saying who will use the key (e.g. --name billing-worker)",
            )?;
            ApiKeysCommand::Create {
                name,
                scopes,
                expires_in_days,
            }
        }
        "list" => {
            if let Some(extra) = positional.first() {
                return Err(format!("unexpected argument {extra:?} for `api-keys list`"));
            }
            ApiKeysCommand::List { json }
        }
        _ => {
            let mut positional = positional.into_iter();
            let (Some(id_or_lookup), None) = (positional.next(), positional.next()) else {
                return Err(
                    "`api-keys revoke` needs exactly one key id or lookup, as shown by `gatehouse api-keys list`"
                        .to_owned(),
                );
            };
            ApiKeysCommand::Revoke { id_or_lookup }
        }
    };
    Ok(Command::ApiKeys(options, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, String> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn parses_commands_and_options() {
        assert_eq!(parse_str("").unwrap(), Command::Help);
        assert_eq!(
            parse_str("dev --port 4000").unwrap(),
            Command::Dev(Options {
                port: 4000,
                env_file: None
            })
        );
        assert_eq!(
            parse_str("migrate --env-file=.env.test").unwrap(),
            Command::Migrate(Options {
                port: 3000,
                env_file: Some(".env.test".into())
            })
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(
            parse_str("dev --port")
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse_str("dev --port 99999")
                .unwrap_err()
                .contains("not a port")
        );
        assert!(
            parse_str("migrate --port 1")
                .unwrap_err()
                .contains("unknown option")
        );
        assert!(parse_str("deploy").unwrap_err().contains("unknown command"));
    }

    fn api_keys(line: &str) -> ApiKeysCommand {
        match parse_str(line).unwrap() {
            Command::ApiKeys(_, command) => command,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn parses_api_keys_subcommands() {
        assert_eq!(
            api_keys(
                "api-keys create --name billing --scope orders:read --scope=orders:write --expires-in-days 30"
            ),
            ApiKeysCommand::Create {
                name: "billing".to_owned(),
                scopes: vec!["orders:read".to_owned(), "orders:write".to_owned()],
                expires_in_days: Some(30),
            }
        );
        assert_eq!(
            api_keys("api-keys create --name=x"),
            ApiKeysCommand::Create {
                name: "x".to_owned(),
                scopes: vec![],
                expires_in_days: None,
            }
        );
        assert_eq!(
            api_keys("api-keys list"),
            ApiKeysCommand::List { json: false }
        );
        assert_eq!(
            api_keys("api-keys list --json"),
            ApiKeysCommand::List { json: true }
        );
        assert_eq!(
            api_keys("api-keys revoke AbCdEfGh_-12"),
            ApiKeysCommand::Revoke {
                id_or_lookup: "AbCdEfGh_-12".to_owned()
            }
        );
        match parse_str("api-keys list --env-file .env.test").unwrap() {
            Command::ApiKeys(options, _) => {
                assert_eq!(options.env_file, Some(".env.test".into()))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_str("api-keys --help").unwrap(), Command::Help);
        assert_eq!(parse_str("api-keys create --help").unwrap(), Command::Help);
    }

    #[test]
    fn refuses_bad_api_keys_arguments() {
        let err = |line: &str| parse_str(line).unwrap_err();
        assert!(err("api-keys").contains("create, list or revoke"));
        assert!(err("api-keys rotate").contains("unknown subcommand"));
        assert!(err("api-keys create").contains("--name"));
        assert!(err("api-keys create billing").contains("--name NAME"));
        assert!(err("api-keys create --name").contains("needs a value"));
        assert!(err("api-keys create --name x --expires-in-days 0").contains("1 to 36500"));
        assert!(err("api-keys create --name x --expires-in-days soon").contains("whole number"));
        assert!(err("api-keys create --name x --json").contains("unknown option"));
        assert!(err("api-keys list --scope a").contains("unknown option"));
        assert!(err("api-keys list --json=yes").contains("unknown option"));
        assert!(err("api-keys revoke").contains("exactly one"));
        assert!(err("api-keys revoke a b").contains("exactly one"));
        assert!(err("api-keys revoke --port 1").contains("unknown option"));
        assert_eq!(
            api_keys("api-keys revoke -- --AbCdEfGh-1"),
            ApiKeysCommand::Revoke {
                id_or_lookup: "--AbCdEfGh-1".to_owned()
            }
        );
        assert_eq!(
            api_keys("api-keys revoke -AbCdEfGh-12"),
            ApiKeysCommand::Revoke {
                id_or_lookup: "-AbCdEfGh-12".to_owned()
            }
        );
    }
}
