//! References across the whole plan: a Secret, ConfigMap or claim that a pod template, an `envFrom`
//! or a volume uses is one the plan creates or one the `ECSCluster` spec names; a claim binds an
//! existing volume (`volumeName`, `selector`, `dataSource`) only if the plan creates that volume or
//! the spec asks for exactly that binding; Services and StatefulSets refer to the plan's own objects.

use super::pod::reserved_env;
use super::{Emitted, Finding, PolicyViolation, Rule};
use ecs_plugin_sdk::Cluster;
use ecs_plugin_sdk::k8s::LABEL_POD_NAME;
use ecs_plugin_sdk::spec::ECSClusterSpec;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// What the spec names: the only objects a plan may use without creating them.
#[derive(Debug, Default)]
pub struct SpecReferences {
    pub secrets: BTreeSet<String>,
    pub config_maps: BTreeSet<String>,
    pub claims: BTreeSet<String>,
    /// The binding fields (`volumeName`, `selector`, `dataSource`, `dataSourceRef`) of the spec's
    /// claim templates, where they set any.
    pub bindings: Vec<Map<String, Value>>,
}

impl SpecReferences {
    pub fn of(spec: &ECSClusterSpec) -> Self {
        let mut refs = SpecReferences::default();
        let tier2 = &spec.ecs.tier2;
        if let Some(ecs) = &tier2.ecs {
            refs.secrets.insert(ecs.credentials.clone());
        }
        if let Some(fs) = &tier2.filesystem {
            refs.claims.insert(fs.persistent_volume_claim.claim_name.clone());
        }
        if let Some(plugin) = &tier2.plugin {
            refs.secrets.extend(plugin.secrets.iter().cloned());
            refs.config_maps.extend(plugin.config_maps.iter().cloned());
            refs.claims.extend(plugin.persistent_volume_claims.iter().cloned());
        }
        let storage = &spec.bookkeeper.storage;
        let templates = [
            Some(&storage.ledger_volume_claim_template),
            Some(&storage.journal_volume_claim_template),
            storage.index_volume_claim_template.as_ref(),
            Some(&spec.ecs.cache_volume_claim_template),
        ];
        for template in templates.into_iter().flatten() {
            let binding = binding(&serde_json::to_value(template).unwrap_or_default());
            if !binding.is_empty() {
                refs.bindings.push(binding);
            }
        }
        refs
    }
}

const BINDING_FIELDS: &[&str] = &["volumeName", "selector", "dataSource", "dataSourceRef"];

/// The binding fields a claim spec sets.
fn binding(claim_spec: &Value) -> Map<String, Value> {
    BINDING_FIELDS
        .iter()
        .filter_map(|f| claim_spec.get(*f).filter(|v| !v.is_null()).map(|v| (f.to_string(), v.clone())))
        .collect()
}

/// What the plan creates, by kind.
struct Planned {
    config_maps: BTreeSet<String>,
    claims: BTreeSet<String>,
    volumes: BTreeSet<String>,
    services: BTreeSet<String>,
    stateful_sets: BTreeSet<String>,
}

impl Planned {
    fn of(plan: &[Emitted]) -> Self {
        let names = |kind: &str| -> BTreeSet<String> {
            plan.iter()
                .filter(|e| e.object.get("kind").and_then(Value::as_str) == Some(kind))
                .filter_map(|e| e.object.pointer("/metadata/name").and_then(Value::as_str).map(String::from))
                .collect()
        };
        Planned {
            config_maps: names("ConfigMap"),
            claims: names("PersistentVolumeClaim"),
            volumes: names("PersistentVolume"),
            services: names("Service"),
            stateful_sets: names("StatefulSet"),
        }
    }
}

