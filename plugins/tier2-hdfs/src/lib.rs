use ecs_plugin_sdk::*;
pub struct P;
impl Tier2Provider for P {
    fn describe() -> PluginInfo { PluginInfo { name: "x".into(), version: "0".into(), kind: PluginKind::Tier2Provider, contract: CONTRACT_VERSION.into(), component: "tier2".into(), capabilities: vec![] } }
    fn validate(_i: &Tier2Input) -> Vec<FieldError> { vec![] }
    fn provide(_i: &Tier2Input) -> Result<Tier2Wiring, PluginError> { Ok(Tier2Wiring::default()) }
}
export_tier2_provider!(P);
