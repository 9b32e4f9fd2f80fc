//! `cattube keys rotate [--grace DURATION]`: a private stack's signing keys
//! (docs/private-videos.md). A new key signs from now on; the keys superseded longer ago
//! than the grace period leave the key group, and their public and private halves are
//! deleted.

use cattube_stages::signed::{self, KeyInfo};
use cattube_stages::signing_secret::now;

use crate::cli::{KeysArgs, KeysCommand};
use crate::commands::{Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::{ExitStatus, UsageError};
use crate::printer::{KeyReport, Printer, Report};

/// The fields `keys rotate` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct KeysFields {
    /// The stack's signing keys after the rotation, oldest first.
    pub keys: Vec<KeyReport>,
}

impl Verb for KeysArgs {
    type Fields = KeysFields;

    async fn run(&self, at: &mut Invocation<'_, KeysFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields).await
    }

    fn text(&self, _: &Report, fields: &KeysFields) -> String {
        format!("signing keys, oldest first:\n{}", key_lines(&fields.keys))
    }
}

async fn run(
    config: &Config,
    args: &KeysArgs,
    printer: &Printer,
    report: &mut Report,
    fields: &mut KeysFields,
) -> anyhow::Result<ExitStatus> {
    let KeysCommand::Rotate { grace } = &args.command;
    if !config.settings.private {
        return Err(UsageError::new(
            "keys rotate: the stack is not private; set [delivery] private = true in cattube.toml and run `cattube up`",
        )
        .into());
    }
    let grace = grace.unwrap_or(signed::GRACE_SECS);
    let session = Session::open(config, Access::Write, report).await?;
    let rotation = signed::rotate(&session.ctx, grace).await?;
    for change in &rotation.changes {
        printer.note(format!("  {change}"));
    }
    if !rotation.removed.is_empty() {
        printer.note(format!(
            "removed {} (superseded longer than {grace} s ago)",
            rotation.removed.join(", ")
        ));
    }
    fields.keys = reports(&rotation.keys, grace);
    Ok(ExitStatus::Success)
}

/// The keys as `status` and `keys rotate` show them, with when each superseded one retires
/// at the next rotation after `grace`.
pub fn reports(keys: &[KeyInfo], grace: u64) -> Vec<KeyReport> {
    let now = now();
    keys.iter()
        .map(|k| KeyReport {
            name: k.name.clone(),
            id: k.id.clone(),
            created: cattube_stages::cost::rfc3339(k.created as i64),
            age_s: now.saturating_sub(k.created),
            signing: k.signing,
            retires: k
                .superseded
                .map(|at| cattube_stages::cost::rfc3339((at + grace) as i64)),
        })
        .collect()
}

/// One line per key: name, CloudFront id, age, and which signs.
pub fn key_lines(keys: &[KeyReport]) -> String {
    let mut out = String::new();
    for key in keys {
        let role = if key.signing {
            "signs".to_string()
        } else {
            format!(
                "verifies until the first rotation after {}",
                key.retires.as_deref().unwrap_or("-")
            )
        };
        out.push_str(&format!(
            "  key {}  {}  age {}  {role}\n",
            key.name,
            key.id.as_deref().unwrap_or("(not uploaded)"),
            age(key.age_s)
        ));
    }
    out
}

fn age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3_600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}
