//! Pod templates. The floor is the Pod Security Standards "restricted" profile ([`pod_security`],
//! checked exactly as the API server's PodSecurity admission would), and on top of it this
//! operator's own rules:
//!
//! - labels are the host's, annotations too (the host adds its config hash after the policy);
//! - volumes have exactly one allowed source; an inline NFS share needs the `volumes:nfs` capability;
//! - no mounts over what the kubelet or the image provides (`/proc`, `/dev`, the service-account
//!   token under `/run` and `/var/run`, `/etc/hosts`...), no `..` in paths;
//! - no environment variables that load code (`LD_*`, `JAVA_TOOL_OPTIONS`, `BASH_ENV`...);
//! - images only from the repositories the spec names for the component, the service account the
//!   spec names for it, no image pull secrets the spec does not name;
//! - no blanket tolerations, no system priority classes, affinity and spreading over this
//!   cluster's pods only, bounded resources.
//!
//! Fields that would place or widen a pod (`nodeName`, `hostAliases`, `ephemeralContainers`,
//! `shareProcessNamespace`, `sysctls`, node affinity...) are not in the allow-list at all.

use super::names::{self, Selecting};
use super::pod_security;
use super::{Finding, PolicyContext, Rule};
use crate::kinds::CAP_NFS_VOLUME;
use ecs_plugin_sdk::spec::ECSClusterSpec;
use serde_json::{Map, Value, json};

/// Environment variables that make a process load code or options it did not choose.
const RESERVED_ENV: &[&str] = &["JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "BASH_ENV", "ENV"];
const RESERVED_ENV_PREFIXES: &[&str] = &["LD_"];

/// Where no volume may be mounted: what the kernel, the kubelet and the image's loader provide.
const RESERVED_MOUNTS: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/shadow",
    "/etc/ld.so.preload",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/usr",
];

/// Per-container resource bounds (a node's worth; the spec's own requests are well below).
const RESOURCE_BOUNDS: &[(&str, &str)] = &[("cpu", "256"), ("memory", "4Ti"), ("ephemeral-storage", "100Ti")];
const MAX_EMPTY_DIR: &str = "1Ti";

/// Taints a pod may not tolerate: running on control-plane or cordoned nodes is the admin's call.
const RESERVED_TAINT_PREFIXES: &[&str] = &["node-role.kubernetes.io/", "node.kubernetes.io/unschedulable"];

pub fn check_template(ctx: &PolicyContext<'_>, path: &str, template: &Value, out: &mut Vec<Finding>) {
    let empty = Map::new();
    let metadata = template.get("metadata");
    let labels = metadata.and_then(|m| m.get("labels")).and_then(Value::as_object).unwrap_or(&empty);
    names::check_labels(ctx, &format!("{path}.metadata.labels"), labels, false, out);
    for key in metadata.and_then(|m| m.get("annotations")).and_then(Value::as_object).unwrap_or(&empty).keys() {
        out.push(Finding::new(
            Rule::Annotations,
            &format!("{path}.metadata.annotations[{key}]"),
            "pod template annotations are not a plugin's to set",
        ));
    }
    let Some(spec) = template.get("spec") else {
        out.push(Finding::new(Rule::AllowedFields, &format!("{path}.spec"), "is required"));
        return;
    };
    let path = format!("{path}.spec");
    pod_security_floor(ctx, &path, metadata.unwrap_or(&Value::Null), spec, out);
    check_volumes(ctx, &path, spec, out);
    for field in ["initContainers", "containers"] {
        for (i, container) in spec.get(field).and_then(Value::as_array).into_iter().flatten().enumerate() {
            check_container(ctx, &format!("{path}.{field}[{i}]"), container, out);
        }
    }
    check_identity(ctx, &path, spec, out);
    check_placement(ctx, &path, spec, out);
}

