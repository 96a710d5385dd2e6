//! The WIT bindings (the SDK's only `wit_bindgen::generate!`) and the conversions between them and
//! [`crate::model`]. Plugin authors use [`crate::export_reconciler!`] / [`crate::export_tier2_provider!`]
//! rather than this module.

use crate::model::{self, FieldError, PluginError};
use serde_json::Value;

pub mod reconciler {
    #![allow(clippy::too_many_arguments)] // generated lifting code
    wit_bindgen::generate!({
        world: "reconciler",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_reconciler_world",
        default_bindings_module: "ecs_plugin_sdk::wasm::reconciler",
    });
}

pub mod tier2 {
    #![allow(clippy::too_many_arguments)] // generated lifting code
    wit_bindgen::generate!({
        world: "tier2-provider",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_tier2_world",
        default_bindings_module: "ecs_plugin_sdk::wasm::tier2",
        with: {
            "ecs:plugin/types@0.2.0": crate::wasm::reconciler::ecs::plugin::types,
            "ecs:plugin/logging@0.2.0": crate::wasm::reconciler::ecs::plugin::logging,
        },
    });
}

pub use reconciler::ecs::plugin::types as wit;

/// Sends a log line to the host. Outside WebAssembly (native unit tests) logs go nowhere.
pub fn log(level: crate::LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use reconciler::ecs::plugin::logging::{Level, log};
        let level = match level {
            crate::LogLevel::Trace => Level::Trace,
            crate::LogLevel::Debug => Level::Debug,
            crate::LogLevel::Info => Level::Info,
            crate::LogLevel::Warn => Level::Warn,
            crate::LogLevel::Error => Level::Error,
        };
        log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (level, message);
}

pub fn info_to_wit(info: model::PluginInfo) -> wit::PluginInfo {
    wit::PluginInfo {
        name: info.name,
        version: info.version,
        kind: match info.kind {
            model::PluginKind::Reconciler => wit::PluginKind::Reconciler,
            model::PluginKind::Tier2Provider => wit::PluginKind::Tier2Provider,
        },
        contract: info.contract,
        component: info.component,
        capabilities: info.capabilities,
    }
}

pub fn field_errors_to_wit(errors: Vec<FieldError>) -> Vec<wit::FieldError> {
    errors.into_iter().map(|e| wit::FieldError { path: e.path, message: e.message }).collect()
}

pub fn error_to_wit(error: PluginError) -> wit::PluginError {
    match error {
        PluginError::InvalidInput(errors) => wit::PluginError::InvalidInput(field_errors_to_wit(errors)),
        PluginError::Failed(message) => wit::PluginError::Failed(message),
    }
}

/// The cluster from its WIT form; a spec that does not parse is reported as a field error on `spec`.
pub fn cluster_from_wit(c: wit::Cluster) -> Result<model::Cluster, Vec<FieldError>> {
    let spec = serde_json::from_str(&c.spec).map_err(|e| vec![FieldError::new("spec", e.to_string())])?;
    Ok(model::Cluster { name: c.name, namespace: c.namespace, uid: c.uid, generation: c.generation, spec })
}

fn parse_documents(docs: Vec<String>, what: &str) -> Result<Vec<Value>, PluginError> {
    docs.iter().map(|d| serde_json::from_str(d).map_err(|e| PluginError::Failed(format!("{what}: {e}")))).collect()
}

fn to_documents(values: &[Value]) -> Vec<String> {
    values.iter().map(Value::to_string).collect()
}

pub fn wiring_from_wit(w: wit::Tier2Wiring) -> Result<model::Tier2Wiring, PluginError> {
    Ok(model::Tier2Wiring {
        env: w.env.into_iter().map(|e| model::EnvVar { name: e.name, value: e.value }).collect(),
        secret_env: w
            .secret_env
            .into_iter()
            .map(|s| model::SecretEnv { secret_name: s.secret_name, prefix: s.prefix })
            .collect(),
        volumes: parse_documents(w.volumes, "tier2 volume")?,
        mounts: parse_documents(w.mounts, "tier2 mount")?,
        jvm_options: w.jvm_options,
        objects: parse_documents(w.objects, "tier2 object")?,
    })
}

pub fn wiring_to_wit(w: model::Tier2Wiring) -> wit::Tier2Wiring {
    wit::Tier2Wiring {
        env: w.env.into_iter().map(|e| wit::EnvVar { name: e.name, value: e.value }).collect(),
        secret_env: w
            .secret_env
            .into_iter()
            .map(|s| wit::SecretEnv { secret_name: s.secret_name, prefix: s.prefix })
            .collect(),
        volumes: to_documents(&w.volumes),
        mounts: to_documents(&w.mounts),
        jvm_options: w.jvm_options,
        objects: to_documents(&w.objects),
    }
}

