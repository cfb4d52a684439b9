//! Invitation emails reach a real SMTP conversation (a minimal SMTP server
//! on 127.0.0.1 that records what it is sent).

use crate::common::{Auth, Backend, TestApp};
use http::StatusCode;
use serde_json::json;
use server::config::ConfigArgs;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An SMTP server that accepts every session and hands over each message
/// as `(envelope recipients, message)`.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<(Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(stream, tx.clone()));
        }
    });
    (port, rx)
}

async fn session(stream: tokio::net::TcpStream, tx: mpsc::UnboundedSender<(Vec<String>, String)>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
    let (mut rcpt, mut data, mut in_data) = (Vec::new(), String::new(), false);
    while let Ok(Some(line)) = lines.next_line().await {
        if in_data {
            if line == "." {
                in_data = false;
                let _ = tx.send((std::mem::take(&mut rcpt), std::mem::take(&mut data)));
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
}

/// The next message sent to `to`, waiting at most 10 s.
async fn message_to(
    received: &mut mpsc::UnboundedReceiver<(Vec<String>, String)>,
    to: &str,
) -> String {
    let wanted = format!("<{to}>");
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (rcpt, message) = received.recv().await.expect("the sink is running");
            if rcpt == [wanted.clone()] {
                return message;
            }
        }
    })
    .await
    .expect("an email within 10 s")
}

#[tokio::test]
async fn invitations_are_emailed_when_smtp_is_configured() {
    let (port, mut received) = smtp_sink().await;
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
    let message = message_to(&mut received, "friend@mail.test").await;
    assert!(
        message.contains("Subject: Join Mailers on Latchkey"),
        "{message}"
    );
    assert!(message.contains("noreply@latchkey.test"), "{message}");
    // Quoted-printable may wrap long lines; compare without soft breaks.
    let unwrapped = message.replace("=\n", "");
    assert!(unwrapped.contains(&url), "{message}");
}

#[tokio::test]
async fn sign_up_emails_a_link_that_verifies_the_address() {
    let (port, mut received) = smtp_sink().await;
    let app = TestApp::with_args(
        Backend::Sqlite,
        ConfigArgs {
            smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
            ..Default::default()
        },
    )
    .await;
    let cookie = app.sign_up("new@mail.test").await;
    let me = || async { app.get("/api/v1/me", Some(&cookie)).await.json() };
    assert_eq!(me().await["email_verified"], false);
    let message = message_to(&mut received, "new@mail.test")
        .await
        .replace("=\n", "");
    assert!(
        message.contains("Subject: Verify your email for Latchkey"),
        "{message}"
    );
    let token = message
        .split("/verify-email/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a verification link")
        .to_owned();
    let res = app
        .server_fn("verify_email", &[("token", &token)], None)
        .await;
    assert!(
        res.status.is_success() || res.status.is_redirection(),
        "{}",
        res.body
    );
    assert_eq!(me().await["email_verified"], true);
    // The link works once.
    let res = app
        .server_fn("verify_email", &[("token", &token)], None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
}
