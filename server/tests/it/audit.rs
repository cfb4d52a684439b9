//! Every change writes an audit event; the log filters and pages.

use crate::common::Auth;
use crate::db_test;
use http::StatusCode;
use serde_json::json;

db_test!(
    each_change_is_audited_and_the_log_filters_and_pages,
    |app| {
        let (owner, org) = app.org_with_owner("chief@audit.test", "Audited").await;
        let colleague = app.join(&owner, &org, "col@audit.test", "member").await;
        let col_id = app.user_id(&colleague).await;
        let member_path = format!("/api/v1/orgs/{org}/members/{col_id}");
        app.api(
            "PATCH",
            &member_path,
            Auth::Cookie(&owner),
            Some(json!({"role": "viewer"})),
        )
        .await;
        app.api(
            "PATCH",
            &member_path,
            Auth::Cookie(&owner),
            Some(json!({"status": "deactivated"})),
        )
        .await;
        app.api(
            "PATCH",
            &member_path,
            Auth::Cookie(&owner),
            Some(json!({"status": "active"})),
        )
        .await;
        let inv = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/invitations"),
                Auth::Cookie(&owner),
                Some(json!({"email": "later@audit.test", "role": "guest"})),
            )
            .await
            .json();
        app.server_fn(
            "resend_invitation",
            &[("org", &org), ("id", inv["id"].as_str().expect("id"))],
            Some(&owner),
        )
        .await;
        app.api(
            "DELETE",
            &format!(
                "/api/v1/orgs/{org}/invitations/{}",
                inv["id"].as_str().expect("id")
            ),
            Auth::Cookie(&owner),
            None,
        )
        .await;
        app.api(
            "POST",
            &format!("/api/v1/orgs/{org}/roles"),
            Auth::Cookie(&owner),
            Some(json!({"name": "ops", "permissions": ["members:read"]})),
        )
        .await;
        app.server_fn(
            "delete_role",
            &[("org", &org), ("name", "ops")],
            Some(&owner),
        )
        .await;
        let tok = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/api-tokens"),
                Auth::Cookie(&owner),
                Some(json!({"name": "ci", "role": "viewer"})),
            )
            .await
            .json();
        app.api(
            "DELETE",
            &format!(
                "/api/v1/orgs/{org}/api-tokens/{}",
                tok["id"].as_str().expect("id")
            ),
            Auth::Cookie(&owner),
            None,
        )
        .await;
        app.api("DELETE", &member_path, Auth::Cookie(&owner), None)
            .await;

        let all = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?limit=200"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        let all = all.json();
        let actions: Vec<&str> = all["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        for expected in [
            "org.created",
            "invitation.created",
            "invitation.accepted",
            "member.role_changed",
            "member.deactivated",
            "member.reactivated",
            "invitation.resent",
            "invitation.revoked",
            "role.created",
            "role.deleted",
            "token.created",
            "token.revoked",
            "member.removed",
        ] {
            assert!(
                actions.contains(&expected),
                "{expected} missing from {actions:?}"
            );
        }
        assert_eq!(actions.first(), Some(&"member.removed"), "newest first");
        let removed = &all["events"][0];
        assert_eq!(removed["actor_label"], "chief@audit.test");
        assert_eq!(removed["target_label"], "col@audit.test");

        // Filters.
        let only = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?action=member."),
                Auth::Cookie(&owner),
                None,
            )
            .await
            .json();
        let only: Vec<&str> = only["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert_eq!(only.len(), 4);
        assert!(only.iter().all(|a| a.starts_with("member.")));
        let by_col = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?actor=col@audit.test"),
                Auth::Cookie(&owner),
                None,
            )
            .await
            .json();
        assert_eq!(
            by_col["events"].as_array().map(Vec::len),
            Some(1),
            "the colleague only accepted"
        );
        let future = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?since=4102444800"),
                Auth::Cookie(&owner),
                None,
            )
            .await
            .json();
        assert_eq!(future["events"].as_array().map(Vec::len), Some(0));

        // Cursor paging walks every event exactly once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let page = app
                .api(
                    "GET",
                    &format!("/api/v1/orgs/{org}/audit-events?limit=4{q}"),
                    Auth::Cookie(&owner),
                    None,
                )
                .await
                .json();
            for e in page["events"].as_array().expect("events") {
                seen.push(e["id"].as_str().expect("id").to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), actions.len());
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), actions.len(), "no duplicates across pages");

        // Members without audit:read cannot read it.
        let viewer_less = app.join(&owner, &org, "m2@audit.test", "member").await;
        let res = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events"),
                Auth::Cookie(&viewer_less),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(
            res.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("audit:read"))
        );
    }
);
