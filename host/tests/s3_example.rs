//! The example S3 Tier-2 provider (`plugins/examples/tier2-s3`), dropped in as a user would
//! (`--plugin-dir target/example-plugins`, no grant), against the local control plane. Run by
//! `make integration`:
//!
//!   cargo test -p ecs-operator --test s3_example -- --ignored
//!
//! with `ECS_TEST_KUBECONFIG` and `ECS_TEST_KUBECTL` set (and `ECS_TEST_ZOOKEEPER`, optional).

mod common;

use common::live::*;
use common::{kubectl, kubectl_in, wait_for};
use serde_json::Value;
use std::path::Path;

const CLUSTER: &str = "s3";
/// What the test's Secret holds: it must appear in no object the operator writes.
const ACCESS_KEY_ID: &str = "AKIAEXAMPLEONLY0001";
const SECRET_KEY: &str = "example-only-secret-key-do-not-copy";

/// The user's Secret and the CA bundle's ConfigMap, in the cluster's namespace.
const USER_OBJECTS: &str = r#"
apiVersion: v1
kind: Secret
metadata:
  name: s3-credentials
stringData:
  ACCESS_KEY_ID: AKIAEXAMPLEONLY0001
  SECRET_KEY: example-only-secret-key-do-not-copy
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: s3-ca
data:
  bundle.pem: |
    -----BEGIN CERTIFICATE-----
    (the CA of the test's object store; never read: kwok starts no container)
    -----END CERTIFICATE-----
"#;

/// The seed's example named [`CLUSTER`], its Tier-2 the S3 provider on `bucket`.
fn s3_cluster(bucket: &str) -> String {
    let tier2 = format!(
        "tier2:
      plugin:
        name: tier2-s3
        secrets: [s3-credentials]
        configMaps: [s3-ca]
        config:
          endpoint: https://rgw.storage.example.com:8443
          bucket: {bucket}
          prefix: clusters/{CLUSTER}/
          region: us-east-1
          pathStyle: true
          credentialsSecret: {{name: s3-credentials}}
          caBundle: {{configMap: s3-ca, key: bundle.pem}}
"
    );
    seed_example_with_tier2(CLUSTER, &tier2)
}

/// A directory holding only the example plugin, as `make plugins` builds it into
/// `target/example-plugins`.
fn plugin_dir(ns: &Namespace) -> String {
    let file = "ecs_plugin_tier2_s3.wasm";
    let built = Path::new(ROOT).join("target/example-plugins").join(file);
    let dir = ns.dir.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&built, dir.join(file)).unwrap_or_else(|e| panic!("{}: {e} (make plugins)", built.display()));
    dir.to_string_lossy().into_owned()
}

fn node_config(ns: &Namespace) -> Option<Value> {
    Some(ns.get("configmap", &format!("{CLUSTER}-ecs-node"))?["data"].clone())
}

