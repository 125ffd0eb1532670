//! Command-line parsing, by hand: two subcommands do not justify a parser
//! crate's compile time.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage:
  gatehouse dev [--port PORT] [--env-file FILE]   serve every route locally (default port 3000)
  gatehouse migrate [--env-file FILE]             apply pending database migrations
  gatehouse help                                  show this

Both read the process environment and FILE (default: .env, if present).";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Dev(Options),
    Migrate(Options),
    Help,
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
    let mut options = Options {
        port: 3000,
        env_file: None,
    };
    let allows_port = name == "dev";
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
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown option {other} for `{name}`")),
        }
    }
    match name.as_str() {
        "dev" => Ok(Command::Dev(options)),
        "migrate" => Ok(Command::Migrate(options)),
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(format!("unknown command `{other}`")),
    }
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
}
