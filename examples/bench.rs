//! The benchmark of BENCHMARKS.md: cattube's commands against the local emulators behind
//! proxies that add a fixed latency to every request (real AWS answers in tens to hundreds
//! of milliseconds), side by side with the tutorial's stages done by the AWS CLI.
//!
//! ```text
//! cargo build --release && cargo run --example bench -- [--latency-ms 50] [--runs 5] [--no-awscli] [--propagation-s 5] [--terraform] [--uploads [--upload-mib 512]] [--check]
//! ```
//!
//! For each scenario it reports the median wall time, requests, write requests and
//! sequential rounds (the critical path: the longest chain of requests each sent after the
//! previous one was answered), and checks the targets. `--check` exits 1 when a fresh `up`
//! takes more than 8 rounds, a `down` more than 10, or a converged `up` or `status` more
//! than 2 rounds or writes anything (`tests/support/targets.rs`; what CI enforces; wall
//! times are reported, never enforced, since machines differ). Everything runs on loopback
//! and stops by itself.

#[path = "../tests/support/mod.rs"]
#[allow(
    dead_code,
    unused_imports,
    reason = "the benchmark uses the emulators and the proxy, not the test helpers (nor their re-exports)"
)]
mod support;
#[path = "bench/terraform.rs"]
mod terraform;
#[path = "bench/uploads.rs"]
mod uploads;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::targets::{MAX_CONVERGED_ROUNDS, MAX_DOWN_ROUNDS, MAX_UP_ROUNDS};
use support::{Emulators, Sandbox};

const REGION: &str = "eu-west-1";

struct Options {
    latency: Duration,
    runs: usize,
    awscli: bool,
    check: bool,
    /// Also apply and destroy examples/terraform/main.tf (skipped when not installed).
    terraform: bool,
    bin: PathBuf,
    /// Seconds a new role stays unassumable by Lambda in the propagation scenario (0: skip).
    propagation: Duration,
    /// `--uploads`: the upload scenario, with a file of this many MiB (and 8 of an eighth).
    uploads: Option<u64>,
}

fn options() -> Options {
    // target/debug/examples/bench → target/release/cattube
    let exe = std::env::current_exe().expect("the bench's own path");
    let target = exe.ancestors().nth(3).expect("the target directory");
    let mut options = Options {
        latency: Duration::from_millis(50),
        runs: 5,
        awscli: true,
        check: false,
        terraform: false,
        bin: target.join("release/cattube"),
        propagation: Duration::from_secs(5),
        uploads: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "--latency-ms" => {
                options.latency =
                    Duration::from_millis(value().parse().unwrap_or_else(|_| usage("--latency-ms")))
            }
            "--runs" => options.runs = value().parse().unwrap_or_else(|_| usage("--runs")),
            "--bin" => options.bin = PathBuf::from(value()),
            "--no-awscli" => options.awscli = false,
            "--propagation-s" => {
                options.propagation = Duration::from_secs_f64(
                    value().parse().unwrap_or_else(|_| usage("--propagation-s")),
                )
            }
            "--check" => options.check = true,
            "--uploads" => options.uploads = Some(options.uploads.unwrap_or(512)),
            "--upload-mib" => {
                options.uploads = Some(value().parse().unwrap_or_else(|_| usage("--upload-mib")))
            }
            "--terraform" => options.terraform = true,
            _ => usage(&arg),
        }
    }
    assert!(options.runs > 0, "--runs must be at least 1");
    assert!(
        options.bin.is_file(),
        "no cattube binary at {}: run `cargo build --release` first, or pass --bin",
        options.bin.display()
    );
    options
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "bench: bad argument {arg}\nusage: bench [--latency-ms MS] [--runs N] [--bin PATH] [--no-awscli] [--propagation-s S] [--terraform] [--uploads [--upload-mib 512]] [--check]"
    );
    std::process::exit(2)
}

/// One run of one scenario.
struct Sample {
    /// When the command was started.
    started: Instant,
    wall: Duration,
    requests: usize,
    writes: usize,
    rounds: usize,
    /// Peak resident memory in KiB, when /usr/bin/time can tell.
    max_rss_kib: Option<u64>,
}

