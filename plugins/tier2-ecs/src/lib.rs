//! The `tier2-ecs` provider: Tier-2 on a DellEMC ECS object store through its S3 extended API
//! (`spec.ecs.tier2.ecs`).
//!
//! Pure logic lives in the modules below so that it is unit-tested natively; this file only wires it to
//! the plugin contract.

mod validate;
mod wiring;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::spec::EcsObjectStoreSpec;
use ecs_plugin_sdk::{FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring, tier2};

/// The `tier2-ecs` provider.
pub struct EcsObjectStore;

impl Tier2Provider for EcsObjectStore {
    fn describe() -> PluginInfo {
        ecs_plugin_sdk::plugin_info!("tier2-ecs", PluginKind::Tier2Provider, "tier2", &[])
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        tier2::config_problems(input, validate::validate)
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let spec: EcsObjectStoreSpec = tier2::validated_config(input, validate::validate)?;
        Ok(wiring::wiring(&spec))
    }
}

ecs_plugin_sdk::export_tier2_provider!(EcsObjectStore);
