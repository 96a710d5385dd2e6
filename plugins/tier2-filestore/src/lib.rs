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

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::spec::FilestoreSpec;
use ecs_plugin_sdk::{FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring, tier2};

/// Value of the `component` label on the objects this provider emits.
pub const COMPONENT: &str = "tier2";

/// The `tier2-filestore` provider.
pub struct Filestore;

impl Tier2Provider for Filestore {
    fn describe() -> PluginInfo {
        // The PersistentVolume is cluster-scoped, outside the default output policy.
        ecs_plugin_sdk::plugin_info!(
            "tier2-filestore",
            PluginKind::Tier2Provider,
            COMPONENT,
            &["emits:PersistentVolume"]
        )
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        tier2::config_problems(input, validate::validate)
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let spec: FilestoreSpec = tier2::validated_config(input, validate::validate)?;
        let cluster = &input.cluster;
        // The nodes are wired exactly like the NFS provider's, on the claim created here.
        let mut wiring = tier2::mounted_claim(&objects::claim_name(&cluster.name), false)?;
        wiring.objects = objects::objects(cluster, &spec)?;
        Ok(wiring)
    }
}

ecs_plugin_sdk::export_tier2_provider!(Filestore);