/// Pod Security "restricted", as the API server would judge this pod. A volume the Tier-2 provider
/// was granted (`volumes:nfs`) is the one exception, and only for that volume.
fn pod_security_floor(ctx: &PolicyContext<'_>, path: &str, metadata: &Value, spec: &Value, out: &mut Vec<Finding>) {
    let mut judged = spec.clone();
    if let Some(volumes) = judged.get_mut("volumes").and_then(Value::as_array_mut) {
        for volume in volumes.iter_mut() {
            if granted_nfs(ctx, volume) {
                let name = volume.get("name").cloned().unwrap_or_default();
                *volume = json!({"name": name, "emptyDir": {}});
            }
        }
    }
    for finding in pod_security::restricted(metadata, &judged) {
        out.push(Finding::new(Rule::PodSecurity(finding.check), path, finding.detail));
    }
}

/// An inline NFS volume this plugin may use: its own with the capability, or the node's copy of
/// the Tier-2 provider's (already checked against the provider's grants).
fn granted_nfs(ctx: &PolicyContext<'_>, volume: &Value) -> bool {
    volume.get("nfs").is_some() && (ctx.granted.contains(CAP_NFS_VOLUME) || ctx.wiring_volumes.contains(volume))
}

fn check_volumes(ctx: &PolicyContext<'_>, path: &str, spec: &Value, out: &mut Vec<Finding>) {
    for (i, volume) in spec.get("volumes").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let at = format!("{path}.volumes[{i}]");
        let sources = volume_sources(volume);
        if sources.len() != 1 {
            out.push(Finding::new(
                Rule::AllowedFields,
                &at,
                format!("must have exactly one volume source, not {sources:?}"),
            ));
            continue;
        }
        match sources[0] {
            "nfs" if !granted_nfs(ctx, volume) => out.push(Finding::new(
                Rule::Capabilities,
                &format!("{at}.nfs"),
                format!("inline NFS volumes need the capability {CAP_NFS_VOLUME:?}, which this plugin was not granted"),
            )),
            "emptyDir" => {
                let max = crate::quantity::parse(MAX_EMPTY_DIR).unwrap_or(i128::MAX);
                if let Some(size) = volume.pointer("/emptyDir/sizeLimit")
                    && crate::quantity::parse_value(size).is_none_or(|q| q > max)
                {
                    out.push(Finding::new(
                        Rule::Bounds,
                        &format!("{at}.emptyDir.sizeLimit"),
                        format!("more than {MAX_EMPTY_DIR}"),
                    ));
                }
            }
            "ephemeral" => {
                if let Some(labels) =
                    volume.pointer("/ephemeral/volumeClaimTemplate/metadata/labels").and_then(Value::as_object)
                {
                    names::check_labels(
                        ctx,
                        &format!("{at}.ephemeral.volumeClaimTemplate.metadata.labels"),
                        labels,
                        false,
                        out,
                    );
                }
            }
            _ => {}
        }
    }
}

/// The source fields a volume sets (every field but its name).
pub fn volume_sources(volume: &Value) -> Vec<&str> {
    volume.as_object().map(|o| o.keys().map(String::as_str).filter(|k| *k != "name").collect()).unwrap_or_default()
}

fn check_container(ctx: &PolicyContext<'_>, path: &str, container: &Value, out: &mut Vec<Finding>) {
    check_image(ctx, path, container, out);
    for (i, var) in container.get("env").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let Some(name) = var.get("name").and_then(Value::as_str)
            && let Some(why) = reserved_env(name)
        {
            out.push(Finding::new(Rule::Pods, &format!("{path}.env[{i}].name"), why));
        }
    }
    for (i, mount) in container.get("volumeMounts").and_then(Value::as_array).into_iter().flatten().enumerate() {
        check_mount(&format!("{path}.volumeMounts[{i}]"), mount, out);
    }
    for list in ["requests", "limits"] {
        let resources = container.pointer(&format!("/resources/{list}")).and_then(Value::as_object);
        for (name, quantity) in resources.into_iter().flatten() {
            let at = format!("{path}.resources.{list}[{name}]");
            match RESOURCE_BOUNDS.iter().find(|(n, _)| n == name) {
                None => out.push(Finding::new(
                    Rule::AllowedFields,
                    &at,
                    "only cpu, memory and ephemeral-storage may be requested",
                )),
                Some((_, max)) => {
                    let bound = crate::quantity::parse(max).unwrap_or(i128::MAX);
                    if crate::quantity::parse_value(quantity).is_none_or(|q| q > bound) {
                        out.push(Finding::new(Rule::Bounds, &at, format!("more than {max}")));
                    }
                }
            }
        }
    }
}

