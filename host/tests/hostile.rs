//! The output policy against real hostile WebAssembly plugins, through the render pipeline the
//! operator runs: a Tier-2 provider written by an attacker (`tests/hostile-tier2`, selected by a
//! cluster's spec) and a replaced bookkeeper reconciler (`tests/hostile`, its `attacks` module).
//! Every attack must be refused, whole plan and all, by a violation that names the plugin that
//! made it and the rule it breaks; the same plugins without an attack render fine.
//!
//! Both plugins are built by `make plugins` into `target/wasm32-wasip2/plugin/`.

use ecs_operator::kinds::{CAP_NFS_VOLUME, CAP_PERSISTENT_VOLUME};
use ecs_operator::pipeline::{self, RenderError};
use ecs_operator::plugins::{Grants, LoadOptions, PluginSet};
use ecs_operator::policy::{PolicyViolation, Rule};
use ecs_operator::runtime::{Limits, Runtime};
use ecs_plugin_sdk::{Cluster, testing};
use serde_json::json;
use std::path::PathBuf;
use std::sync::OnceLock;

// The plugins' own lists of attacks (plain Rust, compiled here too), so that none goes unchecked.
#[path = "../../tests/hostile/src/attacks.rs"]
#[allow(dead_code)]
mod reconciler_attacks;
#[path = "../../tests/hostile-tier2/src/attacks.rs"]
#[allow(dead_code)]
mod tier2_attacks;

const NAMESPACE: &str = "streams";
const UID: &str = "6c1a0f5e-0000-4000-8000-00000000beef";

fn wasm(file: &str) -> PathBuf {
    let path = PathBuf::from(env!("ECS_PLUGIN_WASM_DIR")).join(file);
    assert!(path.is_file(), "{} is missing: build the plugins with `make plugins`", path.display());
    path
}

/// The built-ins, the hostile bookkeeper (replacing the built-in) and the hostile Tier-2 provider,
/// loaded once per grant set.
fn plugins(granted: bool) -> &'static PluginSet {
    static PLAIN: OnceLock<PluginSet> = OnceLock::new();
    static GRANTED: OnceLock<PluginSet> = OnceLock::new();
    let cell = if granted { &GRANTED } else { &PLAIN };
    cell.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ecs-operator-hostile-{}-{granted}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(wasm("ecs_plugin_hostile.wasm"), dir.join("hostile.wasm")).unwrap();
        std::fs::copy(wasm("ecs_plugin_hostile_tier2.wasm"), dir.join("hostile-tier2.wasm")).unwrap();
        let grants = if granted {
            vec![
                ("tier2-hostile".to_string(), CAP_PERSISTENT_VOLUME.to_string()),
                ("tier2-hostile".to_string(), CAP_NFS_VOLUME.to_string()),
            ]
        } else {
            Vec::new()
        };
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-plugin-cache");
        let runtime = Runtime::new(Limits::default(), Some(cache)).unwrap();
        let options = LoadOptions {
            plugin_dir: Some(dir.clone()),
            grants: Grants::new(grants),
            allow_override: ["bookkeeper".to_string()].into(),
            ..LoadOptions::default()
        };
        let set = PluginSet::load(runtime, &options).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        set
    })
}

fn cluster(tier2_attack: &str, bookkeeper_attack: &str) -> Cluster {
    testing::cluster()
        .name("ecs")
        .namespace(NAMESPACE)
        .uid(UID)
        .tier2(json!({"plugin": {"name": "tier2-hostile",
            "config": {"attack": tier2_attack, "claimName": "ecs-tier2"},
            "persistentVolumeClaims": ["ecs-tier2"]}}))
        .patch(json!({"bookkeeper": {"options": {"attack": bookkeeper_attack}}}))
        .build()
}

fn render(cluster: &Cluster, granted: bool) -> Result<pipeline::Rendered, RenderError> {
    let versions = pipeline::target_versions(cluster);
    pipeline::render_among(plugins(granted), cluster, &[], &pipeline::Directives::of(&versions), &["ecs-x".to_string()])
}

/// The violation an attack causes, which must name `plugin`.
fn violation(cluster: &Cluster, granted: bool, plugin: &str, attack: &str) -> PolicyViolation {
    match render(cluster, granted) {
        Err(RenderError::Policy(v)) => {
            assert_eq!(v.plugin, plugin, "{attack}: the violation names the wrong plugin: {v}");
            assert!(v.to_string().starts_with(&format!("plugin {plugin} emitted ")), "{v}");
            v
        }
        Err(other) => panic!("{attack}: expected a policy violation, got: {other}"),
        Ok(r) => panic!("{attack}: the policy let it through:\n{}", serde_json::to_string_pretty(&r.objects).unwrap()),
    }
}

