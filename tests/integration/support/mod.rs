//! Helpers shared by the integration tests.

pub mod db;
pub mod function;
pub mod http_client;
pub mod lambda_emulator;
pub mod tcp_proxy;
