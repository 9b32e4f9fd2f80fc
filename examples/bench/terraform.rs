//! `--terraform`: the stack of `examples/terraform/main.tf` applied and destroyed by
//! Terraform through the same latency proxies, for the table beside cattube's rows.
//! Optional: without a `terraform` on PATH the bench prints a note and skips it. The
//! provider comes only from a local filesystem mirror (never fetched).

use std::path::Path;
use std::process::Command;

use super::support::{Emulators, Sandbox};
use super::{measure, Sample, REGION};

/// Where the AWS provider is mirrored (`registry.terraform.io/hashicorp/aws/<version>/...`).
const PLUGIN_MIRROR: &str = "/opt/tf-plugins";

/// The rows for the bench's table, empty when Terraform is not installed.
pub fn rows(emulators: &Emulators, runs: usize, root: &Path) -> Vec<(String, Vec<Sample>)> {
    let installed = Command::new("terraform")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("bench: --terraform: no `terraform` on PATH, skipping the Terraform rows");
        return Vec::new();
    }
    let work = tempfile::tempdir().expect("a directory for Terraform");
    let dir = work.path();
    std::fs::copy(root.join("examples/terraform/main.tf"), dir.join("main.tf"))
        .expect("copy main.tf");
    // The very zip cattube deploys.
    std::fs::write(
        dir.join("function.zip"),
        cattube_stages::artifact::function_zip(),
    )
    .expect("write function.zip");
    std::fs::write(
        dir.join("cli.tfrc"),
        format!("provider_installation {{\n  filesystem_mirror {{\n    path = \"{PLUGIN_MIRROR}\"\n  }}\n}}\n"),
    )
    .expect("write the CLI config");

    let sandbox = emulators.sandbox(REGION);
    let terraform = |args: &[&str]| {
        let mut cmd = sandbox_command(&sandbox, dir);
        cmd.args(args);
        cmd
    };
    let init = terraform(&["init", "-input=false"])
        .output()
        .expect("run terraform init");
    assert!(
        init.status.success(),
        "terraform init failed:\n{}{}",
        String::from_utf8_lossy(&init.stdout),
        String::from_utf8_lossy(&init.stderr)
    );

    const SCENARIOS: [(&str, &[&str], &[i32]); 4] = [
        (
            "Terraform apply (from empty, no job template)",
            &["apply", "-auto-approve", "-input=false"],
            &[0],
        ),
        (
            "Terraform apply (converged)",
            &["apply", "-auto-approve", "-input=false"],
            &[0],
        ),
        // -detailed-exitcode: 0 only when there is nothing to change, so drift fails the run.
        (
            "Terraform plan (converged)",
            &["plan", "-input=false", "-detailed-exitcode"],
            &[0],
        ),
        (
            "Terraform destroy",
            &["destroy", "-auto-approve", "-input=false"],
            &[0],
        ),
    ];
    let mut rows: Vec<(String, Vec<Sample>)> = SCENARIOS
        .iter()
        .map(|(name, _, _)| (name.to_string(), Vec::new()))
        .collect();
    for run in 0..runs {
        // A fresh state each run; `destroy` left the emulators as cattube's `down` did.
        let _ = std::fs::remove_file(dir.join("terraform.tfstate"));
        for (i, (name, args, expect)) in SCENARIOS.iter().enumerate() {
            let sample = measure(emulators, terraform(args), name, expect);
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
    rows
}

/// `terraform` in `dir` with the sandbox's environment (emulator credentials, no AWS
/// config) plus the configuration's variables and a CLI config that allows only the mirror.
fn sandbox_command(sandbox: &Sandbox, dir: &Path) -> Command {
    let mut cmd = sandbox.command_for(Path::new("terraform"));
    cmd.current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", dir.join("cli.tfrc"))
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_INPUT", "0")
        .env("TF_VAR_endpoint", &sandbox.endpoint)
        .env(
            "TF_VAR_mediaconvert_endpoint",
            sandbox
                .mediaconvert
                .as_deref()
                .expect("the bench's sandbox has a MediaConvert endpoint"),
        )
        .env("TF_VAR_region", REGION)
        .env("TF_VAR_function_zip", dir.join("function.zip"));
    cmd
}
