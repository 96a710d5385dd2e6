//! Conversions between the host's WIT bindings and the SDK's plain Rust model, so the rest of the
//! host works with `ecs_plugin_sdk` types only. Every free-text string a plugin returns is escaped on
//! the way (see `text`), after `bounds` has checked the raw output.

use super::bindings::wit;
use super::text::escape_owned as safe;
use ecs_plugin_sdk as sdk;
use serde_json::Value;

pub fn cluster(c: &sdk::Cluster) -> Result<wit::Cluster, serde_json::Error> {
    Ok(wit::Cluster {
        name: c.name.clone(),
        namespace: c.namespace.clone(),
        uid: c.uid.clone(),
        generation: c.generation,
        spec: serde_json::to_string(&c.spec)?,
    })
}

pub fn documents(values: &[Value]) -> Vec<String> {
    values.iter().map(Value::to_string).collect()
}

pub fn info(i: wit::PluginInfo) -> sdk::PluginInfo {
    sdk::PluginInfo {
        name: safe(i.name),
        version: safe(i.version),
        kind: match i.kind {
            wit::PluginKind::Reconciler => sdk::PluginKind::Reconciler,
            wit::PluginKind::Tier2Provider => sdk::PluginKind::Tier2Provider,
        },
        contract: safe(i.contract),
        component: safe(i.component),
        capabilities: i.capabilities.into_iter().map(safe).collect(),
    }
}

pub fn field_errors(errors: Vec<wit::FieldError>) -> Vec<sdk::FieldError> {
    errors.into_iter().map(|e| sdk::FieldError { path: safe(e.path), message: safe(e.message) }).collect()
}

pub fn wiring_to_wit(w: &sdk::Tier2Wiring) -> wit::Tier2Wiring {
    wit::Tier2Wiring {
        env: w.env.iter().map(|e| wit::EnvVar { name: e.name.clone(), value: e.value.clone() }).collect(),
        secret_env: w
            .secret_env
            .iter()
            .map(|s| wit::SecretEnv { secret_name: s.secret_name.clone(), prefix: s.prefix.clone() })
            .collect(),
        volumes: documents(&w.volumes),
        mounts: documents(&w.mounts),
        jvm_options: w.jvm_options.clone(),
        objects: documents(&w.objects),
    }
}

/// Parses the documents a plugin returned; a document that is not JSON is malformed output.
pub fn parse_documents(docs: Vec<String>, what: &str) -> Result<Vec<Value>, String> {
    docs.into_iter()
        .enumerate()
        .map(|(i, d)| serde_json::from_str(&d).map_err(|e| safe(format!("{what} #{i} is not JSON: {e}"))))
        .collect()
}

pub fn wiring_from_wit(w: wit::Tier2Wiring) -> Result<sdk::Tier2Wiring, String> {
    Ok(sdk::Tier2Wiring {
        env: w.env.into_iter().map(|e| sdk::EnvVar { name: e.name, value: e.value }).collect(),
        secret_env: w
            .secret_env
            .into_iter()
            .map(|s| sdk::SecretEnv { secret_name: s.secret_name, prefix: s.prefix })
            .collect(),
        volumes: parse_documents(w.volumes, "volume")?,
        mounts: parse_documents(w.mounts, "mount")?,
        jvm_options: w.jvm_options,
        objects: parse_documents(w.objects, "object")?,
    })
}

pub fn plan_from_wit(p: wit::Plan) -> Result<sdk::Plan, String> {
    let s = p.status;
    Ok(sdk::Plan {
        objects: parse_documents(p.objects, "object")?,
        status: sdk::ComponentStatus {
            component: safe(s.component),
            desired_replicas: s.desired_replicas,
            ready_replicas: s.ready_replicas,
            ready_members: s.ready_members.into_iter().map(safe).collect(),
            unready_members: s.unready_members.into_iter().map(safe).collect(),
            current_version: s.current_version.map(safe),
        },
        events: p
            .events
            .into_iter()
            .map(|e| sdk::Event {
                type_: match e.type_ {
                    wit::EventType::Normal => sdk::EventType::Normal,
                    wit::EventType::Warning => sdk::EventType::Warning,
                },
                // `bounds` admitted only reasons Kubernetes accepts: letters and digits.
                reason: e.reason,
                message: safe(e.message),
            })
            .collect(),
        // Paths are checked against the cluster's own tree by the policy, before anything acts on them.
        cleanup: p
            .cleanup
            .into_iter()
            .map(|c| match c {
                wit::Cleanup::ZookeeperTree(path) => sdk::Cleanup::ZookeeperTree(safe(path)),
            })
            .collect(),
    })
}

pub fn plugin_error(e: wit::PluginError) -> PluginFailure {
    match e {
        wit::PluginError::InvalidInput(errors) => PluginFailure::Invalid(field_errors(errors)),
        wit::PluginError::Failed(message) => PluginFailure::Failed(safe(message)),
    }
}

/// A plugin's own, non-trap failure.
pub enum PluginFailure {
    Invalid(Vec<sdk::FieldError>),
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_text_is_escaped_on_the_way_in() {
        let failure = plugin_error(wit::PluginError::Failed("a\nb".into()));
        assert!(matches!(failure, PluginFailure::Failed(m) if m == "a\\nb"));
        let errors = field_errors(vec![wit::FieldError { path: "spec.\u{1b}x".into(), message: "m\r\n".into() }]);
        assert_eq!(errors[0].path, "spec.\\u{1b}x");
        assert_eq!(errors[0].message, "m\\r\\n");
        let plan = plan_from_wit(wit::Plan {
            objects: vec![],
            status: wit::ComponentStatus {
                component: "bookie".into(),
                desired_replicas: 1,
                ready_replicas: 1,
                ready_members: vec!["pod\u{2028}0".into()],
                unready_members: vec!["pod\n1".into()],
                current_version: Some("0.4.0\u{9b}".into()),
            },
            events: vec![wit::Event { type_: wit::EventType::Warning, reason: "R".into(), message: "x\ty".into() }],
            cleanup: vec![],
        })
        .unwrap();
        assert_eq!(plan.status.ready_members, ["pod\\u{2028}0"]);
        assert_eq!(plan.status.unready_members, ["pod\\n1"]);
        assert_eq!(plan.status.current_version.as_deref(), Some("0.4.0\\u{9b}"));
        assert_eq!(plan.events[0].message, "x\\ty");
    }
}
