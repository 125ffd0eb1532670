//! The bench database: dropped and recreated with `psql`, then migrated with
//! the project's own CLI (`gatehouse migrate`), as a deployment would be.

use std::path::Path;
use std::process::Command;

/// `admin_url` with its database replaced by `name` (query string kept).
pub fn database_url(admin_url: &str, name: &str) -> Result<String, String> {
    let scheme_end = admin_url
        .find("://")
        .map(|at| at + 3)
        .ok_or_else(|| format!("not a postgres:// URL: {admin_url}"))?;
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |at| scheme_end + at);
    let mut url = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    Ok(url)
}

/// Drops (forcing out stale sessions) and recreates `name`.
pub fn recreate(admin_url: &str, name: &str) -> Result<(), String> {
    psql(
        admin_url,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )?;
    psql(admin_url, &format!("CREATE DATABASE \"{name}\""))
}

pub fn migrate(cli: &Path, url: &str, work: &Path) -> Result<String, String> {
    // From the scratch directory, so no `.env` of the checkout is read.
    let output = Command::new(cli)
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", url)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(work)
        .output()
        .map_err(|err| format!("could not run {}: {err}", cli.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "`{} migrate` failed ({}):\n{text}",
            cli.display(),
            output.status
        ))
    }
}

/// The server's `ssl` setting (`on`/`off`): with the default `sslmode=prefer`
/// the functions negotiate TLS when it is on.
pub fn server_ssl(url: &str) -> Result<String, String> {
    psql_output(url, "SHOW ssl")
}

fn psql(url: &str, sql: &str) -> Result<(), String> {
    psql_output(url, sql).map(drop)
}

fn psql_output(url: &str, sql: &str) -> Result<String, String> {
    let output = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .map_err(|err| format!("could not run psql ({err}); install postgresql-client"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "psql `{sql}` failed ({}): {}\n(is PostgreSQL up? `pg_isready -h 127.0.0.1`)",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_the_database_name() {
        let name = "gatehouse_bench";
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", name).as_deref(),
            Ok("postgres://postgres@127.0.0.1:5432/gatehouse_bench")
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", name).as_deref(),
            Ok("postgres://u:p@h/gatehouse_bench?sslmode=disable")
        );
        assert_eq!(
            database_url("postgresql://h:5432", name).as_deref(),
            Ok("postgresql://h:5432/gatehouse_bench")
        );
        assert!(database_url("h:5432/db", name).is_err());
    }
}
