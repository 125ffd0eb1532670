//! `gatehouse`: the local side of Gatehouse.
//!
//! - `gatehouse dev [--port 3000] [--env-file .env]`: creates the
//!   development database when missing, applies migrations, then serves
//!   every route in one process, routed as Vercel routes them.
//! - `gatehouse migrate [--env-file .env]`: applies pending migrations
//!   (creating the database first in development).
//! - `gatehouse api-keys create|list|revoke`: manages the API keys of
//!   server-to-server callers (see [`api_keys`]).
//! - `gatehouse doctor [--token T] [--url U]`: checks a configuration and
//!   what it would meet, each problem with its fix (see [`doctor`]).
//! - `gatehouse explain CREDENTIAL`: walks one credential through the
//!   authenticator, check by check (see [`explain`]).
//! - `gatehouse probe URL`: asks a running deployment what a browser would
//!   meet: CORS, cookies, the answer to a credential (see [`probe`]).
//! - `gatehouse new route /api/orders/[id] --methods GET,PATCH --needs
//!   auth,database`: adds a route to the project, from its handlers to its
//!   test (see [`new_route`]).
//! - `gatehouse sam-template [--single] [--write]`: the AWS SAM templates of
//!   `deploy/aws/`, from the route table (see [`sam_template`]).
//!
//! The diagnostics live here, not in the runtime crate, and use only its
//! public API: a function binary carries none of them.
//!
//! All read the same environment the functions read, plus `.env` (process
//! variables win, as with every dotenv loader).

mod api_keys;
// args.rs's doc comments are clap's help text, written for a terminal
// (`<path>`, `[id]`), not for rustdoc.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]
mod args;
mod browser_rules;
mod dev_database;
mod dev_token;
mod doctor;
mod explain;
mod level;
mod new_route;
mod probe;
mod sam_template;

use std::net::SocketAddr;
use std::process::ExitCode;

use gatehouse::config::{Config, Env, Environment, Needs};
use gatehouse::db::{Database, migrations};
use gatehouse::{App, observability};
use gatehouse_app::routes::ROUTES;

use clap::{CommandFactory, Parser};

use crate::args::{Command, NewCommand, Options};

