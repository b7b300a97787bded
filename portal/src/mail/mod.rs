//! Outgoing mail behind one trait: [`Mailer`]. With `SMTP_URL` mail goes to that server
//! (lettre); without it, each mail is written into `<data dir>/maildir` (Maildir layout:
//! `tmp/` then renamed into `new/`), where staff read it at `/office/mail` — so a demo or a
//! fresh server shows the confirmation mails it would have sent.

pub mod maildir;

pub use maildir::{MaildirMailer, StoredMail};

use crate::error::AppError;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::future::Future;
use std::pin::Pin;

/// A plain-text mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sender address of the portal's mail.
pub const FROM: &str = "ewoda <noreply@ewoda.invalid>";

impl Mail {
    /// The RFC 5322 message (UTF-8 headers and body encoded as lettre chooses).
    pub fn message(&self) -> Result<Message, AppError> {
        let to: Mailbox = self.to.parse().map_err(|e| AppError::Invalid {
            field: "email",
            reason: format!("{:?} is not an e-mail address: {e}", self.to),
        })?;
        let from: Mailbox = FROM
            .parse()
            .map_err(|e| AppError::Internal(format!("sender: {e}")))?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(&self.subject)
            .header(ContentType::TEXT_PLAIN)
            // lettre picks the transfer encoding (quoted-printable for long or Polish lines).
            .body(self.body.clone())
            .map_err(|e| AppError::Internal(format!("building a mail: {e}")))
    }
}

/// Where mail goes.
pub trait Mailer: Send + Sync {
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = Result<(), AppError>> + Send + 'a>>;
}

/// Mail over SMTP (`smtp://host:port`, `smtps://user:pass@host`, …, as lettre reads them).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    pub fn new(url: &str) -> Result<Self, AppError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| AppError::Invalid {
                field: "SMTP_URL",
                reason: format!("{:?}: {e}", ewoda_common::secret::redact_url(url)),
            })?
            .build();
        Ok(SmtpMailer { transport })
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = Result<(), AppError>> + Send + 'a>> {
        Box::pin(async move {
            let message = mail.message()?;
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| AppError::Internal(format!("SMTP: {e}")))
        })
    }
}
