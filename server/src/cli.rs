//! The `latchkey` command line (SPEC §8).

use crate::config::ConfigArgs;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Self-hosted enterprise SSO console"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create (or reuse) a user as owner of a new organization; prints JSON
    /// with user_id, org_id, org_slug and api_token.
    Bootstrap {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long = "org-name")]
        org_name: String,
    },
    /// Manage platform operators.
    Operator {
        #[command(subcommand)]
        action: OperatorAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorAction {
    /// Make the user with this email a platform operator.
    Grant { email: String },
}