fn main() -> ExitCode {
    // Help, --version and usage errors are printed by clap in its standard
    // form (errors exit 2).
    let command = args::Cli::parse().command;
    if let Command::New(NewCommand::Route {
        pattern,
        methods,
        needs,
        root,
    }) = command
    {
        return new_route::run(&new_route::Request {
            pattern,
            methods,
            needs,
            root,
        });
    }
    if let Command::SamTemplate {
        single,
        write,
        root,
    } = command
    {
        return sam_template::run(single, write, root.as_deref(), ROUTES);
    }
    if let Command::Completions { shell } = command {
        clap_complete::generate(
            shell,
            &mut args::Cli::command(),
            "gatehouse",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("gatehouse: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Dev { port, options } => runtime.block_on(dev(port, options)),
        Command::Migrate { options } => runtime.block_on(migrate(options)),
        Command::ApiKeys(command) => runtime.block_on(api_keys::run(command)),
        Command::Doctor {
            options,
            json,
            token,
            url,
        } => runtime.block_on(run_doctor(options, json, token, url)),
        Command::Probe {
            url,
            token,
            cookie,
            origin,
            json,
        } => runtime.block_on(run_probe(url, token, cookie, origin, json)),
        Command::Explain {
            options,
            credential,
            cookie,
            json,
        } => runtime.block_on(explain::run(options, credential, cookie, json)),
        Command::Token {
            sub,
            claims,
            expires_in,
            options,
        } => token(&options, &sub, claims.unwrap_or_default(), expires_in),
        Command::Completions { .. } | Command::New(_) | Command::SamTemplate { .. } => {
            ExitCode::SUCCESS
        }
    }
}

/// The process environment over the env file, if there is one.
fn environment(options: &Options) -> Result<Env, String> {
    let mut env = Env::default();
    let path = options.env_file.clone().unwrap_or_else(|| ".env".into());
    match dotenvy::from_path_iter(&path) {
        Ok(entries) => {
            for entry in entries {
                let (key, value) = entry
                    .map_err(|err| format!("{} is not a valid env file: {err}", path.display()))?;
                env.set(key, value);
            }
        }
        Err(err) if err.not_found() && options.env_file.is_none() => {}
        Err(err) => return Err(format!("could not read {}: {err}", path.display())),
    }
    for (key, value) in std::env::vars_os() {
        if let Some(key) = key.to_str() {
            env.set(key, value);
        }
    }
    Ok(env)
}

fn load(options: &Options, needs: Needs) -> Result<Config, ExitCode> {
    let env = environment(options).map_err(|message| {
        eprintln!("gatehouse: {message}");
        ExitCode::FAILURE
    })?;
    let config = Config::load(&env, needs);
    observability::init(observability::settings(&config));
    config.map_err(|errors| {
        eprintln!(
            "gatehouse: the configuration has {} problem(s):",
            errors.problems.len()
        );
        for problem in &errors.problems {
            eprintln!("  - {problem}");
        }
        ExitCode::FAILURE
    })
}

/// `gatehouse doctor`: pass/warn/fail lines, each problem with its fix.
async fn run_doctor(
    options: Options,
    json: bool,
    token: Option<String>,
    url: Option<String>,
) -> ExitCode {
    let env = match environment(&options) {
        Ok(env) => env,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            return ExitCode::from(2);
        }
    };
    let sample = match token.as_deref() {
        Some("-") => match explain::read_stdin() {
            Ok(text) => Some(text),
            Err(message) => {
                eprintln!("gatehouse: {message}");
                return ExitCode::from(2);
            }
        },
        other => other.map(str::to_owned),
    };
    let inputs = doctor::Inputs {
        api_url: url,
        sample,
    };
    let report = doctor::examine(&env, &inputs).await;
    if json {
        if let Err(code) = print_json(&report) {
            return code;
        }
    } else {
        for finding in &report.findings {
            let level = finding.level.label();
            println!("{level}  {:<14} {}", finding.area, finding.message);
            if let Some(fix) = &finding.fix {
                println!("      {:<14} fix: {fix}", "");
            }
        }
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `gatehouse probe`: a running deployment as a client (and a browser at
/// `--origin`) experiences it.
async fn run_probe(
    url: String,
    token: Option<String>,
    cookie: Option<String>,
    origin: Option<String>,
    json: bool,
) -> ExitCode {
    let target = probe::ProbeTarget {
        base_url: url,
        token,
        cookie,
        origin,
        timeout: std::time::Duration::from_secs(10),
    };
    let report = probe::probe(&target).await;
    if json {
        if let Err(code) = print_json(&report) {
            return code;
        }
    } else {
        for step in &report.steps {
            println!("{}  {:<15} {}", step.level.label(), step.name, step.message);
            if let Some(fix) = &step.fix {
                println!("      {:<15} fix: {fix}", "");
            }
        }
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A report as pretty JSON on stdout, for `--json`.
fn print_json(value: &impl serde::Serialize) -> Result<(), ExitCode> {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            Ok(())
        }
        Err(err) => {
            eprintln!("gatehouse: could not write JSON: {err}");
            Err(ExitCode::FAILURE)
        }
    }
}

async fn migrate(options: Options) -> ExitCode {
    let config = match load(&options, Needs::DATABASE) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(settings) = &config.database else {
        return ExitCode::FAILURE;
    };
    match dev_database::create_if_missing(settings, config.environment).await {
        Ok(Some(name)) => println!("gatehouse: created the development database `{name}`"),
        Ok(None) => {}
        Err(err) => {
            eprintln!("gatehouse: migration failed: {err}\n  fix: {}", err.hint());
            return ExitCode::FAILURE;
        }
    }
    let legacy = legacy_namespace(&config);
    match apply_migrations(settings, &legacy).await {
        Ok(report) => {
            println!("gatehouse: {}", describe_report(&report));
            if report
                .applied
                .iter()
                .any(|m| m.component == migrations::RUNTIME.name && m.version == IDENTITY_MIGRATION)
            {
                describe_legacy_namespace(&config, &legacy);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("gatehouse: migration failed: {err}\n  fix: {}", err.hint());
            ExitCode::FAILURE
        }
    }
}

/// `applied gatehouse 5, app 1; database is at gatehouse 5, app 1`, or
/// `database is up to date (gatehouse 5, app 1)`.
fn describe_report(report: &migrations::MigrationReport) -> String {
    let versions = report
        .versions
        .iter()
        .map(|v| format!("{} {}", v.component, v.version))
        .collect::<Vec<_>>()
        .join(", ");
    if report.applied.is_empty() {
        format!("database is up to date ({versions})")
    } else {
        let applied = report
            .applied
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        format!("applied migration(s) {applied}; database is at {versions}")
    }
}

/// The migration that gave stored identities their namespace.
const IDENTITY_MIGRATION: i32 = 4;

/// The namespace rows stored with a bare subject belong to: the
/// configuration's only user namespace, or `legacy` when it has several or
/// none (then the rows wait to be re-keyed by hand).
fn legacy_namespace(config: &Config) -> String {
    match config.auth.user_namespaces().as_slice() {
        [only] => only.clone(),
        _ => gatehouse::auth::identity::LEGACY.to_owned(),
    }
}

fn describe_legacy_namespace(config: &Config, legacy: &str) {
    let namespaces = config.auth.user_namespaces();
    if legacy == gatehouse::auth::identity::LEGACY {
        println!(
            "gatehouse: stored identities now carry their issuer. Rows stored before (task owners, sessions, revocations, profiles) were assigned to the namespace `legacy`, because this configuration has {} user namespaces ({}); `api_key:<id>` owners became `api-key:<id>`.\n  fix: if they belong to one issuer, re-key them, e.g. UPDATE gatehouse_tasks SET owner = 'NAME:' || substr(owner, 8) WHERE owner LIKE 'legacy:%' (and gatehouse_idempotency_keys.owner, gatehouse_subject_cutoffs.subject, gatehouse_users.id alike)",
            namespaces.len(),
            if namespaces.is_empty() {
                "none".to_owned()
            } else {
                namespaces.join(", ")
            }
        );
    } else {
        println!(
            "gatehouse: stored identities now carry their issuer. Rows stored before were assigned to `{legacy}`, this configuration's only user namespace; `api_key:<id>` owners became `api-key:<id>`."
        );
    }
}

async fn apply_migrations(
    settings: &gatehouse::config::DatabaseConfig,
    legacy_namespace: &str,
) -> Result<migrations::MigrationReport, gatehouse::db::DbError> {
    let db = Database::new(settings)?;
    let report =
        migrations::apply_assuming(&db, &[&gatehouse_app::migrations::APP], legacy_namespace).await;
    db.close();
    report
}

async fn dev(port: u16, options: Options) -> ExitCode {
    // The dev server starts even with a broken configuration, so the
    // `misconfigured` answers can be seen as a deployment would give them.
    // Set variables are validated now; what each route needs is checked per
    // route, so /api/health works before auth or the database is set up.
    let env = match environment(&options) {
        Ok(env) => env,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config::load(&env, Needs::NONE);
    observability::init(observability::settings(&config));
    if let Ok(config) = &config
        && let Some(settings) = &config.database
    {
        match dev_database::create_if_missing(settings, config.environment).await {
            Ok(Some(name)) => {
                tracing::info!(target: "gatehouse::dev", database = %name, "created the development database")
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!(target: "gatehouse::dev", error = %err, fix = %err.hint(), "the database could not be reached; routes that use it will answer 503")
            }
        }
        match apply_migrations(settings, &legacy_namespace(config)).await {
            Ok(report) => {
                tracing::info!(target: "gatehouse::dev", migrations = %describe_report(&report), "database schema ready")
            }
            Err(err) => {
                tracing::error!(target: "gatehouse::dev", error = %err, fix = %err.hint(), "migrations could not be applied; routes that use the database will answer 503")
            }
        }
    }
    let config = config.map(trust_development_tokens);
    let app = App::from_config(config);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "gatehouse: could not listen on {addr}: {err}; pass --port to use another port"
            );
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    println!("gatehouse dev: listening on http://{local}");
    for route in ROUTES {
        let methods: Vec<&str> = route.methods.iter().map(|m| m.as_str()).collect();
        let missing = app
            .state()
            .map(|state| state.config().missing(route.needs))
            .unwrap_or_default();
        let note = match missing.first() {
            Some(problem) => format!(
                "  (answers misconfigured: {} {})",
                problem.variable, problem.problem
            ),
            None => String::new(),
        };
        println!(
            "  {:<7} http://{local}{}{note}",
            methods.join(","),
            route.pattern
        );
    }
    match gatehouse::host::dev::serve(app, ROUTES, listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `gatehouse token`: a development token on stdout, how to use it on
/// stderr.
fn token(
    options: &Options,
    subject: &str,
    claims: serde_json::Map<String, serde_json::Value>,
    lifetime: std::time::Duration,
) -> ExitCode {
    let env = match environment(options) {
        Ok(env) => env,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            return ExitCode::FAILURE;
        }
    };
    let environment = match Config::load(&env, Needs::NONE) {
        Ok(config) => config.environment,
        Err(errors) => errors.environment,
    };
    if environment != Environment::Development {
        eprintln!(
            "gatehouse: no token minted: ENVIRONMENT is {}, and development tokens are only for `gatehouse dev` on your machine\n  fix: unset ENVIRONMENT (and VERCEL_ENV) or set ENVIRONMENT=development; for a deployment, get a token from its identity provider",
            environment.as_str()
        );
        return ExitCode::from(2);
    }
    let now = u64::try_from(gatehouse::clock::unix_now()).unwrap_or(0);
    let minted = dev_token::DevKey::load_or_create()
        .and_then(|key| key.mint(subject, claims, lifetime, now));
    match minted {
        Ok(token) => {
            println!("{token}");
            eprintln!(
                "gatehouse: a development token for `{subject}` (issuer {issuer}), valid {minutes} min; `gatehouse dev` started in this directory accepts it:\n  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:3000/api/auth/session",
                issuer = dev_token::ISSUER,
                minutes = lifetime.as_secs().div_ceil(60),
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("gatehouse: no token minted: {message}");
            ExitCode::FAILURE
        }
    }
}

/// In development, `gatehouse dev` also trusts `gatehouse token`'s key, as
/// one more issuer with its own namespace (`gatehouse-dev`).
fn trust_development_tokens(mut config: Config) -> Config {
    if config.environment != Environment::Development {
        return config;
    }
    match dev_token::DevKey::load_or_create().and_then(|key| key.issuer_settings()) {
        Ok(issuer) => {
            config.auth.issuers.push(issuer);
            tracing::info!(target: "gatehouse::dev", issuer = dev_token::ISSUER, "development tokens from `gatehouse token` are accepted");
        }
        Err(message) => {
            tracing::warn!(target: "gatehouse::dev", problem = %message, "development tokens from `gatehouse token` are not accepted");
        }
    }
    config
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
