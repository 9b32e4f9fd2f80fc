//! The stack as cattube sees it, for the tests: the registry's resources and ids, and the
//! clients and context of a stack pointed at the emulators.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use cattube_stages::{Clients, Registry, Settings, StackContext};

use super::{sdk_config, Emulators};

/// Every resource of the registry, `(id, stage)`, in its order (the order `plan` lists).
pub static RESOURCES: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    Registry::standard()
        .steps()
        .iter()
        .map(|step| (step.id(), step.stage()))
        .collect()
});

/// The ids a stack with no `cattube.toml` has: every registered resource its default
/// settings want (the `[notify]` topic only with `[notify] email`).
pub static WANTED_BY_DEFAULT: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let settings = Settings::default();
    Registry::standard()
        .steps()
        .iter()
        .filter(|step| step.wanted(&settings))
        .map(|step| step.id())
        .collect()
});

/// The ids of [`RESOURCES`].
pub static IDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| RESOURCES.iter().map(|(id, _)| *id).collect());

/// The stack's clients pointed straight at the emulators (not through the proxies: a check
/// of the test's is neither counted as cattube's requests nor refused by a fault plan).
pub async fn stack_clients(emulators: &Emulators, region: &str) -> Clients {
    let moto = Clients::new(&sdk_config(&emulators.moto.url, region).await);
    Clients {
        // MediaConvert is the stand-in's, not moto's.
        mediaconvert: Clients::new(&sdk_config(&emulators.standin.url, region).await).mediaconvert,
        ..moto
    }
}

/// The context of stack `stack` in `region` as cattube builds it for `steps`: the emulators'
/// account, the names resolved from `overrides` (`[names]`) and the defaults.
pub async fn stack_context(
    emulators: &Emulators,
    region: &str,
    stack: &str,
    overrides: &BTreeMap<String, String>,
    registry: &Registry,
) -> StackContext {
    let clients = stack_clients(emulators, region).await;
    let account = clients.account_id().await.expect("the emulators' account");
    let names = registry.resolve_names(stack, &account, region, overrides);
    let settings = Settings {
        propagation_timeout: Duration::from_secs(2),
        ..Settings::default()
    };
    StackContext::new(
        stack,
        &account,
        region,
        names,
        &BTreeMap::new(),
        settings,
        clients,
    )
}
