//! The end-to-end tests: one binary, linked once, one module per area (as casey/just and
//! astral-sh/uv lay theirs out). Each module runs the built `cattube` against moto's server
//! and the MediaConvert stand-in, which every test starts for itself on free loopback ports,
//! so tests share no process state and run in parallel.
//!
//! `cargo test --test it NAME` runs one area's tests (`NAME::` as a filter), e.g.
//! `cargo test --test it reliability:: -- --nocapture`.

mod support;

mod adoption;
mod browser;
mod cli;
mod cost;
mod delivery;
mod domain;
mod events;
mod first_hour;
mod lifecycle;
mod limits;
mod newcomer;
mod permissions;
mod pipeline;
mod player;
mod private;
mod profiles;
mod real_aws;
mod registry;
mod reliability;
mod remote_state;
mod rounds;
mod shared_oac;
mod stacks;
mod terminal;
mod upload_grants;
mod upload_page;
mod videos;

/// A file under tests/ or stages/tests/ that is no module of its crate's one test binary
/// would never run (both Cargo.toml set `autotests = false`): each must be declared there.
#[test]
fn every_test_file_is_a_module_of_the_one_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for dir in [root.join("tests"), root.join("stages/tests")] {
        let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let declared = main.contains(&format!("\nmod {stem};\n"));
            if path.extension().is_some_and(|e| e == "rs") && stem != "main" && !declared {
                missing.push(path.display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not declared in their main.rs: {missing:?}"
    );
}
