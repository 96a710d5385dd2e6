//! `deploy/role.yaml` grants exactly what the operator needs on the kinds it manages: the one kinds
//! table (`ecs_operator::kinds`) decides, and this test keeps the role in step with it.

use ecs_operator::kinds;
use serde_json::Value;

/// (apiGroup, resource) -> verbs, from every rule of every document in deploy/role.yaml.
fn rules() -> Vec<(String, String, Vec<String>, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/role.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc: Value = serde::Deserialize::deserialize(doc).unwrap();
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        for rule in doc["rules"].as_array().into_iter().flatten() {
            let strings = |v: &Value| -> Vec<String> {
                v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
            };
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    out.push((group.clone(), resource, strings(&rule["verbs"]), kind.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn the_role_covers_every_managed_kind_and_nothing_else_it_writes() {
    let rules = rules();
    // Watch, read before create (ownership), server-side apply, prune.
    let needed = ["get", "list", "watch", "create", "patch", "delete"];
    for kind in kinds::MANAGED {
        let group = kind.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        let rule = rules.iter().find(|(g, r, _, _)| g == group && r == kind.plural);
        let (_, _, verbs, role_kind) =
            rule.unwrap_or_else(|| panic!("deploy/role.yaml has no rule for {}", kind.plural));
        for verb in needed {
            assert!(verbs.iter().any(|v| v == verb), "{}: verb {verb} missing from {verbs:?}", kind.plural);
        }
        let expected = if kind.namespaced { "Role" } else { "ClusterRole" };
        assert_eq!(role_kind, expected, "{} is granted by a {role_kind}", kind.plural);
    }
    // Every other rule that writes is one of the operator's own needs, not a managed kind forgotten here.
    // Pods are deleted (never created or patched) by rolling upgrades, one at a time.
    let own = ["ecsclusters", "ecsclusters/status", "events", "leases"];
    let pods = rules.iter().find(|(g, r, _, _)| g.is_empty() && r == "pods").expect("a rule for pods");
    assert_eq!(pods.2, ["get", "list", "watch", "delete"], "pods: only read and delete");
    for (group, resource, verbs, _) in &rules {
        let writes = verbs.iter().any(|v| ["create", "patch", "update", "delete"].contains(&v.as_str()));
        let managed = kinds::MANAGED.iter().any(|k| k.plural == resource);
        let pod_delete =
            resource == "pods" && !verbs.iter().any(|v| ["create", "patch", "update"].contains(&v.as_str()));
        assert!(
            !writes || managed || pod_delete || own.contains(&resource.as_str()),
            "{group}/{resource} is writable: {verbs:?}"
        );
    }
}
