//! The `latchkey` server: configuration, start-up, the HTTP router and the
//! CLI commands. The application itself lives in the `app` crate.

#![recursion_limit = "256"]

pub mod cli;
pub mod config;
pub mod jobs;
pub mod keys;
pub mod listener;
pub mod request_log;
pub mod routes;
pub mod runtime;

use anyhow::{Context, Result};
use app::error::AppError;
use app::ssr::crypto::Keys;
use app::ssr::db::{self, Backend};
use app::ssr::state::{AppState, Settings, Shared};
use config::Config;
use serde::Serialize;
use std::sync::Arc;

/// Connects and migrates the database, loads keys, and assembles the state.
pub async fn init(config: &Config) -> Result<AppState> {
    let backend = Backend::of_url(&config.database_url).context("LATCHKEY_DATABASE_URL")?;
    if backend == Backend::Sqlite {
        ensure_sqlite_dir(&config.database_url)?;
    }
    // SQLite has one writer at a time, and each connection is a worker
    // thread that every statement hands off to: three (a writer and two
    // readers) measured less CPU per sign-in than eight, whose idle queue
    // rotated statements across more threads, with no failures at 64 at once.
    let max = if backend == Backend::Sqlite { 3 } else { 16 };
    let pool = db::connect(&config.database_url, max)
        .await
        .context("connecting to the database (LATCHKEY_DATABASE_URL)")?;
    db::migrate(&pool)
        .await
        .context("applying database migrations")?;
    // Before any request: xmlsec must never fetch what a SAML document names.
    app::saml::harden_xmlsec();
    let root = keys::load_or_create(config.secret_key.as_deref(), &config.data_dir)?;
    let keys = Keys::derive(&root).context("LATCHKEY_SECRET_KEY")?;

    let mut leptos_options = leptos::config::get_configuration(None)
        .map(|c| c.leptos_options)
        .unwrap_or_else(|_| {
            leptos::config::LeptosOptions::builder()
                .output_name("latchkey")
                .build()
        });
    // The asset names are fixed by the workspace metadata; the bind address is ours.
    leptos_options.output_name = "latchkey".into();
    leptos_options.site_addr = config.bind;
    // A release build (`cargo xtask build --release`) leaves `hash.txt`
    // beside the binary: pages then name the content-hashed bundle files,
    // which are cached for a year.
    leptos_options.hash_files = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&*leptos_options.hash_file)))
        .is_some_and(|file| file.exists());

    Ok(AppState::new(Shared {
        db: pool,
        keys,
        settings: Arc::new(Settings {
            public_url: config.public_url.clone(),
            secure_cookies: config.secure_cookies(),
            password_session_secs: 7 * 24 * 3600,
            dns: app::domains::dns::DnsSettings {
                servers: config.dns_servers.clone(),
                timeout: std::time::Duration::from_secs(config.dns_timeout_secs),
            },
            domain_pending_secs: i64::try_from(config.domain_pending_hours * 3600)
                .unwrap_or(i64::MAX),
            allow_private_idp: config.allow_private_idp,
            trusted_proxies: config.trusted_proxies.clone(),
        }),
        leptos_options,
        login_limiter: Arc::new(app::identity::limits::LoginLimiter::default()),
        mailer: match &config.smtp {
            Some((url, from)) => Some(
                app::ssr::mail::Mailer::new(url, from)
                    .map_err(anyhow::Error::msg)
                    .context("LATCHKEY_SMTP_URL")?,
            ),
            None => None,
        },
        sso_providers: Arc::default(),
        draining: Arc::default(),
    }))
}

/// Creates the directory of a `sqlite://` database file.
fn ensure_sqlite_dir(url: &str) -> Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database directory {}", dir.display()))?;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct BootstrapOutput {
    pub user_id: String,
    pub org_id: String,
    pub org_slug: String,
    pub api_token: String,
}

/// `latchkey bootstrap`: the user (created if missing) owns a new
/// organization and gets an owner API token for it.
pub async fn bootstrap(
    state: &AppState,
    email: &str,
    password: &str,
    org_name: &str,
) -> Result<BootstrapOutput, AppError> {
    let user = app::identity::accounts::ensure_account(
        &state.db,
        app::identity::accounts::NewAccount {
            email,
            name: "",
            password,
        },
    )
    .await?;
    let org = app::orgs::ssr::create_org(&state.db, &user, org_name, "bootstrap", None).await?;
    let (_, api_token) =
        app::orgs::tokens::create_token(&state.db, &org.id, Some(&user.id), "bootstrap", "owner")
            .await?;
    Ok(BootstrapOutput {
        user_id: user.id,
        org_id: org.id,
        org_slug: org.slug,
        api_token,
    })
}
