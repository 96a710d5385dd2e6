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
use ecs_plugin_sdk::{
    CONTRACT_VERSION, FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring,
    parse_config,
};

/// The `tier2-ecs` provider.
pub struct EcsObjectStore;

impl Tier2Provider for EcsObjectStore {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "tier2-ecs".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Tier2Provider,
            contract: CONTRACT_VERSION.to_string(),
            component: "tier2".to_string(),
            capabilities: Vec::new(),
        }
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        match parse_config::<EcsObjectStoreSpec>(input) {
            Ok(spec) => validate::validate(&spec, &input.config_path),
            Err(errors) => errors,
        }
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let spec = parse_config::<EcsObjectStoreSpec>(input).map_err(PluginError::InvalidInput)?;
        // The host validates first; checking again keeps nodes from starting against a bad endpoint.
        let errors = validate::validate(&spec, &input.config_path);
        if !errors.is_empty() {
            return Err(PluginError::InvalidInput(errors));
        }
        Ok(wiring::wiring(&spec))
    }
}

ecs_plugin_sdk::export_tier2_provider!(EcsObjectStore);
