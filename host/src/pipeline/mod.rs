//! From an `ECSCluster` to the objects that should exist: `load` reads and admits manifests offline,
//! `schema` holds the CRD checks, `render` runs the plugins and the output policy.

pub mod config_hash;
pub mod load;
pub mod render;
pub mod schema;

pub use render::{Directives, PluginEvent, RenderError, Rendered, render, render_among, target_versions, validate};
