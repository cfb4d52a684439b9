//! The real binary: its JSON output, its exit codes, its messages.

use std::process::Command;

fn latchkey(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LATCHKEY_DATA_DIR", dir)
        .env("RUST_LOG", "warn");
    cmd
}

#[test]
fn bootstrap_prints_one_json_object_and_operator_grant_works() {
    let dir = crate::common::tempdir();
    let out = latchkey(dir.path())
        .args([
            "bootstrap",
            "--email",
            "cli@example.com",
            "--password",
            "correct horse battery",
            "--org-name",
            "CLI Org",
        ])
        .output()
        .expect("run latchkey");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    for key in ["user_id", "org_id", "org_slug", "api_token"] {
        assert!(
            v[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} in {v}"
        );
    }
    assert_eq!(v["org_slug"], "cli-org");
    assert!(
        dir.path().join("latchkey.db").exists(),
        "embedded database created"
    );
    assert!(dir.path().join("secret.key").exists(), "key generated once");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("correct horse battery"),
        "password never logged"
    );

    let granted = latchkey(dir.path())
        .args(["operator", "grant", "cli@example.com"])
        .output()
        .expect("run");
    assert!(
        granted.status.success(),
        "{}",
        String::from_utf8_lossy(&granted.stderr)
    );
    let missing = latchkey(dir.path())
        .args(["operator", "grant", "ghost@example.com"])
        .output()
        .expect("run");
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("no user with the email ghost@example.com")
    );

    let migrate = latchkey(dir.path()).arg("migrate").output().expect("run");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
}

#[test]
fn bad_configuration_names_the_variable_and_exits_non_zero() {
    let dir = crate::common::tempdir();
    for (var, value) in [
        ("LATCHKEY_BIND", "not-an-address"),
        ("LATCHKEY_PUBLIC_URL", "ftp://example.com"),
        ("LATCHKEY_SECRET_KEY", "too-short"),
        ("LATCHKEY_DNS_SERVERS", "1.1.1.1"),
        ("LATCHKEY_ALLOW_PRIVATE_IDP", "perhaps"),
        ("LATCHKEY_DATABASE_URL", "mysql://localhost/x"),
    ] {
        let out = latchkey(dir.path())
            .env(var, value)
            .arg("migrate")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Flags work like the variables.
    let out = latchkey(dir.path())
        .args(["--bind", "nope", "migrate"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LATCHKEY_BIND"));
}
