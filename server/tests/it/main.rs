//! Integration tests: the real router on fresh SQLite and PostgreSQL
//! databases, and the real `latchkey` binary.

mod common;

mod accounts;
mod api;
mod cli;
mod orgs;
