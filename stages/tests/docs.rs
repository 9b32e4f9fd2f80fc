//! The README's generated blocks: what the code says, not what someone typed. Each block sits
//! between `<!-- generated: NAME -->` and `<!-- end generated: NAME -->` in a Markdown file
//! of the repository; this test fails when a committed block differs from what the code
//! gives, and with `CATTUBE_BLESS=1` rewrites it instead (`scripts/bless-docs`).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cattube_stages::{converter_role, Registry, Settings, StackContext};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A stack whose every resource is named by a placeholder (`<destination-bucket>`), in
/// `<region>` of `<account>`.
fn placeholder_stack(notify: bool) -> StackContext {
    let registry = Registry::standard();
    let overrides: BTreeMap<String, String> = registry
        .named()
        .into_iter()
        .map(|(id, _, _)| (id.to_string(), format!("<{id}>")))
        .collect();
    let names = registry.resolve_names("<stack>", "<account>", "<region>", &overrides);
    let settings = Settings {
        notify_emails: if notify {
            vec!["someone@example.com".into()]
        } else {
            Vec::new()
        },
        // The list marks what only an option adds: every `[job]` limit too.
        max_upload_mb: notify.then_some(1024),
        max_duration_min: notify.then_some(60),
        max_output_minutes_per_day: notify.then_some(600),
        ..Settings::default()
    };
    StackContext::new(
        "<stack>",
        "<account>",
        "<region>",
        names,
        &BTreeMap::new(),
        settings,
        common::MockClients::default().build(),
    )
}

/// Every generated block the docs hold: (name, what the code gives).
fn blocks() -> Vec<(&'static str, String)> {
    vec![(
        "converter-role actions",
        converter_role::least_privilege_lines(&placeholder_stack(false), &placeholder_stack(true)),
    )]
}

/// The Markdown files that may hold a block.
fn docs() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![
        root.join("README.md"),
        root.join("lambda-artifact/README.md"),
    ];
    if let Ok(dir) = std::fs::read_dir(root.join("docs")) {
        files.extend(
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "md")),
        );
    }
    files.sort();
    files
}

#[test]
fn generated_doc_blocks_are_what_the_code_gives() {
    let bless = std::env::var("CATTUBE_BLESS").is_ok_and(|v| v == "1");
    let mut found = BTreeMap::new();
    let mut stale = Vec::new();
    for file in docs() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut rewritten = text.clone();
        for (name, wanted) in blocks() {
            let start = format!("<!-- generated: {name} -->\n");
            let end = format!("<!-- end generated: {name} -->");
            let Some(from) = rewritten.find(&start).map(|i| i + start.len()) else {
                continue;
            };
            let to = from
                + rewritten[from..]
                    .find(&end)
                    .unwrap_or_else(|| panic!("{}: `{start}` has no `{end}`", file.display()));
            *found.entry(name).or_insert(0) += 1;
            if rewritten[from..to] != wanted {
                stale.push(format!("{}: {name}", file.display()));
                rewritten.replace_range(from..to, &wanted);
            }
        }
        if bless && rewritten != text {
            std::fs::write(&file, rewritten).unwrap();
        }
    }
    for (name, _) in blocks() {
        assert!(
            found.contains_key(name),
            "no doc holds the generated block `{name}`"
        );
    }
    assert!(
        bless || stale.is_empty(),
        "stale generated blocks (scripts/bless-docs rewrites them): {}",
        stale.join("; ")
    );
}
