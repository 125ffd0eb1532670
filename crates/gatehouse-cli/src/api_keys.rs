//! `gatehouse api-keys create|list|revoke`: manages the keys that
//! server-to-server callers present as `X-API-Key: gk_...` (or
//! `Authorization: ApiKey gk_...`).
//!
//! A new key goes to stdout alone on its line (so `KEY=$(gatehouse api-keys
//! create ...)` captures exactly the key); everything meant for a person goes
//! to stderr.

use std::error::Error as _;
use std::process::ExitCode;
use std::time::Duration;

use gatehouse::auth::api_keys::{self, ApiKeyRecord, CreateError};
use gatehouse::clock::rfc3339;
use gatehouse::clock::unix_now;
use gatehouse::config::Needs;
use gatehouse::db::{Database, DbError};

use crate::args::ApiKeysCommand;

pub async fn run(command: ApiKeysCommand) -> ExitCode {
    let config = match crate::load(command.options(), Needs::DATABASE) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(settings) = &config.database else {
        return ExitCode::FAILURE;
    };
    let db = match Database::new(settings) {
        Ok(db) => db,
        Err(err) => return store_failure("open the database pool", &err),
    };
    let code = match command {
        ApiKeysCommand::Create {
            name,
            scopes,
            expires_in_days,
            ..
        } => create(&db, &name, &scopes, expires_in_days).await,
        ApiKeysCommand::List { json, .. } => list(&db, json).await,
        ApiKeysCommand::Revoke { id_or_lookup, .. } => revoke(&db, &id_or_lookup).await,
    };
    db.close();
    code
}

async fn create(
    db: &Database,
    name: &str,
    scopes: &[String],
    expires_in_days: Option<u32>,
) -> ExitCode {
    let expires_in = expires_in_days.map(|days| Duration::from_secs(u64::from(days) * 86_400));
    let key = match api_keys::create(db, name, scopes, expires_in).await {
        Ok(key) => key,
        Err(CreateError::Store(err)) => return store_failure("create the API key", &err),
        Err(err) => {
            let fix = match err {
                CreateError::InvalidScope { .. } => {
                    "a scope is made of a-z 0-9 : _ . - (e.g. --scope orders:read)"
                }
                CreateError::EmptyName
                | CreateError::NameTooLong { .. }
                | CreateError::NameHasControl => {
                    "pass --name with a short label for the caller (e.g. --name billing-worker)"
                }
                CreateError::ExpiryOutOfRange => "pass --expires-in-days from 1 to 36500",
                CreateError::Random | CreateError::Store(_) => "try again",
            };
            eprintln!("gatehouse: the API key was not created: {err}\n  fix: {fix}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", key.key.expose());
    eprintln!(
        "gatehouse: created API key {:?}\n  id:      {}\n  lookup:  {}\n  scopes:  {}\n  expires: {}",
        key.name,
        key.id,
        key.lookup,
        scopes_cell(&key.scopes, "(none)"),
        key.expires_at.map_or_else(|| "never".to_owned(), rfc3339),
    );
    eprintln!(
        "The key above (on stdout) is shown only this once: Gatehouse keeps only its SHA-256. \
         Store it in the caller's secret manager now; if it is lost, create another and run \
         `gatehouse api-keys revoke {}`.",
        key.lookup
    );
    ExitCode::SUCCESS
}

async fn list(db: &Database, json: bool) -> ExitCode {
    let records = match api_keys::list(db).await {
        Ok(records) => records,
        Err(err) => return store_failure("list the API keys", &err),
    };
    if json {
        return match api_keys::to_json(&records) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("gatehouse: could not write the list as JSON: {err}");
                ExitCode::FAILURE
            }
        };
    }
    print!("{}", table(&records, unix_now()));
    if records.is_empty() {
        eprintln!(
            "gatehouse: no API keys yet; create one with `gatehouse api-keys create --name NAME`"
        );
    }
    ExitCode::SUCCESS
}

