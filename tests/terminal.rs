//! `down` at a real terminal (a pty): its prompt lists exactly what will be deleted and what
//! is kept, Ctrl-C at the prompt ends the line before it says "interrupted", and with
//! nothing left to delete it says so and asks nothing.

use crate::support;

use std::time::Duration;

use rexpect::process::WaitStatus;
use rexpect::session::PtySession;
use support::names::REGION;
use support::{Emulators, Sandbox};

fn at_terminal(sandbox: &Sandbox, args: &[&str]) -> PtySession {
    sandbox
        .run()
        .args(args)
        .at_terminal(Duration::from_secs(60))
}

fn exit_code(session: &PtySession) -> Option<i32> {
    match session.process().wait().expect("wait for cattube") {
        WaitStatus::Exited(_, code) => Some(code),
        other => panic!("cattube did not exit normally: {other:?}"),
    }
}

/// The prompt, from its first line to the question (the pty turns "\n" into "\r\n").
fn prompt_of(session: &mut PtySession) -> String {
    let before = session
        .exp_string("to confirm: ")
        .expect("the confirmation prompt");
    before.replace('\r', "")
}

/// Where the name starts in a row `  [ 7] source-notification   cattube-notifications`.
fn name_column(row: &str) -> Option<usize> {
    let after_stage = row.find("] ")? + 2;
    let id_end = after_stage + row[after_stage..].find(' ')?;
    Some(id_end + row[id_end..].find(|c: char| c != ' ')?)
}

#[test]
fn down_prompt_lists_what_is_deleted_and_kept_and_ctrl_c_ends_the_line() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let out = sandbox.run().arg("up").output();
    assert_eq!(out.code, Some(0), "{}", out.stderr.as_str());

    // --keep-buckets: the buckets are listed as kept, with why, and not as deleted.
    let mut down = at_terminal(&sandbox, &["down", "--keep-buckets"]);
    let prompt = prompt_of(&mut down);
    let (deleted, kept) = prompt
        .split_once("and keep:\n")
        .unwrap_or_else(|| panic!("no kept section:\n{prompt}"));
    for id in ["source-bucket", "destination-bucket"] {
        assert!(
            !deleted.contains(&format!(" {id} ")),
            "{id} listed as deleted:\n{prompt}"
        );
        let row = kept
            .lines()
            .find(|l| l.contains(&format!(" {id} ")))
            .unwrap_or_else(|| panic!("{id} not listed as kept:\n{prompt}"));
        assert!(
            row.ends_with("kept with its objects: --keep-buckets"),
            "{row}"
        );
    }
    for id in ["converter-function", "distribution", "source-notification"] {
        assert!(
            deleted.contains(&format!(" {id} ")),
            "{id} not listed:\n{prompt}"
        );
    }
    assert!(
        !prompt.contains("is deleted with"),
        "claims the videos go:\n{prompt}"
    );
    // Columns: every row's name starts at the same place.
    let starts: Vec<usize> = prompt
        .lines()
        .filter(|l| l.starts_with("  ["))
        .map(|l| name_column(l).unwrap_or_else(|| panic!("no name in {l:?}")))
        .collect();
    assert!(starts.len() >= 12, "{prompt}");
    assert!(
        starts.windows(2).all(|w| w[0] == w[1]),
        "not in columns:\n{prompt}"
    );
    down.send_line("not-the-stack").unwrap();
    let rest = down.exp_eof().unwrap();
    assert!(rest.contains("confirmation did not match"), "{rest}");
    assert_eq!(exit_code(&down), Some(2));

    // Without --keep-buckets the prompt says the videos go with the buckets.
    let mut down = at_terminal(&sandbox, &["down"]);
    let prompt = prompt_of(&mut down);
    assert!(!prompt.contains("and keep:"), "{prompt}");
    assert!(prompt.contains("is deleted with it"), "{prompt}");
    // Ctrl-C at the prompt: the line ends before "interrupted", and nothing is deleted.
    down.send_control('c').unwrap();
    // What follows the question: the line ends (after the tty's own "^C", if it echoes),
    // then "interrupted: nothing was deleted" on a line of its own.
    let rest = down.exp_eof().unwrap().replace('\r', "");
    let rest = rest.strip_prefix("^C").unwrap_or(&rest);
    assert!(
        rest.starts_with("\ninterrupted: nothing was deleted\n"),
        "the prompt's line did not end before \"interrupted\": {rest:?}"
    );
    assert_eq!(exit_code(&down), Some(130));
    assert!(
        sandbox.path().join("cattube.state.json").exists(),
        "the state is gone after an interrupted prompt"
    );

    // Once everything is gone, `down` says so and exits 0 without asking.
    let out = sandbox.run().args(["down", "--yes"]).output();
    assert_eq!(out.code, Some(0));
    emulators.reset();
    let mut down = at_terminal(&sandbox, &["down"]);
    let all = down.exp_eof().unwrap();
    assert_eq!(exit_code(&down), Some(0), "{all}");
    assert!(all.contains("nothing to delete"), "{all}");
    assert!(!all.contains("to confirm"), "asked anyway: {all}");
    assert!(emulators.writes().is_empty(), "{:?}", emulators.writes());
}

/// While `up` runs, a resource not started yet says what it waits for, not "missing".
#[test]
fn up_progress_says_what_a_resource_waits_for() {
    // Slow answers, so that every line is drawn while its dependencies work.
    let emulators = Emulators::with_latency(Duration::from_millis(200));
    let sandbox = emulators.sandbox(REGION);
    let mut up = sandbox
        .run()
        .arg("up")
        .with_progress()
        .at_terminal(Duration::from_secs(120));
    let shown = up.exp_eof().unwrap();
    assert_eq!(exit_code(&up), Some(0), "{shown}");
    for waits in [
        "waiting for converter-role",
        "waiting for distribution",
        "waiting for invoke-permission",
    ] {
        assert!(shown.contains(waits), "never showed {waits:?}: {shown}");
    }
}
