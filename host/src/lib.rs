//! ecs-operator: a Kubernetes operator for ECS clusters whose per-component logic and Tier-2
//! providers are sandboxed WebAssembly plugins.
//!
//! - [`crd`]: the `ECSCluster` CRD.
//! - [`runtime`]: the wasmtime plugin runtime (limits, compile cache, typed faults).
//! - [`plugins`]: built-in and dropped-in plugins, capability grants.
//! - [`policy`]: what a plugin's output may contain; stamps labels and owner references.
//! - [`pipeline`]: manifest admission and the render core (spec + observed -> desired objects).
//! - [`controller`]: `ecs-operator run`, the operator; [`record`]: live cluster -> recorded case.
//! - [`testcases`]: the recorded-spec runner; [`output`]: printing; [`cli`]: the command line.

pub mod author;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod kinds;
pub mod memory;
pub mod output;
pub mod pipeline;
pub mod plugins;
pub mod policy;
pub mod quantity;
pub mod record;
pub mod rollout;
pub mod runtime;
pub mod scaledown;
pub mod telemetry;
pub mod testcases;
pub mod zookeeper;
