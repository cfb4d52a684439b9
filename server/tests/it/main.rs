//! Integration tests: the real router on fresh SQLite and PostgreSQL
//! databases, and the real `latchkey` binary.

#![recursion_limit = "256"]

mod common;

mod accounts;
mod api;
mod audit;
mod authz_matrix;
mod cli;
mod client_addr;
mod concurrency;
mod crash;
mod cross_site;
mod dns;
mod domains;
mod escalation;
mod idp_trust;
mod instances;
mod limits;
mod mail;
mod members;
mod mfa;
mod orgs;
mod processes;
mod reliability;
mod saml_real_idp;
mod saml_refusals;
mod saml_sign_in;
mod saml_sp;
mod saml_store;
mod security_headers;
mod setup_links;
mod sso_algorithms;
mod sso_config;
mod sso_flow;
mod sso_idp;
mod sso_link;
mod sso_logout;
mod sso_provisioning;
mod sso_real_idp;