/// Why `name` may not be set as an environment variable, if it may not.
pub fn reserved_env(name: &str) -> Option<String> {
    let reserved = RESERVED_ENV.contains(&name) || RESERVED_ENV_PREFIXES.iter().any(|p| name.starts_with(p));
    reserved
        .then(|| format!("{name} is reserved: it makes the process load code or options (LD_*, JAVA_TOOL_OPTIONS...)"))
}

/// A mount inside the container's own files: absolute, normal, not over a reserved path.
pub fn check_mount(path: &str, mount: &Value, out: &mut Vec<Finding>) {
    let mount_path = mount.get("mountPath").and_then(Value::as_str).unwrap_or_default();
    if let Some(problem) = path_problem(mount_path, true) {
        out.push(Finding::new(Rule::Pods, &format!("{path}.mountPath"), problem));
    } else if mount_path == "/"
        || RESERVED_MOUNTS.iter().any(|r| mount_path == *r || mount_path.starts_with(&format!("{r}/")))
    {
        out.push(Finding::new(
            Rule::Pods,
            &format!("{path}.mountPath"),
            format!("{mount_path} is reserved: the kubelet, the kernel or the image provide it"),
        ));
    }
    if let Some(sub) = mount.get("subPath").and_then(Value::as_str)
        && !sub.is_empty()
        && let Some(problem) = path_problem(sub, false)
    {
        out.push(Finding::new(Rule::Pods, &format!("{path}.subPath"), problem));
    }
}

/// Why a path is not a plain absolute (or relative) path without `.` or `..` segments.
pub fn path_problem(p: &str, absolute: bool) -> Option<String> {
    if absolute != p.starts_with('/') {
        return Some(format!("{p:?} must be {} path", if absolute { "an absolute" } else { "a relative" }));
    }
    let segments: Vec<&str> = p.trim_start_matches('/').split('/').collect();
    let plain = !p.contains('\0') && (p == "/" || segments.iter().all(|s| !s.is_empty() && *s != "." && *s != ".."));
    (!plain).then(|| format!("{p:?} must be a plain path, without empty, '.' or '..' segments"))
}

/// The repositories the spec names for a component's images.
fn repositories<'a>(spec: &'a ECSClusterSpec, component: &str) -> Vec<&'a str> {
    match component {
        "bookie" => vec![spec.bookkeeper.image.repository.as_str()],
        "ecs-controller" | "ecs-node" => vec![spec.ecs.image.repository.as_str()],
        _ => Vec::new(),
    }
}

fn check_image(ctx: &PolicyContext<'_>, path: &str, container: &Value, out: &mut Vec<Finding>) {
    let image = container.get("image").and_then(Value::as_str).unwrap_or_default();
    let repos = repositories(&ctx.cluster.spec, ctx.component());
    let from_spec = repos.iter().any(|repo| {
        image.strip_prefix(repo).is_some_and(|rest| {
            let (tag, digest) = match rest.split_once('@') {
                Some((tag, digest)) => (tag, Some(digest)),
                None => (rest, None),
            };
            let tag_ok = tag.is_empty() && digest.is_some()
                || tag.strip_prefix(':').is_some_and(|t| {
                    !t.is_empty() && t.len() <= 128 && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                });
            let digest_ok = digest.is_none_or(|d| {
                d.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
            });
            tag_ok && digest_ok
        })
    });
    if !from_spec {
        out.push(Finding::new(
            Rule::References,
            &format!("{path}.image"),
            format!(
                "{image:?} is not an image of the repository the spec names for {} ({})",
                ctx.component(),
                if repos.is_empty() { "none".to_string() } else { repos.join(", ") }
            ),
        ));
    }
}

