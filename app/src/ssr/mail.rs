//! Outgoing email over SMTP (lettre), used when `LATCHKEY_SMTP_URL` is set.
//! Sending happens in the background: a slow or failing mail server never
//! holds up or fails the admin's request (the console shows the link too).

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// `url` as lettre reads it: `smtp://user:pass@host:587?tls=required`,
    /// `smtps://host`, or `smtp://127.0.0.1:2525` (plain, for local relays).
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("not a valid SMTP URL ({e})"))?
            .build();
        let from = from
            .parse()
            .map_err(|_| format!("`{from}` is not a valid sender address"))?;
        Ok(Self { transport, from })
    }

    /// Sends an invitation email in the background.
    pub fn send_invitation(&self, to: &str, org_name: &str, role: &str, accept_url: &str) {
        let body = format!(
            "You have been invited to join {org_name} on Latchkey as {role}.\n\n\
             Accept the invitation here (the link works once and expires in 7 days):\n{accept_url}\n\n\
             If you did not expect this, you can ignore this email.\n"
        );
        self.send(
            to,
            &format!("Join {org_name} on Latchkey"),
            body,
            "invitation",
        );
    }

    /// Sends the link that proves the address, in the background.
    pub fn send_email_verification(&self, to: &str, url: &str) {
        let body = format!(
            "Confirm that this address is yours by opening this link (it works once and expires in 3 days):\n{url}\n\n\
             If you did not create a Latchkey account, you can ignore this email.\n"
        );
        self.send(to, "Verify your email for Latchkey", body, "verification");
    }

    fn send(&self, to: &str, subject: &str, body: String, what: &'static str) {
        let Ok(to_box) = to.parse::<Mailbox>() else {
            tracing::warn!(
                what,
                "email not sent: the recipient address is not valid for SMTP"
            );
            return;
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to_box)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let Ok(message) = message else {
            tracing::warn!(what, "email not sent: the message could not be built");
            return;
        };
        let transport = self.transport.clone();
        tokio::spawn(async move {
            match transport.send(message).await {
                Ok(_) => tracing::info!(what, "email sent"),
                Err(e) => tracing::warn!(what, error = %e, "email could not be sent"),
            }
        });
    }
}