fn node_pod(ns: &Namespace) -> Option<Value> {
    Some(ns.get("statefulset", &format!("{CLUSTER}-ecs-node"))?["spec"]["template"].clone())
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn the_s3_example_provider_wires_the_segment_store_and_follows_edits() {
    let ns = Namespace::new("it-s3-example");
    kubectl_in(USER_OBJECTS, &["-n", &ns.name, "apply", "-f", "-"]).unwrap();
    let plugins = plugin_dir(&ns);
    let op = Operator::start(&ns, "a", &["--plugin-dir", &plugins]);

    ns.apply(&s3_cluster("ecs-tier2"));
    ns.wait_ready(CLUSTER);
    // Exactly what the CLI renders offline with the same plugin directory; no Tier-2 claim.
    assert_eq!(ns.managed(CLUSTER), rendered_with(&ns.name, &s3_cluster("ecs-tier2"), &["--plugin-dir", &plugins]));
    assert!(ns.names("pvc", "").iter().all(|c| !c.contains("tier2")), "{:?}", ns.names("pvc", ""));

    let data = node_config(&ns).unwrap();
    for (key, value) in [
        ("TIER2_STORAGE", "EXTENDEDS3"),
        ("EXTENDEDS3_URI", "https://rgw.storage.example.com:8443"),
        ("EXTENDEDS3_BUCKET", "ecs-tier2"),
        ("EXTENDEDS3_PREFIX", "clusters/s3/"),
        ("EXTENDEDS3_REGION", "us-east-1"),
        ("EXTENDEDS3_PATH_STYLE", "true"),
        ("EXTENDEDS3_CA_BUNDLE_PATH", "/mnt/tier2-ca/ca.crt"),
    ] {
        assert_eq!(data[key], value, "{key} in {data}");
    }
    let pod = node_pod(&ns).unwrap();
    let container = &pod["spec"]["containers"][0];
    let env_from = container["envFrom"].as_array().unwrap();
    assert!(
        env_from.iter().any(|s| s["secretRef"]["name"] == "s3-credentials" && s["prefix"] == "EXTENDEDS3_"),
        "the credentials Secret under EXTENDEDS3_: {env_from:?}"
    );
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    let ca = volumes.iter().find(|v| v["name"] == "tier2-ca").unwrap_or_else(|| panic!("no CA volume: {volumes:?}"));
    assert_eq!(ca["configMap"]["name"], "s3-ca");
    assert_eq!(ca["configMap"]["items"], serde_json::json!([{"key": "bundle.pem", "path": "ca.crt"}]));
    let mounts = container["volumeMounts"].as_array().unwrap();
    assert!(
        mounts.iter().any(|m| m["name"] == "tier2-ca" && m["mountPath"] == "/mnt/tier2-ca" && m["readOnly"] == true),
        "{mounts:?}"
    );
    // The Secret is referenced, never copied.
    let written = kubectl(&[
        "-n",
        &ns.name,
        "get",
        "configmaps,statefulsets",
        "-l",
        &format!("ecs_cluster={CLUSTER}"),
        "-o",
        "json",
    ]);
    assert!(!written.contains(ACCESS_KEY_ID) && !written.contains(SECRET_KEY), "secret data in managed objects");
    let hash = |pod: &Value| pod["metadata"]["annotations"]["ecs.ecs.io/config-hash"].clone();
    let before = hash(&pod);

    // An edit of the provider's configuration: another bucket, and no CA bundle any more.
    ns.patch(
        "ecscluster",
        CLUSTER,
        r#"{"spec":{"ecs":{"tier2":{"plugin":{"config":{"bucket":"ecs-tier2-b","caBundle":null}}}}}}"#,
    );
    wait_for("the new bucket and no CA bundle on the nodes", T, || {
        let data = node_config(&ns)?;
        let pod = node_pod(&ns)?;
        let no_ca = !pod["spec"].to_string().contains("tier2-ca") && data.get("EXTENDEDS3_CA_BUNDLE_PATH").is_none();
        (data["EXTENDEDS3_BUCKET"] == "ecs-tier2-b" && no_ca && hash(&pod) != before).then_some(())
    });
    ns.wait_ready(CLUSTER);

    // An invalid bucket is reported at its field, and nothing of it is applied.
    ns.patch("ecscluster", CLUSTER, r#"{"spec":{"ecs":{"tier2":{"plugin":{"config":{"bucket":"Bad_Bucket"}}}}}}"#);
    let invalid =
        wait_for("SpecValid=False", T, || ns.condition(CLUSTER, "SpecValid").filter(|c| c["status"] == "False"));
    let message = invalid["message"].as_str().unwrap();
    assert!(message.contains("spec.ecs.tier2.plugin.config.bucket"), "{message}");
    assert_eq!(node_config(&ns).unwrap()["EXTENDEDS3_BUCKET"], "ecs-tier2-b");
    ns.patch("ecscluster", CLUSTER, r#"{"spec":{"ecs":{"tier2":{"plugin":{"config":{"bucket":"ecs-tier2-c"}}}}}}"#);
    wait_for("the corrected bucket on the nodes", T, || {
        (node_config(&ns)?["EXTENDEDS3_BUCKET"] == "ecs-tier2-c").then_some(())
    });
    ns.wait_ready(CLUSTER);
    op.stop();

    // The namespace goes with everything in it.
    release_clusters(&ns.name);
    kubectl(&["delete", "namespace", &ns.name, "--wait=true", "--timeout=60s"]);
    let gone = kubectl(&["get", "namespaces", "-o", "name"]);
    assert!(!gone.contains(&format!("namespace/{}\n", ns.name)), "{gone}");
}
