//! Invitation emails reach a real SMTP conversation (a minimal SMTP server
//! on 127.0.0.1 that records what it is sent).

use crate::common::{Auth, Backend, TestApp};
use http::StatusCode;
use serde_json::json;
use server::config::ConfigArgs;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Accepts one SMTP session and returns `(envelope recipients, message)`.
async fn smtp_sink() -> (u16, oneshot::Receiver<(Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 sink ESMTP\r\n").await;
        let (mut rcpt, mut data, mut in_data) = (Vec::new(), String::new(), false);
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    let _ = write.write_all(b"250 queued\r\n").await;
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250 sink\r\n"
            } else if upper.starts_with("RCPT TO:") {
                rcpt.push(line[8..].trim().to_owned());
                b"250 ok\r\n"
            } else if upper.starts_with("DATA") {
                in_data = true;
                b"354 go on\r\n"
            } else if upper.starts_with("QUIT") {
                let _ = write.write_all(b"221 bye\r\n").await;
                break;
            } else {
                b"250 ok\r\n"
            };
            let _ = write.write_all(reply).await;
        }
        let _ = tx.send((rcpt, data));
    });
    (port, rx)
}

#[tokio::test]
async fn invitations_are_emailed_when_smtp_is_configured() {
    let (port, received) = smtp_sink().await;
    let app = TestApp::with_args(
        Backend::Sqlite,
        ConfigArgs {
            smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
            smtp_from: Some("Latchkey <noreply@latchkey.test>".into()),
            ..Default::default()
        },
    )
    .await;
    let (owner, org) = app.org_with_owner("sender@mail.test", "Mailers").await;
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/invitations"),
            Auth::Cookie(&owner),
            Some(json!({"email": "friend@mail.test", "role": "member"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let url = res.json()["accept_url"].as_str().expect("url").to_owned();
    let (rcpt, message) = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .expect("an email within 10 s")
        .expect("the sink saw a session");
    assert_eq!(rcpt, vec!["<friend@mail.test>".to_owned()]);
    assert!(
        message.contains("Subject: Join Mailers on Latchkey"),
        "{message}"
    );
    assert!(message.contains("noreply@latchkey.test"), "{message}");
    // Quoted-printable may wrap long lines; compare without soft breaks.
    let unwrapped = message.replace("=\n", "");
    assert!(unwrapped.contains(&url), "{message}");
}
