//! The `tier2-hdfs` provider: Tier-2 on HDFS (`spec.ecs.tier2.hdfs`; the cluster must support append).
//!
//! Pure logic lives in the modules below so that it is unit-tested natively; this file only wires it to
//! the plugin contract.

mod validate;
mod wiring;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::spec::HdfsSpec;
use ecs_plugin_sdk::{
    CONTRACT_VERSION, FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring,
    parse_config,
};

/// The `tier2-hdfs` provider.
pub struct Hdfs;

impl Tier2Provider for Hdfs {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "tier2-hdfs".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Tier2Provider,
            contract: CONTRACT_VERSION.to_string(),
            component: "tier2".to_string(),
            capabilities: Vec::new(),
        }
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        match parse_config::<HdfsSpec>(input) {
            Ok(spec) => validate::validate(&spec, &input.config_path),
            Err(errors) => errors,
        }
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let spec = parse_config::<HdfsSpec>(input).map_err(PluginError::InvalidInput)?;
        // The host validates first; checking again keeps nodes from starting against a bad URI.
        let errors = validate::validate(&spec, &input.config_path);
        if !errors.is_empty() {
            return Err(PluginError::InvalidInput(errors));
        }
        Ok(wiring::wiring(&spec))
    }
}

ecs_plugin_sdk::export_tier2_provider!(Hdfs);
