#![recursion_limit = "256"]

use anyhow::{Context, Result, bail};
use clap::Parser;
use server::cli::{Cli, Command, OperatorAction};
use server::config::Config;
use std::net::SocketAddr;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
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
    let runtime = match server::runtime::build(&config.database_url) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("latchkey: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
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
    server::jobs::spawn_saml_metadata_refresh(state.clone());
    let draining = state.draining.clone();
    let app = server::routes::router(state);
    let listener = server::listener::bind(config.bind)
        .await
        .with_context(|| format!("binding {} (LATCHKEY_BIND)", config.bind))?;
    tracing::info!(addr = %config.bind, public_url = %config.public_url, "Latchkey is listening");
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let drain = std::time::Duration::from_secs(config.drain_secs);
    let signalled = stopping.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let signal = shutdown_signal().await;
        draining.store(true, std::sync::atomic::Ordering::Relaxed);
        signalled.notify_one();
        // SIGTERM (an orchestrator): keep answering while the load balancer
        // sees `draining` and stops sending. Ctrl-C (a person): stop now.
        if signal == Signal::Terminate && !drain.is_zero() {
            tracing::info!(secs = drain.as_secs(), "draining before shutdown");
            tokio::time::sleep(drain).await;
        }
        tracing::info!("no longer accepting connections; finishing requests in flight");
    });
    // Requests in flight get a bounded time to finish; then the process
    // exits anyway, still with success (the shutdown was asked for).
    tokio::select! {
        served = server => served.context("serving HTTP"),
        () = async {
            stopping.notified().await;
            tokio::time::sleep(drain + IN_FLIGHT_LIMIT).await;
        } => {
            tracing::warn!(secs = IN_FLIGHT_LIMIT.as_secs(), "requests still running after the shutdown limit; exiting");
            Ok(())
        }
    }
}

/// How long requests in flight may run on after accepting has stopped.
const IN_FLIGHT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, PartialEq, Eq)]
enum Signal {
    Interrupt,
    Terminate,
}

async fn shutdown_signal() -> Signal {
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
    let signal = tokio::select! {
        _ = ctrl_c => Signal::Interrupt,
        _ = term => Signal::Terminate,
    };
    tracing::info!(?signal, "shutting down");
    signal
}
