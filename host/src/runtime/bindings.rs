//! The host side of `wit/plugin.wit`: the only `bindgen!` in the host. Both worlds share one set of
//! generated types.

pub mod reconciler {
    wasmtime::component::bindgen!({
        world: "reconciler",
        path: "../wit",
    });
}

pub mod tier2 {
    wasmtime::component::bindgen!({
        world: "tier2-provider",
        path: "../wit",
        with: {
            "ecs:plugin/types": crate::runtime::bindings::reconciler::ecs::plugin::types,
            "ecs:plugin/logging": crate::runtime::bindings::reconciler::ecs::plugin::logging,
        },
    });
}

pub use reconciler::ecs::plugin::logging;
pub use reconciler::ecs::plugin::types as wit;
