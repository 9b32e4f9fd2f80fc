//! How many sequential round trips cattube needs: real AWS answers in tens to hundreds of
//! milliseconds, so the critical path in round trips is what makes cattube fast. The
//! emulators sit behind proxies that add a latency to every request, so requests cattube
//! sends together overlap in the trace and a chain of requests is visible as such. These
//! are count assertions on the trace, never timing assertions: the speed itself is measured
//! by the benchmark (BENCHMARKS.md).

use crate::support;

use std::time::Duration;

use support::names::REGION;
use support::targets::{MAX_CONVERGED_ROUNDS, MAX_DOWN_ROUNDS, MAX_UP_ROUNDS};
use support::{proxy::Seen, Emulators};

/// Long enough that requests sent together always overlap, even on a loaded 2-core machine
/// (at 40 ms a debug build there split one observe into two rounds; at 80 ms, once this
/// module shared the one test binary's process with the crash trials, a fresh `up` counted
/// 9), short enough to keep the test quick (a round is one latency: seconds in all).
const LATENCY: Duration = Duration::from_millis(250);

fn trace(requests: &[Seen]) -> String {
    let t0 = requests.first().map(|s| s.start);
    requests
        .iter()
        .map(|s| {
            let t0 = t0.unwrap();
            format!(
                "{:>6} ms {:>6} ms  {s}\n",
                (s.start - t0).as_millis(),
                (s.end - t0).as_millis()
            )
        })
        .collect()
}

#[test]
fn a_converged_stack_is_checked_in_two_rounds_without_writes() {
    let emulators = Emulators::with_latency(LATENCY);
    let sandbox = emulators.sandbox(REGION);

    let out = sandbox.run().arg("up").output();
    assert!(out.code == Some(0), "{}", out.stderr.as_str());
    let requests = emulators.requests();
    let rounds = emulators.rounds();
    eprintln!(
        "full up: {} requests, {} writes, {rounds} rounds\n{}",
        requests.len(),
        emulators.writes().len(),
        trace(&requests)
    );
    // Dependencies on names, not on existence (issue 17): the roles start with the buckets.
    assert!(
        rounds <= MAX_UP_ROUNDS,
        "a fresh up took {rounds} sequential rounds (at most {MAX_UP_ROUNDS}):\n{}",
        trace(&requests)
    );

    for command in ["up", "status", "plan"] {
        emulators.reset();
        let out = sandbox.run().arg(command).output();
        assert!(out.code == Some(0), "{command}: {}", out.stderr.as_str());
        let requests = emulators.requests();
        let rounds = emulators.rounds();
        eprintln!(
            "converged {command}: {} requests, {rounds} rounds\n{}",
            requests.len(),
            trace(&requests)
        );
        assert_eq!(emulators.writes().len(), 0, "{command} wrote");
        assert!(
            rounds <= MAX_CONVERGED_ROUNDS,
            "converged {command} took {rounds} sequential rounds:\n{}",
            trace(&requests)
        );
    }

    // The reads start with the state file's account while STS answers; a state file of
    // another account is still refused, before anything is written.
    let state_path = sandbox.path().join("cattube.state.json");
    let state = std::fs::read_to_string(&state_path).unwrap();
    std::fs::write(
        &state_path,
        state.replace("\"123456789012\"", "\"111111111111\""),
    )
    .unwrap();
    for command in ["up", "status"] {
        emulators.reset();
        let out = sandbox.run().arg(command).output();
        let stderr = out.stderr.as_str();
        assert_eq!(out.code, Some(2), "{command}: {stderr}");
        assert!(stderr.contains("is for account 111111111111"), "{stderr}");
        assert!(emulators.writes().is_empty(), "{command} wrote");
    }
    std::fs::write(&state_path, state).unwrap();

    emulators.reset();
    let out = sandbox.run().args(["down", "--yes"]).output();
    assert!(out.code == Some(0), "{}", out.stderr.as_str());
    let rounds = emulators.rounds();
    eprintln!(
        "down: {} requests, {rounds} rounds\n{}",
        emulators.requests().len(),
        trace(&emulators.requests())
    );
    assert!(
        rounds <= MAX_DOWN_ROUNDS,
        "down took {rounds} sequential rounds (at most {MAX_DOWN_ROUNDS}):\n{}",
        trace(&emulators.requests())
    );
}