pub fn check(cluster: &Cluster, plan: &[Emitted]) -> Result<(), PolicyViolation> {
    let spec = SpecReferences::of(&cluster.spec);
    let planned = Planned::of(plan);
    for e in plan {
        let mut out = Vec::new();
        let o = &e.object;
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or_default();
        let refs = Refs { spec: &spec, planned: &planned, plan };
        match kind {
            "Job" => {
                if let Some(pod) = o.pointer("/spec/template/spec") {
                    refs.pod(pod, "spec.template.spec", &mut out);
                }
            }
            "StatefulSet" | "Deployment" => {
                if let Some(pod) = o.pointer("/spec/template/spec") {
                    refs.pod(pod, "spec.template.spec", &mut out);
                }
                if let Some(service) = o.pointer("/spec/serviceName").and_then(Value::as_str)
                    && !planned.services.contains(service)
                {
                    out.push(Finding::new(
                        Rule::References,
                        "spec.serviceName",
                        format!("Service {service:?} is not one the plan creates"),
                    ));
                }
                let templates = o.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array);
                for (i, t) in templates.into_iter().flatten().enumerate() {
                    refs.claim_binding(t.get("spec"), &format!("spec.volumeClaimTemplates[{i}].spec"), &mut out);
                }
            }
            "Service" => {
                if let Some(pod) =
                    o.pointer("/spec/selector").and_then(|s| s.get(LABEL_POD_NAME)).and_then(Value::as_str)
                    && !planned.stateful_sets.iter().any(|sts| {
                        pod.strip_prefix(sts.as_str())
                            .and_then(|rest| rest.strip_prefix('-'))
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    })
                {
                    out.push(Finding::new(
                        Rule::References,
                        &format!("spec.selector[{LABEL_POD_NAME}]"),
                        format!("{pod:?} is not a pod of a StatefulSet the plan creates"),
                    ));
                }
            }
            "PersistentVolumeClaim" => refs.claim_binding(o.get("spec"), "spec", &mut out),
            "PersistentVolume" => {
                let claim = o.pointer("/spec/claimRef/name").and_then(Value::as_str).unwrap_or_default();
                if !planned.claims.contains(claim) {
                    out.push(Finding::new(
                        Rule::References,
                        "spec.claimRef.name",
                        format!("{claim:?} is not a claim the plan creates"),
                    ));
                }
            }
            _ => {}
        }
        if !out.is_empty() {
            let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            return Err(PolicyViolation::new(&e.plugin, format!("{kind}/{name}"), out));
        }
    }
    Ok(())
}

struct Refs<'a> {
    spec: &'a SpecReferences,
    planned: &'a Planned,
    plan: &'a [Emitted],
}

