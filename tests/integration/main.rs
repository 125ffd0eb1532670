//! Integration tests: one binary (link time), modules by subject. They drive
//! the real compiled functions the way Vercel and Lambda do, against a real
//! PostgreSQL. Set TEST_LOG=1 to see the functions' logs.

// Test code may unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_keys_cli;
mod auth;
mod bad_input;
mod browser;
mod config_logs;
mod database;
mod deploy_config;
mod dev_server;
mod docs_tables;
mod doctor_cli;
mod explain_cli;
mod first_request;
mod lambda_host;
mod migration_history;
mod module_graph;
mod new_route_cli;
mod openapi;
mod panic_probe;
mod pooler;
mod probe_cli;
mod readme_example;
mod revocation_rule;
mod route_table;
mod sam_template;
mod scenarios;
mod schema_outdated;
mod security;
mod single_function;
mod tasks;
mod tasks_reliability;
mod vercel_host;