/// Runs `cmd` (wrapped in /usr/bin/time for its peak memory when there is one) and measures it.
fn measure(emulators: &Emulators, mut cmd: Command, what: &str, expect: &[i32]) -> Sample {
    emulators.reset();
    let rss_file = tempfile::NamedTempFile::new().unwrap();
    let time = Path::new("/usr/bin/time");
    if time.is_file() {
        let inner = cmd;
        cmd = Command::new(time);
        cmd.args(["-f", "%M", "-o"])
            .arg(rss_file.path())
            .arg(inner.get_program())
            .args(inner.get_args());
        if let Some(dir) = inner.get_current_dir() {
            cmd.current_dir(dir);
        }
        for (key, value) in inner.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
    }
    let start = Instant::now();
    let output: Output = cmd.output().expect("run the command");
    let wall = start.elapsed();
    if !expect.contains(&output.status.code().unwrap_or(-1)) {
        eprintln!(
            "bench: {what} exited with {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::process::exit(1);
    }
    Sample {
        started: start,
        wall,
        requests: emulators.requests().len(),
        writes: emulators.writes().len(),
        rounds: emulators.rounds(),
        max_rss_kib: std::fs::read_to_string(rss_file.path())
            .ok()
            .and_then(|s| s.trim().lines().last()?.trim().parse().ok()),
    }
}

fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

fn cattube(sandbox: &Sandbox, bin: &Path, args: &[&str]) -> Command {
    let mut cmd = sandbox.command_for(bin);
    cmd.arg("--no-progress").args(args);
    cmd
}

/// What the figures were measured on, measured rather than typed: cores, CPU model,
/// kernel, compiler, and the size of the binary measured.
fn machine(bin: &Path) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into());
    let bytes = std::fs::metadata(bin).map_or(0, |m| m.len());
    format!(
        "machine: {cores} cores ({cpu}), Linux {kernel}, {rustc}; binary {} ({bytes} bytes, {:.1} MB)",
        bin.display(),
        bytes as f64 / 1e6
    )
}

