//! `cattube open [KEY]`: stage 8, the player page's URL (`https://<domain>/`, or with
//! `#<url-encoded key>` to start on one video), printed, and opened in a browser only when
//! a person can see it: stdout a terminal, not CI, and a browser launcher present.

use std::io::IsTerminal;

use cattube_stages::catalog::player_url;
use cattube_stages::{signed, videos};

use crate::cli::OpenArgs;
use crate::commands::{video_failure, Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::printer::{Printer, Report};

/// The fields `open` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct OpenFields {
    /// The player page's URL (with `#<key>` for one video).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub player_url: Option<String>,
}

impl Verb for OpenArgs {
    type Fields = OpenFields;

    async fn run(&self, at: &mut Invocation<'_, OpenFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields).await
    }

    fn text(&self, _: &Report, fields: &OpenFields) -> String {
        text(fields)
    }
}

async fn run(
    config: &Config,
    args: &OpenArgs,
    printer: &Printer,
    report: &mut Report,
    fields: &mut OpenFields,
) -> anyhow::Result<ExitStatus> {
    if args.key.as_deref() == Some("") {
        return Err(crate::error::UsageError::new(
            "KEY is empty: give a video's source key, e.g. \"cats/tabby cat.mp4\", or none",
        )
        .into());
    }
    let session = Session::open(config, Access::Read, report).await?;
    let domain = videos::distribution_domain(&session.ctx)
        .await
        .map_err(video_failure)?;
    report.set_output("distribution_domain", domain.clone());
    let mut url = player_url(&domain, args.key.as_deref());
    if session.ctx.settings.private {
        // The page is public; what it plays needs the signed cookies, handed to it in the
        // fragment (never sent to CloudFront, so never in its logs), which it sets and
        // removes from the address bar (player/player.js).
        let signer = signed::signer(&session.ctx).await?;
        let site = format!("{}/*", videos::cdn_origin(&domain));
        url = signed::player_url_with_cookies(
            &url,
            &signer.cookies(&site, signed::now_plus(signed::OPEN_FOR)),
        );
    }
    if !printer.json() {
        if let Some(launcher) = browser() {
            // The URL is printed either way; a launcher that fails is only worth a note.
            match std::process::Command::new(&launcher)
                .arg(&url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
            {
                Ok(_) => printer.note(format!("opening {url} with {launcher}")),
                Err(e) => printer.note(format!("could not start {launcher}: {e}")),
            }
        }
    }
    fields.player_url = Some(url);
    Ok(ExitStatus::Success)
}

/// The browser launcher to use, when a person is there to see it: `$BROWSER`, else
/// `xdg-open` (Linux) or `open` (macOS) on the PATH. Never in CI or without a terminal.
fn browser() -> Option<String> {
    if !std::io::stdout().is_terminal() || std::env::var_os("CI").is_some() {
        return None;
    }
    if let Some(browser) = std::env::var("BROWSER").ok().filter(|b| !b.is_empty()) {
        return Some(browser);
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
    };
    let launcher = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    on_path(launcher).then(|| launcher.to_string())
}

fn text(fields: &OpenFields) -> String {
    fields
        .player_url
        .as_ref()
        .map(|url| format!("{url}\n"))
        .unwrap_or_default()
}