/// The service account the spec names for the component (or none), and no image pull secrets:
/// the spec names none.
fn check_identity(ctx: &PolicyContext<'_>, path: &str, spec: &Value, out: &mut Vec<Finding>) {
    let cluster = &ctx.cluster.spec;
    let named = match ctx.component() {
        "bookie" => cluster.bookkeeper.service_account_name.as_deref(),
        "ecs-controller" => cluster.ecs.controller_service_account_name.as_deref(),
        "ecs-node" => cluster.ecs.node_service_account_name.as_deref(),
        _ => None,
    };
    if let Some(account) = spec.get("serviceAccountName").and_then(Value::as_str)
        && account != "default"
        && Some(account) != named
    {
        out.push(Finding::new(
            Rule::References,
            &format!("{path}.serviceAccountName"),
            format!("{account:?} is not the service account the spec names for {}", ctx.component()),
        ));
    }
    if spec.get("imagePullSecrets").and_then(Value::as_array).is_some_and(|s| !s.is_empty()) {
        out.push(Finding::new(
            Rule::References,
            &format!("{path}.imagePullSecrets"),
            "the spec names no image pull secrets",
        ));
    }
}

fn check_placement(ctx: &PolicyContext<'_>, path: &str, spec: &Value, out: &mut Vec<Finding>) {
    for (i, toleration) in spec.get("tolerations").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let key = toleration.get("key").and_then(Value::as_str).unwrap_or_default();
        let at = format!("{path}.tolerations[{i}]");
        if key.is_empty() {
            out.push(Finding::new(Rule::Pods, &at, "a toleration without a key tolerates every taint"));
        } else if RESERVED_TAINT_PREFIXES.iter().any(|p| key.starts_with(p)) {
            out.push(Finding::new(Rule::Pods, &at, format!("pods may not tolerate {key}")));
        }
    }
    if let Some(class) = spec.get("priorityClassName").and_then(Value::as_str)
        && class.starts_with("system-")
    {
        out.push(Finding::new(
            Rule::Pods,
            &format!("{path}.priorityClassName"),
            format!("{class} is reserved for the cluster's own components"),
        ));
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let base = format!("{path}.affinity.{kind}");
        let terms = spec.pointer(&format!("/affinity/{kind}"));
        let required =
            terms.and_then(|t| t.get("requiredDuringSchedulingIgnoredDuringExecution")).and_then(Value::as_array);
        for (i, term) in required.into_iter().flatten().enumerate() {
            let at = format!("{base}.requiredDuringSchedulingIgnoredDuringExecution[{i}].labelSelector.matchLabels");
            names::check_selector(ctx, &at, term.pointer("/labelSelector/matchLabels"), Selecting::Pods, out);
        }
        let preferred =
            terms.and_then(|t| t.get("preferredDuringSchedulingIgnoredDuringExecution")).and_then(Value::as_array);
        for (i, term) in preferred.into_iter().flatten().enumerate() {
            let at = format!(
                "{base}.preferredDuringSchedulingIgnoredDuringExecution[{i}].podAffinityTerm.labelSelector.matchLabels"
            );
            names::check_selector(
                ctx,
                &at,
                term.pointer("/podAffinityTerm/labelSelector/matchLabels"),
                Selecting::Pods,
                out,
            );
        }
    }
    for (i, c) in spec.get("topologySpreadConstraints").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let at = format!("{path}.topologySpreadConstraints[{i}].labelSelector.matchLabels");
        names::check_selector(ctx, &at, c.pointer("/labelSelector/matchLabels"), Selecting::Pods, out);
    }
}