impl Refs<'_> {
    fn pod(&self, pod: &Value, path: &str, out: &mut Vec<Finding>) {
        for (i, volume) in pod.get("volumes").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let at = format!("{path}.volumes[{i}]");
            self.config_map(volume.pointer("/configMap/name"), &format!("{at}.configMap.name"), out);
            self.secret(volume.pointer("/secret/secretName"), &format!("{at}.secret.secretName"), out);
            self.claim(
                volume.pointer("/persistentVolumeClaim/claimName"),
                &format!("{at}.persistentVolumeClaim.claimName"),
                out,
            );
            let sources = volume.pointer("/projected/sources").and_then(Value::as_array);
            for (j, source) in sources.into_iter().flatten().enumerate() {
                let at = format!("{at}.projected.sources[{j}]");
                self.config_map(source.pointer("/configMap/name"), &format!("{at}.configMap.name"), out);
                self.secret(source.pointer("/secret/name"), &format!("{at}.secret.name"), out);
            }
            let ephemeral = volume.pointer("/ephemeral/volumeClaimTemplate/spec");
            self.claim_binding(ephemeral, &format!("{at}.ephemeral.volumeClaimTemplate.spec"), out);
        }
        for field in ["initContainers", "containers"] {
            for (i, c) in pod.get(field).and_then(Value::as_array).into_iter().flatten().enumerate() {
                let at = format!("{path}.{field}[{i}]");
                for (j, var) in c.get("env").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let at = format!("{at}.env[{j}].valueFrom");
                    self.config_map(
                        var.pointer("/valueFrom/configMapKeyRef/name"),
                        &format!("{at}.configMapKeyRef.name"),
                        out,
                    );
                    self.secret(var.pointer("/valueFrom/secretKeyRef/name"), &format!("{at}.secretKeyRef.name"), out);
                }
                for (j, source) in c.get("envFrom").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let at = format!("{at}.envFrom[{j}]");
                    let config_map = source.pointer("/configMapRef/name");
                    self.config_map(config_map, &format!("{at}.configMapRef.name"), out);
                    self.secret(source.pointer("/secretRef/name"), &format!("{at}.secretRef.name"), out);
                    // Every key of the ConfigMap becomes a variable: none may be a reserved one.
                    let prefix = source.get("prefix").and_then(Value::as_str).unwrap_or_default();
                    if let Some(name) = config_map.and_then(Value::as_str) {
                        self.env_keys(name, prefix, &format!("{at}.configMapRef"), out);
                    }
                }
            }
        }
    }

    fn env_keys(&self, config_map: &str, prefix: &str, path: &str, out: &mut Vec<Finding>) {
        let planned = self.plan.iter().find(|e| {
            e.object.get("kind").and_then(Value::as_str) == Some("ConfigMap")
                && e.object.pointer("/metadata/name").and_then(Value::as_str) == Some(config_map)
        });
        let keys = planned.and_then(|e| e.object.get("data")).and_then(Value::as_object);
        for key in keys.into_iter().flatten().map(|(k, _)| k) {
            if let Some(why) = reserved_env(&format!("{prefix}{key}")) {
                out.push(Finding::new(Rule::Pods, path, format!("ConfigMap {config_map:?} sets {why}")));
            }
        }
    }

    fn missing(&self, what: &str, name: &str, path: &str, out: &mut Vec<Finding>) {
        out.push(Finding::new(
            Rule::References,
            path,
            format!("{what} {name:?} is neither created by the plan nor named in the spec"),
        ));
    }

    fn config_map(&self, name: Option<&Value>, path: &str, out: &mut Vec<Finding>) {
        let Some(name) = name.and_then(Value::as_str) else { return };
        if !self.planned.config_maps.contains(name) && !self.spec.config_maps.contains(name) {
            self.missing("ConfigMap", name, path, out);
        }
    }

    fn secret(&self, name: Option<&Value>, path: &str, out: &mut Vec<Finding>) {
        let Some(name) = name.and_then(Value::as_str) else { return };
        // Plans never create Secrets: secret values do not pass through plugins.
        if !self.spec.secrets.contains(name) {
            out.push(Finding::new(Rule::References, path, format!("Secret {name:?} is not named in the spec")));
        }
    }

    fn claim(&self, name: Option<&Value>, path: &str, out: &mut Vec<Finding>) {
        let Some(name) = name.and_then(Value::as_str) else { return };
        if !self.planned.claims.contains(name) && !self.spec.claims.contains(name) {
            self.missing("PersistentVolumeClaim", name, path, out);
        }
    }

    /// A claim spec binds an existing volume only if the plan creates it, or exactly as the spec's
    /// own claim templates ask.
    fn claim_binding(&self, spec: Option<&Value>, path: &str, out: &mut Vec<Finding>) {
        let Some(spec) = spec else { return };
        let binding = binding(spec);
        if binding.is_empty() || self.spec.bindings.contains(&binding) {
            return;
        }
        let own_volume = binding.len() == 1
            && binding.get("volumeName").and_then(Value::as_str).is_some_and(|v| self.planned.volumes.contains(v));
        if !own_volume {
            out.push(Finding::new(
                Rule::References,
                path,
                format!(
                    "binds an existing volume ({}) that the plan does not create and the spec does not ask for",
                    json!(binding)
                ),
            ));
        }
    }
}
