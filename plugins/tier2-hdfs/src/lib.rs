//! The `tier2-hdfs` provider: Tier-2 on HDFS (`spec.ecs.tier2.hdfs`; the cluster must support append).
//!
//! Pure logic lives in the modules below so that it is unit-tested natively; this file only wires it to
//! the plugin contract.

mod validate;
mod wiring;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::spec::HdfsSpec;
use ecs_plugin_sdk::{FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring, tier2};

/// The `tier2-hdfs` provider.
pub struct Hdfs;

impl Tier2Provider for Hdfs {
    fn describe() -> PluginInfo {
        ecs_plugin_sdk::plugin_info!("tier2-hdfs", PluginKind::Tier2Provider, "tier2", &[])
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        tier2::config_problems(input, validate::validate)
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let spec: HdfsSpec = tier2::validated_config(input, validate::validate)?;
        Ok(wiring::wiring(&spec))
    }
}

ecs_plugin_sdk::export_tier2_provider!(Hdfs);
