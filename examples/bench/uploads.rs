//! The upload scenario (`--uploads`): `cattube upload` against `aws s3 cp` on the same temp
//! files through the same latency proxy: 8 files of `big / 8` MiB (a folder, `--recursive`
//! for the AWS CLI) and one of `big` MiB (512 by default, `--upload-mib` for a quick run).
//! Each case runs `--runs` times per tool, the two tools taking turns to go first (the
//! emulator's state and the machine's caches favour neither), and the medians are compared.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use crate::support::{Emulators, Sandbox};
use crate::{cattube, measure, Sample};

/// One measured upload: what, how many bytes, cattube's samples, the AWS CLI's.
pub struct Row {
    pub name: String,
    pub bytes: u64,
    pub cattube: Vec<Sample>,
    pub awscli: Vec<Sample>,
}

/// `mib` MiB of bytes that no layer can compress, written in 1 MiB blocks.
fn write_file(path: &Path, mib: u64, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut block = vec![0u8; 1024 * 1024];
    for _ in 0..mib {
        for chunk in block.chunks_mut(8) {
            // xorshift64: cheap, not compressible.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
}

fn aws(sandbox: &Sandbox, root: &Path, args: &[&str]) -> Command {
    let mut cmd = sandbox.command_for(&root.join(".bench-venv/bin/aws"));
    // The AWS CLI v1 reads only this one; its defaults (8 MiB parts, 10 requests) kept.
    cmd.env("AWS_DEFAULT_REGION", crate::REGION).args(args);
    cmd
}

/// Runs the scenario once on a stack made with `cattube up` in a fresh sandbox.
pub fn run(emulators: &Emulators, bin: &Path, root: &Path, big_mib: u64, runs: usize) -> Vec<Row> {
    let sandbox = emulators.sandbox(crate::REGION);
    measure(
        emulators,
        cattube(&sandbox, bin, &["up"]),
        "up for uploads",
        &[0],
    );
    let listed = aws(
        &sandbox,
        root,
        &[
            "s3api",
            "list-buckets",
            "--query",
            "Buckets[?starts_with(Name, 'cattube-source-')].Name",
            "--output",
            "text",
        ],
    )
    .output()
    .expect("list the buckets");
    let bucket = String::from_utf8_lossy(&listed.stdout).trim().to_string();
    assert!(!bucket.is_empty(), "no source bucket after `cattube up`");

    // Never in the repository: a temp folder, removed when dropped.
    let files = tempfile::tempdir().unwrap();
    let many = files.path().join("many");
    std::fs::create_dir(&many).unwrap();
    let small_mib = (big_mib / 8).max(1);
    for i in 0..8 {
        write_file(&many.join(format!("cat-{i}.mp4")), small_mib, i + 1);
    }
    let big = files.path().join("big.mp4");
    write_file(&big, big_mib, 99);
    let (many_s, big_s) = (many.to_str().unwrap(), big.to_str().unwrap());

    let cases: [(String, u64, Vec<&str>, Vec<String>); 2] = [
        (
            format!("8 files of {small_mib} MiB"),
            8 * small_mib,
            vec!["upload", "--prefix", "cattube-many", many_s],
            vec![
                "s3".into(),
                "cp".into(),
                "--recursive".into(),
                "--quiet".into(),
                many_s.into(),
                format!("s3://{bucket}/awscli-many/"),
            ],
        ),
        (
            format!("1 file of {big_mib} MiB"),
            big_mib,
            vec!["upload", "--prefix", "cattube-big", big_s],
            vec![
                "s3".into(),
                "cp".into(),
                "--quiet".into(),
                big_s.into(),
                format!("s3://{bucket}/awscli-big/big.mp4"),
            ],
        ),
    ];
    let mut rows = Vec::new();
    for (name, mib, ours, theirs) in cases {
        let theirs: Vec<&str> = theirs.iter().map(String::as_str).collect();
        let mut row = Row {
            name,
            bytes: mib * 1024 * 1024,
            cattube: Vec::new(),
            awscli: Vec::new(),
        };
        for run in 0..runs {
            for awscli_turn in [run % 2 == 1, run % 2 == 0] {
                let sample = if awscli_turn {
                    measure(emulators, aws(&sandbox, root, &theirs), &row.name, &[0])
                } else {
                    measure(emulators, cattube(&sandbox, bin, &ours), &row.name, &[0])
                };
                eprintln!(
                    "bench: run {} upload {} with {}: {:.0} ms, {} requests, {} rounds",
                    run + 1,
                    row.name,
                    if awscli_turn {
                        "the AWS CLI"
                    } else {
                        "cattube"
                    },
                    sample.wall.as_secs_f64() * 1000.0,
                    sample.requests,
                    sample.rounds
                );
                if awscli_turn {
                    row.awscli.push(sample);
                } else {
                    row.cattube.push(sample);
                }
                // Frees the emulator's memory before the next upload.
                let rm = [
                    "s3",
                    "rm",
                    "--recursive",
                    "--quiet",
                    &format!("s3://{bucket}/"),
                ]
                .map(String::from);
                let rm: Vec<&str> = rm.iter().map(String::as_str).collect();
                measure(
                    emulators,
                    aws(&sandbox, root, &rm),
                    "emptying the bucket",
                    &[0],
                );
            }
        }
        rows.push(row);
    }
    rows
}

/// The table of BENCHMARKS.md's upload section.
pub fn print(rows: &[Row], latency_ms: f64) {
    let runs = rows.first().map_or(0, |r| r.cattube.len());
    println!("\nuploads, {latency_ms} ms per request, median of {runs} run(s) per tool (AWS CLI defaults: 8 MiB parts, 10 requests in flight)\n");
    println!("| upload | cattube wall (median) | cattube MiB/s | AWS CLI wall (median) | AWS CLI MiB/s | ratio cattube ÷ AWS CLI (throughput) | cattube peak RSS (max) | AWS CLI peak RSS (max) | met (ratio ≥ 1, cattube RSS < 100 MB) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for row in rows {
        let mib = row.bytes as f64 / (1024.0 * 1024.0);
        let wall = |samples: &[Sample]| {
            crate::median(samples.iter().map(|s| s.wall).collect()).as_secs_f64()
        };
        let (ours, theirs) = (wall(&row.cattube), wall(&row.awscli));
        let ratio = theirs / ours;
        let peak = |samples: &[Sample]| samples.iter().filter_map(|s| s.max_rss_kib).max();
        let rss = |samples: &[Sample]| {
            peak(samples)
                .map(|k| format!("{:.1} MB", k as f64 / 1024.0))
                .unwrap_or_else(|| "?".into())
        };
        let met = ratio >= 1.0 && peak(&row.cattube).is_none_or(|k| k < 100 * 1024);
        println!(
            "| {} | {:.0} ms | {:.1} | {:.0} ms | {:.1} | {ratio:.2} | {} | {} | {} |",
            row.name,
            ours * 1000.0,
            mib / ours,
            theirs * 1000.0,
            mib / theirs,
            rss(&row.cattube),
            rss(&row.awscli),
            if met { "yes" } else { "**no**" }
        );
    }
}
