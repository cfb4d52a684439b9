//! Leases for background jobs: several instances on one database run a
//! periodic job once per interval between them, and when the holder dies its
//! lease runs out and another instance takes over.

use super::db::Db;
use super::now;

/// Takes the lease `name` for `secs` seconds unless another holder's lease
/// is still running. One statement, so two instances asking at once cannot
/// both get it. True when `holder` now holds it.
pub async fn claim(db: &Db, name: &str, holder: &str, secs: i64) -> Result<bool, sqlx::Error> {
    let at = now();
    let done = sqlx::query(
        "INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $3 \
         WHERE job_leases.expires_at <= $4 OR job_leases.holder = $2",
    )
    .bind(name)
    .bind(holder)
    .bind(at + secs)
    .bind(at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
