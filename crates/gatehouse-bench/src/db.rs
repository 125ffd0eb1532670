//! The bench database: dropped and recreated with `psql`, then migrated with
//! the project's own CLI (`gatehouse migrate`), as a deployment would be.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::bench::PsqlConnect;
use crate::stats::Summary;

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

/// `psql -c 'select 1'` timed from exec to exit, `runs` times each with
/// `sslmode=require` and `sslmode=disable`, alternated (after one discarded
/// pair), so both see the same machine.
pub fn psql_connect_times(url: &str, runs: usize) -> Result<PsqlConnect, String> {
    let psql = psql_binary();
    let with_mode = |mode: &str| {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}sslmode={mode}")
    };
    let (tls_url, plain_url) = (with_mode("require"), with_mode("disable"));
    let time = |url: &str| -> Result<f64, String> {
        let started = Instant::now();
        let output = Command::new(&psql)
            .args(["-XqAt", "-c", "select 1", url])
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .map_err(|err| format!("could not run {psql}: {err}; install postgresql-client"))?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if output.status.success() && output.stdout.starts_with(b"1") {
            Ok(elapsed)
        } else {
            Err(format!(
                "{psql} -c 'select 1' failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    };
    let (mut tls, mut plain) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for run in 0..=runs {
        let (with_tls, without) = (time(&tls_url)?, time(&plain_url)?);
        if run > 0 {
            tls.push(with_tls);
            plain.push(without);
        }
    }
    Ok(PsqlConnect {
        psql,
        tls: Summary::of(&tls).ok_or("no psql run measured")?,
        plain: Summary::of(&plain).ok_or("no psql run measured")?,
    })
}

/// Debian's `psql` is `pg_wrapper`, a Perl script that picks a cluster's
/// version first (about 150 ms here); the comparison is with the client
/// itself, so take the newest `/usr/lib/postgresql/*/bin/psql` when there is one.
fn psql_binary() -> String {
    let mut found: Vec<(u32, String)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let path = entry.path().join("bin/psql");
            path.is_file()
                .then(|| (version, path.display().to_string()))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map_or_else(|| "psql".to_owned(), |(_, path)| path)
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