pub fn reconcile_input_from_wit(i: wit::ReconcileInput) -> Result<model::ReconcileInput, PluginError> {
    Ok(model::ReconcileInput {
        cluster: cluster_from_wit(i.cluster).map_err(PluginError::InvalidInput)?,
        observed: parse_documents(i.observed, "observed object")?,
        tier2: i.tier2.map(wiring_from_wit).transpose()?,
        versions: model::Versions {
            bookkeeper: i.versions.bookkeeper,
            controller: i.versions.controller,
            node: i.versions.node,
        },
        scale_down: i.scale_down.map(|s| model::ScaleDown { replicas: s.replicas, retire: s.retire }),
    })
}

pub fn tier2_input_from_wit(i: wit::Tier2Input) -> Result<model::Tier2Input, PluginError> {
    let config = serde_json::from_str(&i.config)
        .map_err(|e| PluginError::InvalidInput(vec![FieldError::new(i.config_path.clone(), e.to_string())]))?;
    Ok(model::Tier2Input {
        cluster: cluster_from_wit(i.cluster).map_err(PluginError::InvalidInput)?,
        config,
        config_path: i.config_path,
        observed: parse_documents(i.observed, "observed object")?,
    })
}

pub fn plan_to_wit(plan: model::Plan) -> wit::Plan {
    let s = plan.status;
    wit::Plan {
        objects: to_documents(&plan.objects),
        status: wit::ComponentStatus {
            component: s.component,
            desired_replicas: s.desired_replicas,
            ready_replicas: s.ready_replicas,
            ready_members: s.ready_members,
            unready_members: s.unready_members,
            current_version: s.current_version,
        },
        events: plan
            .events
            .into_iter()
            .map(|e| wit::Event {
                type_: match e.type_ {
                    model::EventType::Normal => wit::EventType::Normal,
                    model::EventType::Warning => wit::EventType::Warning,
                },
                reason: e.reason,
                message: e.message,
            })
            .collect(),
        cleanup: plan
            .cleanup
            .into_iter()
            .map(|c| match c {
                model::Cleanup::ZookeeperTree(path) => wit::Cleanup::ZookeeperTree(path),
            })
            .collect(),
    }
}

/// Exports a [`crate::Reconciler`] as the `reconciler` world of a WebAssembly component.
#[macro_export]
macro_rules! export_reconciler {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __EcsReconcilerExport;

        impl $crate::wasm::reconciler::Guest for __EcsReconcilerExport {
            fn describe() -> $crate::wasm::wit::PluginInfo {
                $crate::wasm::info_to_wit(<$plugin as $crate::Reconciler>::describe())
            }

            fn validate(cluster: $crate::wasm::wit::Cluster) -> ::std::vec::Vec<$crate::wasm::wit::FieldError> {
                let errors = match $crate::wasm::cluster_from_wit(cluster) {
                    Ok(cluster) => <$plugin as $crate::Reconciler>::validate(&cluster),
                    Err(errors) => errors,
                };
                $crate::wasm::field_errors_to_wit(errors)
            }

            fn reconcile(
                input: $crate::wasm::wit::ReconcileInput,
            ) -> ::std::result::Result<$crate::wasm::wit::Plan, $crate::wasm::wit::PluginError> {
                $crate::wasm::reconcile_input_from_wit(input)
                    .and_then(|input| <$plugin as $crate::Reconciler>::reconcile(&input))
                    .map($crate::wasm::plan_to_wit)
                    .map_err($crate::wasm::error_to_wit)
            }
        }

        $crate::wasm::reconciler::export_reconciler_world!(__EcsReconcilerExport with_types_in $crate::wasm::reconciler);
    };
}

/// Exports a [`crate::Tier2Provider`] as the `tier2-provider` world of a WebAssembly component.
#[macro_export]
macro_rules! export_tier2_provider {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __EcsTier2Export;

        impl $crate::wasm::tier2::Guest for __EcsTier2Export {
            fn describe() -> $crate::wasm::wit::PluginInfo {
                $crate::wasm::info_to_wit(<$plugin as $crate::Tier2Provider>::describe())
            }

            fn validate(input: $crate::wasm::wit::Tier2Input) -> ::std::vec::Vec<$crate::wasm::wit::FieldError> {
                let errors = match $crate::wasm::tier2_input_from_wit(input) {
                    Ok(input) => <$plugin as $crate::Tier2Provider>::validate(&input),
                    Err($crate::PluginError::InvalidInput(errors)) => errors,
                    Err($crate::PluginError::Failed(message)) => vec![$crate::FieldError::new("spec", message)],
                };
                $crate::wasm::field_errors_to_wit(errors)
            }

            fn provide(
                input: $crate::wasm::wit::Tier2Input,
            ) -> ::std::result::Result<$crate::wasm::wit::Tier2Wiring, $crate::wasm::wit::PluginError> {
                $crate::wasm::tier2_input_from_wit(input)
                    .and_then(|input| <$plugin as $crate::Tier2Provider>::provide(&input))
                    .map($crate::wasm::wiring_to_wit)
                    .map_err($crate::wasm::error_to_wit)
            }
        }

        $crate::wasm::tier2::export_tier2_world!(__EcsTier2Export with_types_in $crate::wasm::tier2);
    };
}
