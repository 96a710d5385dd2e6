//! The checked-in CRD must be exactly what the code generates, and carry the validation the issue asks for.

use ecs_operator::crd;
use serde_json::Value;

#[test]
fn deploy_crd_yaml_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/crd.yaml");
    let checked_in = std::fs::read_to_string(path).expect("deploy/crd.yaml exists");
    assert!(
        checked_in == crd::crd_yaml(),
        "deploy/crd.yaml is stale: regenerate it with `make crd` (ecs-operator crd > deploy/crd.yaml)"
    );
}

#[test]
fn crd_has_names_status_columns_and_validation() {
    let crd = serde_json::to_value(crd::crd()).unwrap();
    assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(crd["metadata"]["name"], "ecsclusters.ecs.ecs.io");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(version["subresources"]["status"].is_object());
    let columns: Vec<&str> =
        version["additionalPrinterColumns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["Version", "Desired Version", "Desired Members", "Ready Members", "Age"]);

    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    // The floor of bookies is the ledger placement's, a root CEL rule (quorum.rs), not the schema's.
    assert_eq!(spec["bookkeeper"]["properties"]["replicas"]["minimum"], 1.0);
    assert_eq!(spec["bookkeeper"]["properties"]["replicas"]["default"], 3);
    let root_rules = version["schema"]["openAPIV3Schema"]["x-kubernetes-validations"].as_array().unwrap();
    assert!(root_rules.iter().any(|r| r["fieldPath"] == ".spec.bookkeeper.replicas"));
    assert_eq!(spec["ecs"]["properties"]["nodeReplicas"]["minimum"], 1.0);
    let tier2_rules = &spec["ecs"]["properties"]["tier2"]["x-kubernetes-validations"];
    assert!(tier2_rules[0]["rule"].as_str().unwrap().contains("has(self.filesystem)"));
    let tier2 = spec["ecs"]["properties"]["tier2"]["properties"].as_object().unwrap();
    let variants: Vec<&String> = tier2.keys().collect();
    assert_eq!(variants, ["ecs", "filestore", "filesystem", "hdfs", "plugin"]);
    assert_eq!(tier2["plugin"]["properties"]["config"]["x-kubernetes-preserve-unknown-fields"], Value::Bool(true));
}
