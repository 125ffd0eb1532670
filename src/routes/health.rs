//! `GET /api/health` (liveness, no I/O) and `GET /api/health/detailed`
//! (configuration, database, pool and schema).

use std::time::Instant;

use http::StatusCode;
use serde_json::json;

use gatehouse::db::{DbError, migrations};
use gatehouse::error::RequestError;
use gatehouse::http::json_response;
use gatehouse::route::{Ctx, HandlerFuture};

pub(super) fn liveness(_ctx: Ctx) -> HandlerFuture {
    Box::pin(async {
        Ok(json_response(
            StatusCode::OK,
            &json!({ "status": "healthy" }),
        ))
    })
}

pub(super) fn detailed(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let config = ctx.state.config();
        let shows_details = config.environment.shows_details();
        let db = ctx.state.database()?;

        let started = Instant::now();
        let check = async {
            db.query("SELECT 1", &[]).await?;
            let round_trip = started.elapsed();
            let versions = migrations::versions_in(&db, &[&crate::migrations::APP]).await?;
            Ok::<_, DbError>((round_trip, versions))
        }
        .await;

        let pool = db.status();
        let (status, failing, database, problem) = match check {
            Ok((round_trip, versions)) => {
                let behind = versions.iter().find(|v| !v.is_current());
                let database = json!({
                    "status": if behind.is_some() { "schema_outdated" } else { "up" },
                    "latency_ms": round_trip.as_secs_f64() * 1000.0,
                    "pool": pool,
                    "migrations": versions.iter().map(|v| json!({
                        "component": v.component,
                        "version": v.version,
                        "expected": v.expected,
                    })).collect::<Vec<_>>(),
                });
                match behind {
                    None => (StatusCode::OK, None, database, None),
                    Some(behind) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Some("migrations"),
                        database,
                        Some(DbError::SchemaBehind {
                            component: behind.component,
                            found: behind.version,
                            expected: behind.expected,
                        }),
                    ),
                }
            }
            Err(err) => {
                tracing::warn!(target: "gatehouse::db", request_id = %ctx.request_id, error = %err, "database check failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some("database"),
                    json!({ "status": "down", "pool": pool }),
                    Some(err),
                )
            }
        };

        let mut body = json!({
            "status": if status == StatusCode::OK { "healthy" } else { "unhealthy" },
            "version": gatehouse::VERSION,
            "commit": config.commit_sha,
            "environment": config.environment,
            "checks": {
                "configuration": { "status": "ok", "warnings": config.warnings.len() },
                "database": database,
            },
            "request_id": ctx.request_id.as_str(),
        });
        if let (Some(failing), Some(problem)) = (failing, problem) {
            body["failing"] = json!([failing]);
            body["detail"] = json!(problem.public_detail());
            if shows_details || problem.is_schema_outdated() {
                body["hint"] = json!(problem.hint());
            }
            body["reason"] = json!(RequestError::from(problem).reason().as_str());
        }
        Ok(json_response(status, &body))
    })
}
