#![recursion_limit = "256"]

use anyhow::{Context, Result, bail};
use clap::Parser;
use server::cli::{Cli, Command, OperatorAction};
use server::config::Config;
use std::net::SocketAddr;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = match Config::from_args(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            server::init(&config).await?;
            eprintln!("latchkey: migrations applied");
            Ok(())
        }
        Command::Bootstrap {
            email,
            password,
            org_name,
        } => {
            let state = server::init(&config).await?;
            let out = server::bootstrap(&state, &email, &password, &org_name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&out)?);
            Ok(())
        }
        Command::Operator {
            action: OperatorAction::Grant { email },
        } => {
            let state = server::init(&config).await?;
            let granted = app::identity::accounts::grant_operator(&state.db, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !granted {
                bail!("no user with the email {email}");
            }
            eprintln!("latchkey: {email} is now a platform operator");
            Ok(())
        }
    }
}

async fn serve(config: Config) -> Result<()> {
    if config.allow_private_idp {
        tracing::warn!(
            "LATCHKEY_ALLOW_PRIVATE_IDP is on: identity providers on private addresses and plain http \
             are accepted. Use this for development and tests only."
        );
    }
    let state = server::init(&config).await?;
    server::jobs::spawn_session_cleanup(state.db.clone(), state.login_limiter.clone());
    server::jobs::spawn_domain_recheck(
        state.clone(),
        std::time::Duration::from_secs(config.domain_recheck_secs),
    );
    let app = server::routes::router(state);
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {} (LATCHKEY_BIND)", config.bind))?;
    tracing::info!(addr = %config.bind, public_url = %config.public_url, "Latchkey is listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("serving HTTP")
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