async fn revoke(db: &Database, id_or_lookup: &str) -> ExitCode {
    // A whole key (say, one found in a log) names its own lookup.
    let target = api_keys::parse(id_or_lookup.trim()).map_or(id_or_lookup, |key| key.lookup());
    match api_keys::revoke(db, target).await {
        Ok(Some(record)) => {
            let since = record
                .revoked_at
                .map_or_else(String::new, |at| format!(" since {}", rfc3339(at)));
            println!(
                "gatehouse: API key {} ({:?}) is revoked{since}; requests presenting it are refused",
                record.lookup, record.name
            );
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!(
                "gatehouse: no API key has the id or lookup {target:?}\n  fix: `gatehouse api-keys list` shows the id and lookup of every key"
            );
            ExitCode::FAILURE
        }
        Err(err) => store_failure("revoke the API key", &err),
    }
}

/// Names the problem and the fix. A missing table is recognised by its
/// SQLSTATE, so the advice does not depend on the server's language.
fn store_failure(action: &str, err: &DbError) -> ExitCode {
    if api_keys::table_missing(err) {
        eprintln!(
            "gatehouse: could not {action}: this database has no gatehouse_api_keys table\n  fix: run `gatehouse migrate` with the same DATABASE_URL"
        );
        return ExitCode::FAILURE;
    }
    let fix = match err {
        // The library's hint for a failed query points at a request log,
        // which a CLI run does not have.
        DbError::Query(_) => "check that DATABASE_URL names the Gatehouse database, that its user may read and write gatehouse_api_keys, and that `gatehouse migrate` has run".to_owned(),
        other => other.hint(),
    };
    eprintln!(
        "gatehouse: could not {action}: {}\n  fix: {fix}",
        chain(err)
    );
    ExitCode::FAILURE
}

/// The error and its sources, each once: the server's message is usually the
/// innermost source (`db error` alone says nothing).
fn chain(err: &DbError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn scopes_cell(scopes: &[String], empty: &str) -> String {
    if scopes.is_empty() {
        empty.to_owned()
    } else {
        scopes.join(",")
    }
}

/// An aligned table, one key per line; `now` marks expired keys.
fn table(records: &[ApiKeyRecord], now: i64) -> String {
    let time = |at: Option<i64>| at.map_or_else(|| "-".to_owned(), rfc3339);
    let header = [
        "ID",
        "LOOKUP",
        "NAME",
        "SCOPES",
        "CREATED",
        "LAST USED",
        "EXPIRES",
        "REVOKED",
    ]
    .map(str::to_owned);
    let mut rows = vec![header];
    for record in records {
        let expires = match record.expires_at {
            Some(at) if at <= now => format!("{} (expired)", rfc3339(at)),
            other => time(other),
        };
        rows.push([
            record.id.to_string(),
            record.lookup.clone(),
            record.name.clone(),
            scopes_cell(&record.scopes, "-"),
            rfc3339(record.created_at),
            time(record.last_used_at),
            expires,
            time(record.revoked_at),
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_marks_expired_keys() {
        let record = |lookup: &str, expires_at, revoked_at| ApiKeyRecord {
            // The CLI does not depend on `uuid`; the field's type drives the parse.
            id: "00000000-0000-4000-8000-000000000001".parse().unwrap(),
            lookup: lookup.to_owned(),
            name: "billing worker".to_owned(),
            scopes: vec!["orders:read".to_owned(), "orders:write".to_owned()],
            created_at: 0,
            last_used_at: Some(60),
            expires_at,
            revoked_at,
        };
        let text = table(
            &[
                record("AAAAAAAAAAAA", Some(100), None),
                record("BBBBBBBBBBBB", None, Some(30)),
            ],
            200,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("ID"), "{text}");
        let column = lines[0].find("LOOKUP").unwrap();
        assert_eq!(lines[1].find("AAAAAAAAAAAA"), Some(column), "{text}");
        assert!(lines[1].contains("orders:read,orders:write"), "{text}");
        assert!(
            lines[1].contains("1970-01-01T00:01:40Z (expired)"),
            "{text}"
        );
        assert!(lines[2].ends_with("1970-01-01T00:00:30Z"), "{text}");
    }

    #[test]
    fn an_empty_table_is_just_the_header() {
        assert_eq!(table(&[], 0).lines().count(), 1);
    }
}
