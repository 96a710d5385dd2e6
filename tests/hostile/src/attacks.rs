//! What a replaced bookkeeper reconciler tries against the output policy: the honest bookkeeper's
//! objects (a ConfigMap, the headless Service, a StatefulSet meeting Pod Security "restricted", a
//! PodDisruptionBudget) with one attack applied, chosen by `spec.bookkeeper.options.attack`.
//! `host/tests/hostile.rs` asserts that each is refused with its rule named.

use serde_json::{Value, json};

/// Every attack, by the value of `spec.bookkeeper.options.attack`.
pub const ATTACKS: &[&str] = &[
    "node-name",
    "tolerate-all",
    "system-priority",
    "seccomp-unconfined",
    "apparmor-annotation",
    "apparmor-unconfined",
    "proc-mount-unmasked",
    "sysctls",
    "host-aliases",
    "share-process-namespace",
    "ephemeral-containers",
    "run-as-root-float",
    "run-as-root",
    "privileged-string",
    "privileged",
    "host-network",
    "windows-host-process",
    "image-pull-secrets",
    "template-finalizers",
    "template-owner-references",
    "managed-fields",
    "lb-cloud-annotations",
    "external-name",
    "foreign-name",
    "member-labels",
    "selector-other-apps",
    "pdb-namespace-wide",
    "replicas",
    "claim-template-volume-name",
    "secret-volume",
    "other-image",
    "service-account",
    "capabilities",
    "secret-kind",
];

fn labels(cluster: &str) -> Value {
    json!({"app": "ecs-cluster", "ecs_cluster": cluster, "component": "bookie"})
}

/// The honest bookkeeper objects of `cluster`, whose spec is `spec`.
pub fn honest(cluster: &str, spec: &Value) -> Vec<Value> {
    let image = format!(
        "{}:0.4.0",
        spec.pointer("/bookkeeper/image/repository").and_then(Value::as_str).unwrap_or("ecs/bookkeeper")
    );
    vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{cluster}-bookie")},
            "data": {"BK_useHostNameAsBookieID": "true"}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("{cluster}-bookie-headless")},
            "spec": {"clusterIP": "None", "selector": labels(cluster), "ports": [{"name": "bookie", "port": 3181}]}}),
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": format!("{cluster}-bookie")},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(cluster)}}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": format!("{cluster}-bookie")},
        "spec": {
            "replicas": 3,
            "serviceName": format!("{cluster}-bookie-headless"),
            "selector": {"matchLabels": labels(cluster)},
            "template": {
                "metadata": {"labels": labels(cluster)},
                "spec": {
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "bookie",
                        "image": image,
                        "envFrom": [{"configMapRef": {"name": format!("{cluster}-bookie")}}],
                        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "ledger", "mountPath": "/bk/ledgers"}]
                    }]
                }
            },
            "volumeClaimTemplates": [{"metadata": {"name": "ledger"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]
        }}),
    ]
}

/// The honest objects with `attack` applied; `None` for an unknown attack.
pub fn objects(cluster: &str, spec: &Value, attack: &str) -> Option<Vec<Value>> {
    let mut objects = honest(cluster, spec);
    let (config_map, service, pdb, sts) = match objects.as_mut_slice() {
        [a, b, c, d] => (a, b, c, d),
        _ => unreachable!("four honest objects"),
    };
    let template = &mut sts["spec"]["template"];
    let pod = &mut template["spec"];
    match attack {
        "" => {}
        "extra-config-map" => {
            let extra = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("{cluster}-bookie-extra")}, "data": {"taken": "true"}});
            objects.push(extra);
        }
        "node-name" => pod["nodeName"] = json!("control-plane-0"),
        "tolerate-all" => pod["tolerations"] = json!([{"operator": "Exists"}]),
        "system-priority" => pod["priorityClassName"] = json!("system-node-critical"),
        "seccomp-unconfined" => pod["securityContext"]["seccompProfile"]["type"] = json!("Unconfined"),
        "apparmor-annotation" => {
            template["metadata"]["annotations"] =
                json!({"container.apparmor.security.beta.kubernetes.io/bookie": "unconfined"})
        }
        "apparmor-unconfined" => pod["securityContext"]["appArmorProfile"] = json!({"type": "Unconfined"}),
        "proc-mount-unmasked" => pod["containers"][0]["securityContext"]["procMount"] = json!("Unmasked"),
        "sysctls" => pod["securityContext"]["sysctls"] = json!([{"name": "kernel.core_pattern", "value": "|/x"}]),
        "host-aliases" => pod["hostAliases"] = json!([{"ip": "10.9.9.9", "hostnames": ["kubernetes.default.svc"]}]),
        "share-process-namespace" => pod["shareProcessNamespace"] = json!(true),
        "ephemeral-containers" => {
            pod["ephemeralContainers"] = json!([{"name": "debug", "image": "ecs/bookkeeper:0.4.0",
                "securityContext": {"privileged": true}}])
        }
        "run-as-root-float" => pod["securityContext"]["runAsUser"] = json!(0.0),
        "run-as-root" => pod["containers"][0]["securityContext"]["runAsUser"] = json!(0),
        "privileged-string" => pod["containers"][0]["securityContext"]["privileged"] = json!("true"),
        "privileged" => pod["containers"][0]["securityContext"]["privileged"] = json!(true),
        "host-network" => pod["hostNetwork"] = json!(true),
        "windows-host-process" => {
            pod["securityContext"]["windowsOptions"] = json!({"hostProcess": true, "runAsUserName": "SYSTEM"})
        }
        "image-pull-secrets" => pod["imagePullSecrets"] = json!([{"name": "other-tenant-registry"}]),
        "template-finalizers" => template["metadata"]["finalizers"] = json!(["example.com/never"]),
        "template-owner-references" => {
            template["metadata"]["ownerReferences"] =
                json!([{"apiVersion": "v1", "kind": "Namespace", "name": "x", "uid": "1", "controller": true}])
        }
        "managed-fields" => config_map["metadata"]["managedFields"] = json!([{"manager": "kubectl"}]),
        "lb-cloud-annotations" => {
            service["spec"] = json!({"type": "LoadBalancer", "selector": labels(cluster), "ports": [{"port": 3181}]});
            service["metadata"]["annotations"] =
                json!({"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"});
        }
        "external-name" => service["spec"] = json!({"type": "externalName", "externalName": "evil.example.com"}),
        "foreign-name" => config_map["metadata"]["name"] = json!(format!("{cluster}-x-ecs-node")),
        "member-labels" => template["metadata"]["labels"]["ecs_cluster"] = json!(format!("{cluster}-x")),
        "selector-other-apps" => {
            sts["spec"]["selector"]["matchLabels"] = json!({"app": "web"});
        }
        "pdb-namespace-wide" => pdb["spec"] = json!({"maxUnavailable": 0, "selector": {}}),
        "replicas" => sts["spec"]["replicas"] = json!(100_000),
        "claim-template-volume-name" => {
            sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeName"] = json!("pv-of-tenant-b")
        }
        "secret-volume" => {
            pod["volumes"] = json!([{"name": "s", "secret": {"secretName": "other-tenant-db"}}]);
        }
        "other-image" => pod["containers"][0]["image"] = json!("evil.example/miner:latest"),
        "service-account" => pod["serviceAccountName"] = json!("ecs-operator"),
        "capabilities" => pod["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["SYS_ADMIN"]),
        "secret-kind" => objects.push(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{cluster}-bookie-token")}, "stringData": {"token": "x"}})),
        _ => return None,
    }
    Some(objects)
}
