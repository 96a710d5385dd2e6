//! The `tier2-nfs` provider: Tier-2 on an NFS (or any ReadWriteMany) volume, claimed by a
//! PersistentVolumeClaim the user created (`spec.ecs.tier2.filesystem`). The nodes mount the claim at
//! `/mnt/tier2` and are told to use it as a FILESYSTEM Tier-2.
//!
//! Pure logic lives in the modules below so that it is unit-tested natively; this file only wires it to
//! the plugin contract.

mod validate;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::spec::FilesystemSpec;
use ecs_plugin_sdk::{FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring, tier2};

/// The `tier2-nfs` provider.
pub struct Nfs;

impl Tier2Provider for Nfs {
    fn describe() -> PluginInfo {
        ecs_plugin_sdk::plugin_info!("tier2-nfs", PluginKind::Tier2Provider, "tier2", &[])
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        tier2::config_problems(input, validate::validate)
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let spec: FilesystemSpec = tier2::validated_config(input, validate::validate)?;
        let claim = &spec.persistent_volume_claim;
        tier2::mounted_claim(&claim.claim_name, claim.read_only)
    }
}

ecs_plugin_sdk::export_tier2_provider!(Nfs);