/// `rule` among the findings, and `text` in one of that rule's findings.
fn assert_breaks(v: &PolicyViolation, attack: &str, rule: impl Fn(&Rule) -> bool, text: &str) {
    assert!(
        v.findings.iter().any(|f| rule(&f.rule) && f.to_string().contains(text)),
        "{attack}: expected a finding containing {text:?}, got: {v}"
    );
}

fn is<const N: usize>(rules: [Rule; N]) -> impl Fn(&Rule) -> bool {
    move |r| rules.contains(r)
}

fn node_stateful_set(rendered: &pipeline::Rendered) -> &serde_json::Value {
    rendered.objects.iter().find(|o| o["kind"] == "StatefulSet" && o["metadata"]["name"] == "ecs-ecs-node").unwrap()
}

#[test]
fn without_an_attack_both_hostile_plugins_render() {
    let rendered = render(&cluster("", ""), false).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = rendered.objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert!(kinds.contains(&"StatefulSet") && kinds.contains(&"Deployment"), "{kinds:?}");
    let node = node_stateful_set(&rendered);
    let volumes = &node["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["persistentVolumeClaim"]["claimName"], "ecs-tier2", "{volumes}");
}

#[test]
fn every_tier2_attack_is_refused_and_names_the_provider() {
    type Expect = (fn(&Rule) -> bool, &'static str);
    let pods: fn(&Rule) -> bool = |r| *r == Rule::Pods;
    let refs: fn(&Rule) -> bool = |r| *r == Rule::References;
    let fields: fn(&Rule) -> bool = |r| *r == Rule::AllowedFields;
    let settings: fn(&Rule) -> bool = |r| *r == Rule::Tier2Settings;
    let expected: &[(&str, Expect)] = &[
        ("secret-volume", (refs, "Secret \"other-tenant-db\" is not named in the spec")),
        ("secret-env", (refs, "Secret \"other-tenant-db\" is not named in the spec")),
        ("secret-env-no-prefix", (settings, "setting prefix")),
        ("other-claim", (refs, "claim \"ecs-x-tier2\"")),
        ("csi-volume", (fields, "volumes[0].csi")),
        ("flex-volume", (fields, "volumes[0].flexVolume")),
        ("git-repo-volume", (fields, "volumes[0].gitRepo")),
        ("image-volume", (fields, "volumes[0].image")),
        ("iscsi-volume", (fields, "volumes[0].iscsi")),
        ("host-path-volume", (fields, "volumes[0].hostPath")),
        ("cloud-token", (fields, "serviceAccountToken")),
        ("token-mount", (pods, "/var/run/secrets/kubernetes.io/serviceaccount is reserved")),
        ("mount-outside", (pods, "under /mnt/")),
        ("sub-path", (pods, "subPath")),
        ("ld-preload", (settings, "LD_PRELOAD is reserved")),
        ("java-tool-options", (settings, "JAVA_TOOL_OPTIONS is reserved")),
        ("jvm-on-oom", (settings, "reserved")),
        ("jvm-agent", (settings, "reserved")),
        ("jvm-space", (settings, "must be plain")),
        ("nfs-volume", (|r| *r == Rule::Capabilities, CAP_NFS_VOLUME)),
        ("deployment", (|r| *r == Rule::Kinds, "a Tier-2 provider may emit")),
        ("service", (|r| *r == Rule::Kinds, "a Tier-2 provider may emit")),
        ("claim-selector", (refs, "binds an existing volume")),
        ("claim-data-source", (refs, "binds an existing volume")),
        ("claim-volume-name", (refs, "binds an existing volume")),
        ("foreign-name", (|r| *r == Rule::Names, "does not begin with \"ecs-tier2\"")),
        ("member-labels", (|r| *r == Rule::Labels, "labels that decide membership")),
        ("pv-csi", (|r| *r == Rule::Capabilities, CAP_PERSISTENT_VOLUME)),
        ("pv-other-namespace", (|r| *r == Rule::Capabilities, CAP_PERSISTENT_VOLUME)),
    ];
    let attacks: Vec<&str> = expected.iter().map(|(a, _)| *a).collect();
    assert_eq!(attacks, tier2_attacks::ATTACKS, "every attack of the plugin is checked here");
    for (attack, (rule, text)) in expected {
        let v = violation(&cluster(attack, ""), false, "tier2-hostile", attack);
        assert_breaks(&v, attack, *rule, text);
    }
}

#[test]
fn granted_capabilities_still_hold_the_line() {
    // With emits:PersistentVolume and volumes:nfs granted, a PersistentVolume may exist, but only an
    // NFS one reserved for this namespace's claim; an inline NFS share is then allowed.
    let v = violation(&cluster("pv-csi", ""), true, "tier2-hostile", "pv-csi");
    assert_breaks(&v, "pv-csi", is([Rule::AllowedFields]), "spec.csi");
    let v = violation(&cluster("pv-other-namespace", ""), true, "tier2-hostile", "pv-other-namespace");
    assert_breaks(&v, "pv-other-namespace", is([Rule::References]), "claimRef.namespace");
    let rendered = render(&cluster("nfs-volume", ""), true).unwrap_or_else(|e| panic!("{e}"));
    let node = node_stateful_set(&rendered);
    assert_eq!(node["spec"]["template"]["spec"]["volumes"][0]["nfs"]["server"], "10.0.0.2");
}

#[test]
fn every_attack_of_a_replaced_bookkeeper_is_refused() {
    type Expect = (fn(&Rule) -> bool, &'static str);
    let fields: fn(&Rule) -> bool = |r| *r == Rule::AllowedFields;
    let refs: fn(&Rule) -> bool = |r| *r == Rule::References;
    let pods: fn(&Rule) -> bool = |r| *r == Rule::Pods;
    let pss: fn(&Rule) -> bool = |r| matches!(r, Rule::PodSecurity(_));
    let expected: &[(&str, Expect)] = &[
        ("node-name", (fields, "spec.template.spec.nodeName")),
        ("tolerate-all", (pods, "tolerates every taint")),
        ("system-priority", (pods, "system-node-critical")),
        ("seccomp-unconfined", (fields, "seccompProfile.type")),
        ("apparmor-annotation", (|r| *r == Rule::Annotations, "apparmor")),
        ("apparmor-unconfined", (fields, "appArmorProfile.type")),
        ("proc-mount-unmasked", (fields, "procMount")),
        ("sysctls", (fields, "securityContext.sysctls")),
        ("host-aliases", (fields, "hostAliases")),
        ("share-process-namespace", (fields, "shareProcessNamespace")),
        ("ephemeral-containers", (fields, "ephemeralContainers")),
        ("run-as-root-float", (fields, "runAsUser: must be an integer")),
        ("run-as-root", (pss, "runAsUser")),
        ("privileged-string", (fields, "privileged: must be a boolean")),
        ("privileged", (pss, "privileged")),
        ("host-network", (fields, "hostNetwork")),
        ("windows-host-process", (fields, "windowsOptions")),
        ("image-pull-secrets", (refs, "image pull secrets")),
        ("template-finalizers", (fields, "spec.template.metadata.finalizers")),
        ("template-owner-references", (fields, "spec.template.metadata.ownerReferences")),
        ("managed-fields", (fields, "metadata.managedFields")),
        ("lb-cloud-annotations", (|r| *r == Rule::Services, "spec.externalAccess")),
        ("external-name", (fields, "spec.type")),
        ("foreign-name", (|r| *r == Rule::Names, "ecs-x-ecs-node")),
        ("member-labels", (|r| *r == Rule::Labels, "ecs_cluster")),
        ("selector-other-apps", (|r| *r == Rule::Selectors, "must include ecs_cluster")),
        ("pdb-namespace-wide", (|r| *r == Rule::Selectors, "must select by label")),
        ("replicas", (|r| *r == Rule::Bounds, "spec.replicas: is 100000")),
        ("claim-template-volume-name", (refs, "binds an existing volume")),
        ("secret-volume", (refs, "Secret \"other-tenant-db\"")),
        ("other-image", (refs, "not an image of the repository")),
        ("service-account", (refs, "service account")),
        ("capabilities", (fields, "capabilities.add")),
        ("secret-kind", (|r| *r == Rule::Kinds, "v1/Secret")),
    ];
    let attacks: Vec<&str> = expected.iter().map(|(a, _)| *a).collect();
    assert_eq!(attacks, reconciler_attacks::ATTACKS, "every attack of the plugin is checked here");
    for (attack, (rule, text)) in expected {
        let v = violation(&cluster("", attack), false, "bookkeeper", attack);
        assert_breaks(&v, attack, *rule, text);
    }
}

#[test]
fn a_plan_may_only_clean_up_its_own_zookeeper_tree() {
    let v = violation(&cluster("", "zookeeper-escape"), false, "bookkeeper", "zookeeper-escape");
    let cleanup = |r: &Rule| *r == Rule::Cleanup;
    assert_breaks(&v, "zookeeper-escape", cleanup, "\"/ecs/ecs-x\" is outside the cluster's own tree \"/ecs/ecs\"");
    assert_breaks(&v, "zookeeper-escape", cleanup, "\"/ecs\" is outside");
    assert_breaks(&v, "zookeeper-escape", cleanup, "has the segment \"..\"");
}

#[test]
fn a_refused_plan_applies_nothing_of_the_honest_plugins() {
    // The honest reconcilers' objects are not returned either: one violation rejects the whole plan.
    let err = render(&cluster("ld-preload", ""), false).unwrap_err();
    assert!(matches!(err, RenderError::Policy(_)), "{err}");
    let message = err.to_string();
    assert!(message.ends_with("the whole plan was rejected"), "{message}");
}