fn main() {
    let options = options();
    let latency_ms = options.latency.as_secs_f64() * 1000.0;
    let root = support::repo_root();
    if options.awscli {
        let status = Command::new(root.join("scripts/bench-awscli.sh"))
            .arg("install")
            .status()
            .expect("install the AWS CLI");
        assert!(status.success(), "installing the AWS CLI failed");
    }
    eprintln!(
        "bench: {} run(s), {latency_ms} ms per request, binary {}",
        options.runs,
        options.bin.display()
    );
    let emulators = Emulators::with_latency(options.latency);
    // Warm-up, not measured: moto loads its IAM data on the first IAM call (about a second).
    let warm_up = emulators.sandbox(REGION);
    measure(
        &emulators,
        cattube(&warm_up, &options.bin, &["plan"]),
        "warm-up plan",
        &[3],
    );

    const SCENARIOS: [(&str, &[&str], &[i32]); 5] = [
        ("cattube up (from empty)", &["up"], &[0]),
        ("cattube up (converged)", &["up"], &[0]),
        ("cattube status", &["status"], &[0]),
        ("cattube plan", &["plan"], &[0]),
        ("cattube down --yes", &["down", "--yes"], &[0]),
    ];
    let mut rows: Vec<(String, Vec<Sample>)> = Vec::new();
    for (name, _, _) in SCENARIOS {
        rows.push((name.to_string(), Vec::new()));
    }
    for run in 0..options.runs {
        // A fresh directory, so a fresh state file: `down` left nothing behind.
        let sandbox = emulators.sandbox(REGION);
        for (i, (name, args, expect)) in SCENARIOS.iter().enumerate() {
            let sample = measure(
                &emulators,
                cattube(&sandbox, &options.bin, args),
                name,
                expect,
            );
            eprintln!(
                "bench: run {} {name}: {:.0} ms, {} requests, {} writes, {} rounds",
                run + 1,
                sample.wall.as_secs_f64() * 1000.0,
                sample.requests,
                sample.writes,
                sample.rounds
            );
            rows[i].1.push(sample);
        }
    }
    // The shape of a real first `up`: Lambda refuses the new role for N s after CreateRole.
    let mut propagation = Vec::new();
    if !options.propagation.is_zero() {
        for run in 0..options.runs {
            let sandbox = emulators.sandbox(REGION);
            emulators.faults.propagate_roles(options.propagation);
            let mut up = cattube(&sandbox, &options.bin, &["up"]);
            // The sandbox's 2 s retry bound is for the tests; here the role takes N s.
            let bound = options.propagation.as_secs() + 30;
            up.env("CATTUBE_PROPAGATION_TIMEOUT", bound.to_string());
            let sample = measure(&emulators, up, "up with role propagation", &[0]);
            // From CreateRole (the moment IAM's propagation starts) to exit, and where that
            // time goes: the wait for the first CreateFunction sent once the role is
            // assumable (the poll's period decides it), then what follows it.
            let requests = emulators.requests();
            let roles_created: Vec<Instant> = requests
                .iter()
                .filter(|s| s.action == "CreateRole")
                .map(|s| s.start)
                .collect();
            let role_at = *roles_created
                .iter()
                .min()
                .expect("a fresh up creates the roles");
            // The proxy refuses CreateFunction until N after the last CreateRole it saw.
            let assumable_at =
                *roles_created.iter().max().expect("two roles") + options.propagation;
            let created_at = requests
                .iter()
                .filter(|s| s.method == "POST" && s.path == "/2015-03-31/functions")
                .map(|s| s.start)
                .max()
                .expect("a fresh up creates the function");
            let exit = sample.started + sample.wall;
            let after_role = exit - role_at;
            let poll_wait = created_at.saturating_duration_since(assumable_at);
            let after_create = exit - created_at;
            emulators.faults.clear_answers();
            eprintln!(
                "bench: run {} up with {} s role propagation: {:.0} ms, {:.0} ms from CreateRole ({:.0} ms waiting for the next poll, {:.0} ms from the CreateFunction that succeeded to exit), {} rounds",
                run + 1,
                options.propagation.as_secs_f64(),
                sample.wall.as_secs_f64() * 1000.0,
                after_role.as_secs_f64() * 1000.0,
                poll_wait.as_secs_f64() * 1000.0,
                after_create.as_secs_f64() * 1000.0,
                sample.rounds
            );
            measure(
                &emulators,
                cattube(&sandbox, &options.bin, &["down", "--yes"]),
                "down after the propagation run",
                &[0],
            );
            propagation.push((sample, after_role, poll_wait, after_create));
        }
    }
    if options.awscli {
        let mut up = Vec::new();
        let mut down = Vec::new();
        for run in 0..options.runs {
            let sandbox = emulators.sandbox(REGION);
            for (stage, samples) in [("up", &mut up), ("down", &mut down)] {
                let mut cmd = sandbox.command_for(&root.join("scripts/bench-awscli.sh"));
                cmd.arg(stage);
                let sample = measure(&emulators, cmd, &format!("aws-cli {stage}"), &[0]);
                eprintln!(
                    "bench: run {} aws-cli {stage}: {:.0} ms, {} requests, {} writes, {} rounds",
                    run + 1,
                    sample.wall.as_secs_f64() * 1000.0,
                    sample.requests,
                    sample.writes,
                    sample.rounds
                );
                samples.push(sample);
            }
        }
        rows.push(("AWS CLI script: stages 1-7".into(), up));
        rows.push(("AWS CLI script: stage 9 (teardown)".into(), down));
    }
    if options.terraform {
        rows.extend(terraform::rows(&emulators, options.runs, root));
    }

    let upload_rows = match options.uploads {
        Some(mib) if options.awscli => {
            uploads::run(&emulators, &options.bin, root, mib, options.runs)
        }
        Some(_) => usage("--uploads (it needs the AWS CLI: drop --no-awscli)"),
        None => Vec::new(),
    };

    // `cattube --help`: process start to exit, no AWS involved.
    let sandbox = emulators.sandbox(REGION);
    let help: Vec<Duration> = (0..30)
        .map(|_| {
            let start = Instant::now();
            let out = sandbox
                .command_for(&options.bin)
                .arg("--help")
                .output()
                .unwrap();
            assert!(out.status.success());
            start.elapsed()
        })
        .collect();
    let help = median(help);

    let mut failed = Vec::new();
    println!(
        "latency {latency_ms} ms per request, median of {} run(s)\n",
        options.runs
    );
    println!("{}\n", machine(&options.bin));
    println!("| scenario | wall (median) | requests (median) | writes (median) | rounds (median) | rounds × L | wall ÷ (rounds × L) | peak RSS (max of runs) | target | met |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
    for (name, samples) in &rows {
        let wall = median(samples.iter().map(|s| s.wall).collect());
        let requests = median(samples.iter().map(|s| s.requests).collect());
        let writes = median(samples.iter().map(|s| s.writes).collect());
        let rounds = median(samples.iter().map(|s| s.rounds).collect());
        let worst_rounds = samples.iter().map(|s| s.rounds).max().unwrap_or(0);
        let worst_writes = samples.iter().map(|s| s.writes).max().unwrap_or(0);
        let rss = samples.iter().filter_map(|s| s.max_rss_kib).max();
        let wall_ms = wall.as_secs_f64() * 1000.0;
        let ideal = rounds as f64 * latency_ms;
        let (target, met) = match name.as_str() {
            "cattube up (from empty)" => {
                // Rounds are enforced (--check), wall and memory only reported.
                if worst_rounds > MAX_UP_ROUNDS {
                    failed.push(format!("{name}: {worst_rounds} rounds"));
                }
                (
                    "≤ 8 rounds; wall ≤ 1.5 × rounds × L, RSS < 50 MB",
                    worst_rounds <= MAX_UP_ROUNDS
                        && wall_ms <= 1.5 * ideal
                        && rss.is_none_or(|k| k < 50 * 1024),
                )
            }
            "cattube up (converged)" | "cattube status" => {
                let met = worst_rounds <= MAX_CONVERGED_ROUNDS && worst_writes == 0;
                if !met {
                    failed.push(name.clone());
                }
                ("≤ 2 rounds, 0 writes", met)
            }
            "cattube down --yes" => {
                let met = worst_rounds <= MAX_DOWN_ROUNDS;
                if !met {
                    failed.push(format!("{name}: {worst_rounds} rounds"));
                }
                ("≤ 10 rounds", met)
            }
            _ => ("–", true),
        };
        println!(
            "| {name} | {wall_ms:.0} ms | {requests} | {writes} | {rounds} | {ideal:.0} ms | {:.2} | {} | {target} | {} |",
            if ideal > 0.0 { wall_ms / ideal } else { 0.0 },
            rss.map(|k| format!("{:.1} MB", k as f64 / 1024.0))
                .unwrap_or_else(|| "?".into()),
            if target == "–" { "–" } else if met { "yes" } else { "**no**" }
        );
    }
    if !propagation.is_empty() {
        let n_ms = options.propagation.as_secs_f64() * 1000.0;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let wall = median(propagation.iter().map(|p| p.0.wall).collect());
        let after_ms = ms(median(propagation.iter().map(|p| p.1).collect()));
        let poll_ms = ms(median(propagation.iter().map(|p| p.2).collect()));
        let create_ms = ms(median(propagation.iter().map(|p| p.3).collect()));
        let goal = n_ms + 4.0 * latency_ms;
        println!(
            "\n| role propagation N | up wall (median) | from CreateRole to exit (median) | (that − N) ÷ L | of which: waiting for the next poll (median) | CreateFunction that succeeded to exit (median) ÷ L | goal: from CreateRole ≤ N + 4 × L | met |"
        );
        println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        println!(
            "| {:.1} s | {:.0} ms | {after_ms:.0} ms | {:.1} | {poll_ms:.0} ms (poll period {} ms) | {:.1} | {goal:.0} ms | {} |",
            n_ms / 1000.0,
            ms(wall),
            (after_ms - n_ms) / latency_ms,
            cattube_stages::retry::PROPAGATION_POLL.as_millis(),
            create_ms / latency_ms,
            if after_ms <= goal { "yes" } else { "**no**" }
        );
    }
    if !upload_rows.is_empty() {
        uploads::print(&upload_rows, latency_ms);
    }
    println!(
        "\n`cattube --help`: {:.1} ms (median of 30, process start to exit); target < 10 ms: {}",
        help.as_secs_f64() * 1000.0,
        if help < Duration::from_millis(10) {
            "yes"
        } else {
            "**no**"
        }
    );
    if options.check && !failed.is_empty() {
        eprintln!("bench: targets broken: {}", failed.join(", "));
        std::process::exit(1);
    }
}
