//! Conversions between the host's WIT bindings and the SDK's plain Rust model, so the rest of the
//! host works with `ecs_plugin_sdk` types only.

use super::bindings::wit;
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
        name: i.name,
        version: i.version,
        kind: match i.kind {
            wit::PluginKind::Reconciler => sdk::PluginKind::Reconciler,
            wit::PluginKind::Tier2Provider => sdk::PluginKind::Tier2Provider,
        },
        contract: i.contract,
        component: i.component,
        capabilities: i.capabilities,
    }
}

pub fn field_errors(errors: Vec<wit::FieldError>) -> Vec<sdk::FieldError> {
    errors.into_iter().map(|e| sdk::FieldError { path: e.path, message: e.message }).collect()
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
        .map(|(i, d)| serde_json::from_str(&d).map_err(|e| format!("{what} #{i} is not JSON: {e}")))
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
            component: s.component,
            desired_replicas: s.desired_replicas,
            ready_replicas: s.ready_replicas,
            ready_members: s.ready_members,
            unready_members: s.unready_members,
            current_version: s.current_version,
        },
        events: p
            .events
            .into_iter()
            .map(|e| sdk::Event {
                type_: match e.type_ {
                    wit::EventType::Normal => sdk::EventType::Normal,
                    wit::EventType::Warning => sdk::EventType::Warning,
                },
                reason: e.reason,
                message: e.message,
            })
            .collect(),
    })
}

pub fn plugin_error(e: wit::PluginError) -> PluginFailure {
    match e {
        wit::PluginError::InvalidInput(errors) => PluginFailure::Invalid(field_errors(errors)),
        wit::PluginError::Failed(message) => PluginFailure::Failed(message),
    }
}

/// A plugin's own, non-trap failure.
pub enum PluginFailure {
    Invalid(Vec<sdk::FieldError>),
    Failed(String),
}

/// Bytes a set of returned documents takes, for the output cap.
pub fn size_of_strings<'a>(strings: impl IntoIterator<Item = &'a String>) -> usize {
    strings.into_iter().map(String::len).sum()
}
