//! What a reconciler may ask the host to remove outside Kubernetes when its cluster is deleted: only
//! the cluster's own ZooKeeper tree, `/ecs/<cluster>` or below. The host acts on these paths with
//! recursive deletes, so anything that could reach another cluster's metadata (a parent, a sibling,
//! `..`, an odd character) is refused.

use super::{Finding, PolicyViolation, Rule};
use ecs_plugin_sdk::{Cleanup, Cluster, zookeeper_cluster_tree};

/// Longest path accepted (ZooKeeper allows more; ours are short).
const MAX_PATH_BYTES: usize = 512;

/// Checks one plugin's cleanup steps.
pub fn check_cleanup(cluster: &Cluster, plugin: &str, steps: &[Cleanup]) -> Result<(), PolicyViolation> {
    let findings: Vec<Finding> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let Cleanup::ZookeeperTree(path) = step;
            problem(&cluster.name, path).map(|why| Finding::new(Rule::Cleanup, &format!("cleanup[{i}]"), why))
        })
        .collect();
    if findings.is_empty() { Ok(()) } else { Err(PolicyViolation::new(plugin, "its cleanup", findings)) }
}

fn problem(cluster: &str, path: &str) -> Option<String> {
    let own = zookeeper_cluster_tree(cluster);
    if path.len() > MAX_PATH_BYTES {
        return Some(format!("ZooKeeper path of {} bytes is longer than {MAX_PATH_BYTES}", path.len()));
    }
    let within = path == own || path.strip_prefix(&own).is_some_and(|rest| rest.starts_with('/'));
    if !within {
        return Some(format!("ZooKeeper path {path:?} is outside the cluster's own tree {own:?}"));
    }
    let bad = path[1..].split('/').find(|segment| {
        segment.is_empty()
            || *segment == "."
            || *segment == ".."
            || !segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    bad.map(|segment| {
        format!("ZooKeeper path {path:?} has the segment {segment:?}: segments are letters, digits, '-', '_' or '.'")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(path: &str) -> Option<String> {
        problem("ecs", path)
    }

    #[test]
    fn own_tree_and_below_pass() {
        assert_eq!(verdict("/ecs/ecs"), None);
        assert_eq!(verdict("/ecs/ecs/bookkeeper"), None);
        assert_eq!(verdict("/ecs/ecs/bookkeeper/ledgers"), None);
    }

    #[test]
    fn anything_else_is_refused() {
        for path in [
            "/",
            "/ecs",
            "/ecs/",
            "/ecs/ecs2",
            "/ecs/ec",
            "/ecs/other",
            "/zookeeper",
            "/ecs/ecs/",
            "/ecs/ecs//x",
            "/ecs/ecs/../other",
            "/ecs/ecs/./x",
            "ecs/ecs",
            "/ecs/ecs/a b",
            "/ecs/ecs/\u{0}",
            "/ecs/ecs/é",
        ] {
            assert!(verdict(path).is_some(), "{path:?} passed");
        }
        assert!(verdict(&format!("/ecs/ecs/{}", "a".repeat(600))).unwrap().contains("longer"));
    }

    #[test]
    fn violation_names_the_rule_and_plugin() {
        let cluster = ecs_plugin_sdk::testing::cluster().build();
        let steps = [Cleanup::ZookeeperTree("/ecs".into())];
        let err = check_cleanup(&cluster, "controller", &steps).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("[cleanup] cleanup[0]") && text.contains("plugin controller"), "{text}");
    }
}
