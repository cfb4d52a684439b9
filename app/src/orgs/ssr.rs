//! Organization queries and rules.

use super::OrgSummary;
use super::access::Actor;
use crate::audit::ssr::{Event, Target, record};
use crate::error::AppError;
use crate::identity::CurrentUser;
use crate::ssr::db::{Db, is_unique_violation};
use crate::ssr::{now, random};
use std::net::IpAddr;

const MAX_NAME: usize = 80;
const MAX_SLUG: usize = 40;

/// `Acme Corp.` → `acme-corp`: lowercase ASCII letters and digits joined by
/// single hyphens; `org` when nothing usable remains.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= MAX_SLUG {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "org".into()
    } else if is_id_shaped(slug) {
        // Every `{org}` in a URL is an id or a slug: a slug shaped like an
        // id could stand for another organization.
        format!("{slug}-org")
    } else {
        slug.into()
    }
}

/// What organization ids look like (`o` and 15 lowercase letters or
/// digits): reserved, never a slug.
pub fn is_id_shaped(s: &str) -> bool {
    s.len() == 16
        && s.starts_with('o')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(
            AppError::unprocessable("invalid_name", "Give the organization a name.").on("name"),
        );
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AppError::unprocessable(
            "invalid_name",
            "Use up to 80 characters, without line breaks.",
        )
        .on("name"));
    }
    Ok(name.to_owned())
}

/// Creates an organization with `user_id` as its owner. The slug comes
/// from the name, suffixed `-2`, `-3`… while taken.
pub async fn create_org(
    db: &Db,
    user: &CurrentUser,
    name: &str,
    source: &str,
    ip: Option<IpAddr>,
) -> Result<OrgSummary, AppError> {
    let name = check_name(name)?;
    let base = slugify(&name);
    let id = format!("o{}", random::lower_alnum(15));
    debug_assert!(is_id_shaped(&id));
    let created_at = now();
    for n in 1..=50u32 {
        let slug = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let mut tx = crate::ssr::db::begin_write(db).await?;
        let inserted = sqlx::query(
            "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&slug)
        .bind(&name)
        .bind(created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, status, source, created_at) \
             VALUES ($1, $2, 'owner', 'active', $3, $4)",
        )
        .bind(&id)
        .bind(&user.id)
        .bind(source)
        .bind(created_at)
        .execute(&mut *tx)
        .await?;
        record(
            &mut *tx,
            Event {
                org_id: &id,
                actor: &Actor::User(user.clone()),
                action: "org.created",
                target: Some(Target {
                    kind: "org",
                    id: &id,
                    label: &name,
                }),
                details: serde_json::json!({ "slug": slug }),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(OrgSummary {
            id,
            slug,
            name,
            role: "owner".into(),
            created_at,
        });
    }
    Err(AppError::conflict(
        "slug_taken",
        "Too many organizations have that name. Choose another.",
    )
    .on("name"))
}

type OrgRow = (String, String, String, String, i64);

fn to_summary((id, slug, name, role, created_at): OrgRow) -> OrgSummary {
    OrgSummary {
        id,
        slug,
        name,
        role,
        created_at,
    }
}

/// The organizations in which `user_id` is an active member, by name.
pub async fn orgs_of_user(db: &Db, user_id: &str) -> Result<Vec<OrgSummary>, AppError> {
    let rows: Vec<OrgRow> = sqlx::query_as(
        "SELECT o.id, o.slug, o.name, m.role, o.created_at FROM organizations o \
         JOIN memberships m ON m.org_id = o.id \
         WHERE m.user_id = $1 AND m.status = 'active' ORDER BY o.name, o.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(to_summary).collect())
}

pub async fn count_members(db: &Db, org_id: &str) -> Result<i64, AppError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(db)
        .await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_ascii_with_single_hyphens() {
        assert_eq!(slugify("Acme Corp."), "acme-corp");
        assert_eq!(slugify("  Hello -- World  "), "hello-world");
        assert_eq!(slugify("Ünïcode 株式会社"), "n-code");
        assert_eq!(slugify("!!!"), "org");
        assert!(slugify(&"x".repeat(200)).len() <= MAX_SLUG);
    }

    #[test]
    fn a_slug_never_takes_the_shape_of_an_organization_id() {
        let id = format!("o{}", random::lower_alnum(15));
        assert!(is_id_shaped(&id));
        // Naming an organization after another's id gives another slug.
        assert_eq!(slugify(&id), format!("{id}-org"));
        assert_eq!(slugify(&id.to_uppercase()), format!("{id}-org"));
        assert_eq!(slugify("operations"), "operations");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("  ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"n".repeat(81)).is_err());
        assert_eq!(check_name("  Acme ").as_deref(), Ok("Acme"));
    }
}
