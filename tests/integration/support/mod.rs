//! Helpers shared by the integration tests.

pub mod chromium;
pub mod db;
pub mod function;
pub mod http_client;
pub mod jwks_server;
pub mod lambda_emulator;
pub mod mint;
pub mod pg_cluster;
pub mod pgbouncer;
pub mod source_tree;
pub mod tcp_proxy;
pub mod vercel_edge;
