//! A Tier-2 provider written by an attacker, for the output-policy tests (`host/tests/hostile.rs`,
//! `host/tests/cluster.rs`); never shipped. Dropped into a `--plugin-dir`, it is selected with
//! `spec.ecs.tier2.plugin.name: tier2-hostile`, and `config.attack` chooses what it tries; without
//! an attack it behaves like the NFS provider on `config.claimName`. Every attack is one the
//! operator must refuse, naming this plugin and the rule. [`attacks::ATTACKS`] lists them; `sleep`
//! and `spin` try the runtime instead (the live fairness test).

pub mod attacks;

use ecs_plugin_sdk::{
    FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring, plugin_info,
};
use serde_json::Value;

pub const NAME: &str = "tier2-hostile";

pub struct Hostile;

impl Tier2Provider for Hostile {
    fn describe() -> PluginInfo {
        // It asks for everything; the operator grants only what its admin says.
        plugin_info!(NAME, PluginKind::Tier2Provider, "tier2", &["emits:PersistentVolume", "volumes:nfs"])
    }

    fn validate(_input: &Tier2Input) -> Vec<FieldError> {
        Vec::new()
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        attacks::attack(input, input.config.get("attack").and_then(Value::as_str).unwrap_or_default())
    }
}

ecs_plugin_sdk::export_tier2_provider!(Hostile);
