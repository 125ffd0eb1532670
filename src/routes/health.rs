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
            let version = migrations::current_version(&db).await?;
            Ok::<_, DbError>((round_trip, version))
        }
        .await;

        let expected = migrations::latest_version();
        let pool = db.status();
        let (status, failing, database, problem) = match check {
            Ok((round_trip, version)) if version >= expected => (
                StatusCode::OK,
                None,
                json!({
                    "status": "up",
                    "latency_ms": round_trip.as_secs_f64() * 1000.0,
                    "pool": pool,
                    "migration_version": version,
                    "expected_migration_version": expected,
                }),
                None,
            ),
            Ok((round_trip, version)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("migrations"),
                json!({
                    "status": "schema_outdated",
                    "latency_ms": round_trip.as_secs_f64() * 1000.0,
                    "pool": pool,
                    "migration_version": version,
                    "expected_migration_version": expected,
                }),
                Some(DbError::SchemaBehind {
                    found: version,
                    expected,
                }),
            ),
            Err(err) => {
                tracing::warn!(target: "gatehouse::db", request_id = %ctx.request_id, error = %err, "database check failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some("database"),
                    json!({ "status": "down", "pool": pool, "expected_migration_version": expected }),
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
