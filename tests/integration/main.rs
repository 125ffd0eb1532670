//! Integration tests: one binary (link time), modules by subject. They drive
//! the real compiled functions the way Vercel and Lambda do, against a real
//! PostgreSQL. Set TEST_LOG=1 to see the functions' logs.

mod support;

mod database;
