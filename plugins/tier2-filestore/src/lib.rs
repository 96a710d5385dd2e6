//! The `tier2-filestore` provider: Tier-2 on a Google Filestore share (`spec.ecs.tier2.filestore`).
//!
//! A Filestore share is an NFS export. Upstream made users hand-write a PersistentVolume and claim for
//! it; this provider emits both (hence its `emits:PersistentVolume` capability) and then wires the
//! nodes exactly like the NFS provider.
//!
//! Pure logic lives in the modules below so that it is unit-tested natively; this file only wires it to
//! the plugin contract.

mod objects;
mod validate;
mod wiring;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::spec::FilestoreSpec;
use ecs_plugin_sdk::{
    CONTRACT_VERSION, FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring,
    parse_config,
};

/// Value of the `component` label on the objects this provider emits.
pub const COMPONENT: &str = "tier2";

/// The `tier2-filestore` provider.
pub struct Filestore;

impl Tier2Provider for Filestore {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "tier2-filestore".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Tier2Provider,
            contract: CONTRACT_VERSION.to_string(),
            component: COMPONENT.to_string(),
            // The PersistentVolume is cluster-scoped, outside the default output policy.
            capabilities: vec!["emits:PersistentVolume".to_string()],
        }
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        match parse_config::<FilestoreSpec>(input) {
            Ok(spec) => validate::validate(&spec, &input.config_path),
            Err(errors) => errors,
        }
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let spec = parse_config::<FilestoreSpec>(input).map_err(PluginError::InvalidInput)?;
        // The host validates first; checking again keeps a bad volume from ever reaching the API server.
        let errors = validate::validate(&spec, &input.config_path);
        if !errors.is_empty() {
            return Err(PluginError::InvalidInput(errors));
        }
        let cluster = &input.cluster;
        let mut wiring = wiring::wiring(&objects::claim_name(&cluster.name))?;
        wiring.objects = objects::objects(cluster, &spec)?;
        Ok(wiring)
    }
}

ecs_plugin_sdk::export_tier2_provider!(Filestore);
