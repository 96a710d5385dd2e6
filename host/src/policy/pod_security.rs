//! The Pod Security Standards "restricted" profile at version "latest", as kube-apiserver v1.37.2's
//! built-in PodSecurity admission evaluates it (k8s.io/pod-security-admission v0.37.2, `policy/`).
//!
//! Every check that runs at restricted/latest is ported with that version's semantics, and findings come
//! out in the apiserver's order (baseline checks, then restricted ones, each sorted by check ID), with
//! its forbidden reasons and details. At restricted, `capabilities_restricted` replaces
//! `capabilities_baseline`, `seccompProfile_restricted` replaces `seccompProfile_baseline` (so the
//! alpha seccomp annotations are not judged), `restrictedVolumes` replaces `hostPathVolumes`, and
//! `procMount_restricted` (1.35+) replaces the baseline `procMount` check, which `hostUsers: false`
//! relaxes: at restricted, `Unmasked` stays forbidden even in a user namespace. `hostUsers: false`
//! does relax `runAsNonRoot` and `runAsUser` (1.35+); `spec.os.name: windows` exempts
//! `allowPrivilegeEscalation`, capabilities and seccomp (1.25+), but not `runAsNonRoot`.
//!
//! The admission plugin sees the Pod after the apiserver decoded, defaulted and prepared it, and a
//! pod template becomes such a Pod when its controller creates it. The two steps of that which change
//! a verdict are modelled too, so that a template is judged as its pods will be:
//! - `hostNetwork: true` defaults every container's and init container's unset `hostPort` to its
//!   `containerPort` (`SetDefaults_Pod`), so such ports also fail `hostPort`;
//! - on create, a container's valid deprecated AppArmor annotation becomes its `appArmorProfile`
//!   field when it has none and the pod's differs (not for Windows pods), so such a container counts
//!   as setting that profile besides the annotation.
//!
//! Hostile JSON never panics. `null` reads as absent, as Go's decoder reads it. A value of the wrong
//! type (a string for a boolean, a fraction for an integer, an object for a list, an out-of-range port)
//! cannot be decoded by the apiserver at all, which refuses the object outright; here every check that
//! reads such a value fails instead, with a detail naming the value, so that no undecodable template
//! ever passes. Values no check reads are left to the apiserver's validation.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// One failed check, as the apiserver names it in its Forbidden message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PssFinding {
    /// The check's forbidden reason exactly as PodSecurity prints it, e.g. "allowPrivilegeEscalation != false".
    pub check: &'static str,
    /// The forbidden detail, as close as practical to the apiserver's, e.g. `container "c" must set securityContext.allowPrivilegeEscalation=false`.
    pub detail: String,
}

/// Pod Security "restricted" (latest) for a pod or pod template: `metadata` is the pod's metadata (annotations matter), `spec` the PodSpec.
pub fn restricted(metadata: &serde_json::Value, spec: &serde_json::Value) -> Vec<PssFinding> {
    let spec = as_admitted(metadata, spec);
    let pod = Pod { meta: Node::root(metadata, "metadata"), spec: Node::root(&spec, "spec") };
    CHECKS
        .iter()
        .filter_map(|(reason, check)| match check(&pod) {
            Ok(None) => None,
            Ok(Some(finding)) => Some(finding),
            Err(e) => Some(PssFinding { check: reason, detail: e.to_string() }),
        })
        .collect()
}

/// The checks of restricted/latest in the apiserver's order: baseline check IDs sorted, then
/// restricted ones sorted. Each with the reason it fails under when what it reads cannot be decoded.
const CHECKS: &[(&str, CheckFn)] = &[
    ("forbidden AppArmor profile", app_armor_profile), // appArmorProfile
    ("host namespaces", host_namespaces),              // hostNamespaces
    ("hostPort", host_ports),                          // hostPorts
    ("probe or lifecycle host", host_probes_and_lifecycle), // hostProbesAndHostLifecycle
    ("privileged", privileged),                        // privileged
    ("seLinuxOptions", se_linux_options),              // seLinuxOptions
    ("forbidden sysctls", sysctls),                    // sysctls
    ("hostProcess", windows_host_process),             // windowsHostProcess
    ("allowPrivilegeEscalation != false", allow_privilege_escalation), // allowPrivilegeEscalation
    ("unrestricted capabilities", capabilities_restricted), // capabilities_restricted
    ("procMount", proc_mount_restricted),              // procMount_restricted
    ("restricted volume types", restricted_volumes),   // restrictedVolumes
    ("runAsNonRoot != true", run_as_non_root),         // runAsNonRoot
    ("runAsUser=0", run_as_user),                      // runAsUser
    ("seccompProfile", seccomp_profile_restricted),    // seccompProfile_restricted
];

type CheckFn = fn(&Pod<'_>) -> Read<Option<PssFinding>>;

// ---------------------------------------------------------------------------------------------------
// Reading the JSON as the apiserver decodes it.

/// A value the apiserver cannot decode into a Pod: it is of another JSON type than the field's.
#[derive(Debug, PartialEq, Eq)]
struct Undecodable {
    path: String,
    expected: &'static str,
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not {}, so the apiserver cannot decode the pod", self.path, self.expected)
    }
}

type Read<T> = Result<T, Undecodable>;

/// A field of the pod (or its absence) and where it is.
#[derive(Clone)]
struct Node<'a> {
    value: Option<&'a Value>,
    path: String,
}

impl<'a> Node<'a> {
    fn root(value: &'a Value, path: &str) -> Node<'a> {
        Node { value: Some(value).filter(|v| !v.is_null()), path: path.to_string() }
    }

    fn wrong(&self, expected: &'static str) -> Undecodable {
        Undecodable { path: self.path.clone(), expected }
    }

    fn object(&self) -> Read<Option<&'a Map<String, Value>>> {
        match self.value {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(self.wrong("an object")),
        }
    }

    /// A struct-valued field: `Some` when set (Go's non-nil pointer), as an object.
    fn set_object(&self) -> Read<bool> {
        Ok(self.object()?.is_some())
    }

    /// `self.key`; reading into an absent object gives an absent field.
    fn field(&self, key: &str) -> Read<Node<'a>> {
        let value = self.object()?.and_then(|m| m.get(key)).filter(|v| !v.is_null());
        Ok(Node { value, path: format!("{}.{key}", self.path) })
    }

    /// `self.a.b.c`.
    fn at(&self, keys: &[&str]) -> Read<Node<'a>> {
        keys.iter().try_fold(self.clone(), |node, key| node.field(key))
    }

    fn items(&self) -> Read<Vec<Node<'a>>> {
        match self.value {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| Node { value: Some(v).filter(|v| !v.is_null()), path: format!("{}[{i}]", self.path) })
                .collect()),
            Some(_) => Err(self.wrong("a list")),
        }
    }

    fn bool(&self) -> Read<Option<bool>> {
        match self.value {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong("a boolean")),
        }
    }

    fn str(&self) -> Read<Option<&'a str>> {
        match self.value {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong("a string")),
        }
    }

    /// A Go string field: absent reads as "".
    fn string(&self) -> Read<&'a str> {
        Ok(self.str()?.unwrap_or_default())
    }

    /// An int64 field (a fraction or an exponent does not decode either).
    fn int64(&self) -> Read<Option<i64>> {
        match self.value {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| self.wrong("an int64")),
        }
    }

    /// An int32 field.
    fn int32(&self) -> Read<Option<i64>> {
        match self.value {
            None => Ok(None),
            Some(v) => v.as_i64().filter(|i| i32::try_from(*i).is_ok()).map(Some).ok_or_else(|| self.wrong("an int32")),
        }
    }
}

struct Container<'a> {
    name: &'a str,
    node: Node<'a>,
    /// `securityContext`, possibly absent.
    sc: Node<'a>,
}

struct Pod<'a> {
    meta: Node<'a>,
    spec: Node<'a>,
}

impl<'a> Pod<'a> {
    /// The pod's securityContext (possibly absent).
    fn sc(&self) -> Read<Node<'a>> {
        self.spec.field("securityContext")
    }

    /// Every container in PodSecurity's visiting order: init containers, containers, ephemeral ones.
    fn containers(&self) -> Read<Vec<Container<'a>>> {
        let mut all = Vec::new();
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for node in self.spec.field(list)?.items()? {
                node.object()?;
                let name = node.field("name")?.string()?;
                let sc = node.field("securityContext")?;
                sc.object()?;
                all.push(Container { name, node, sc });
            }
        }
        Ok(all)
    }

    /// `spec.os.name: windows`.
    fn windows(&self) -> Read<bool> {
        Ok(self.spec.at(&["os", "name"])?.str()? == Some("windows"))
    }

    /// `hostUsers: false`: the pod runs in a user namespace.
    fn user_namespaced(&self) -> Read<bool> {
        Ok(self.spec.field("hostUsers")?.bool()? == Some(false))
    }
}

// ---------------------------------------------------------------------------------------------------
// Formatting as PodSecurity does.

fn pluralize<'s>(singular: &'s str, plural: &'s str, count: usize) -> &'s str {
    if count == 1 { singular } else { plural }
}

/// `"a", "b"` (no escaping, as PodSecurity's joinQuote).
fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| format!("\"{}\"", s.as_ref())).collect();
    items.join(", ")
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[&str]) -> String {
    format!("{} {}", pluralize("container", "containers", names.len()), join_quote(names))
}

/// Go's `%q` of a string (strconv.Quote), for annotation values.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn finding(check: &'static str, detail: String) -> Read<Option<PssFinding>> {
    Ok(Some(PssFinding { check, detail }))
}

// ---------------------------------------------------------------------------------------------------
// Baseline checks (those restricted does not override).

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// appArmorProfile (1.0): profiles may only be RuntimeDefault or Localhost, by field or annotation.
fn app_armor_profile(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    let allowed_type = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
    let mut setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<String> = BTreeSet::new();
    let pod_profile = pod.sc()?.field("appArmorProfile")?;
    if pod_profile.set_object()? {
        let t = pod_profile.field("type")?.string()?;
        if !allowed_type(t) {
            setters.push("pod".into());
            bad_values.insert(t.to_string());
        }
    }
    let mut bad_containers = Vec::new();
    for c in pod.containers()? {
        let profile = c.sc.field("appArmorProfile")?;
        if profile.set_object()? {
            let t = profile.field("type")?.string()?;
            if !allowed_type(t) {
                bad_containers.push(c.name);
                bad_values.insert(t.to_string());
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    let mut annotations = Vec::new();
    if let Some(map) = pod.meta.field("annotations")?.object()? {
        for (key, value) in map.iter().filter(|(k, _)| k.starts_with(APPARMOR_ANNOTATION_PREFIX)) {
            let node = Node { value: Some(value), path: format!("metadata.annotations[{key:?}]") };
            let value = node.str()?.ok_or_else(|| node.wrong("a string"))?;
            if !(value.is_empty() || value == "runtime/default" || value.starts_with("localhost/")) {
                annotations.push(format!("{key}={}", go_quote(value)));
            }
        }
    }
    let mut values: Vec<String> = bad_values.into_iter().collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).into());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return Ok(None);
    }
    finding(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", values.len()),
        format!("{} must not set AppArmor profile type to {}", setters.join(" and "), join_quote(&values)),
    )
}

/// hostNamespaces (1.0): no hostNetwork, hostPID or hostIPC.
fn host_namespaces(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    let mut set = Vec::new();
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod.spec.field(field)?.bool()? == Some(true) {
            set.push(format!("{field}=true"));
        }
    }
    if set.is_empty() { Ok(None) } else { finding("host namespaces", set.join(", ")) }
}

/// hostPorts (1.0): no container port may set a hostPort.
fn host_ports(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    let mut bad_containers = Vec::new();
    let mut ports: BTreeSet<String> = BTreeSet::new();
    for c in pod.containers()? {
        let mut valid = true;
        for port in c.node.field("ports")?.items()? {
            match port.field("hostPort")?.int32()? {
                None | Some(0) => {}
                Some(p) => {
                    valid = false;
                    ports.insert(p.to_string());
                }
            }
        }
        if !valid {
            bad_containers.push(c.name);
        }
    }
    if bad_containers.is_empty() {
        return Ok(None);
    }
    finding(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.into_iter().collect::<Vec<_>>().join(", ")
        ),
    )
}

/// hostProbesAndHostLifecycle (1.34): probes and lifecycle handlers may not name a host.
fn host_probes_and_lifecycle(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    let mut bad_containers: BTreeSet<&str> = BTreeSet::new();
    let mut hosts: BTreeSet<&str> = BTreeSet::new();
    for c in pod.containers()? {
        let lifecycle = c.node.field("lifecycle")?;
        let handlers = [
            c.node.field("livenessProbe")?,
            c.node.field("readinessProbe")?,
            c.node.field("startupProbe")?,
            lifecycle.field("postStart")?,
            lifecycle.field("preStop")?,
        ];
        for handler in handlers {
            for action in ["httpGet", "tcpSocket"] {
                let host = handler.at(&[action, "host"])?.string()?;
                if !host.is_empty() {
                    bad_containers.insert(c.name);
                    hosts.insert(host);
                }
            }
        }
    }
    if bad_containers.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = bad_containers.into_iter().collect();
    finding(
        "probe or lifecycle host",
        format!(
            "{} {} {} {}",
            containers_phrase(&names),
            pluralize("uses", "use", names.len()),
            pluralize("probe or lifecycle host", "probe or lifecycle hosts", hosts.len()),
            join_quote(&hosts)
        ),
    )
}

/// privileged (1.0): no privileged containers.
fn privileged(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    let mut bad = Vec::new();
    for c in pod.containers()? {
        if c.sc.field("privileged")?.bool()? == Some(true) {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return Ok(None);
    }
    finding("privileged", format!("{} must not set securityContext.privileged=true", containers_phrase(&bad)))
}

/// seLinuxOptions (1.31): only the container types, and never a user or role.
fn se_linux_options<'a>(pod: &Pod<'a>) -> Read<Option<PssFinding>> {
    const ALLOWED_TYPES: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
    let mut bad_types: BTreeSet<&'a str> = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut valid = |options: &Node<'a>| -> Read<bool> {
        let t = options.field("type")?.string()?;
        let user = options.field("user")?.string()?;
        let role = options.field("role")?.string()?;
        let mut ok = true;
        if !ALLOWED_TYPES.contains(&t) {
            ok = false;
            bad_types.insert(t);
        }
        if !user.is_empty() {
            ok = false;
            set_user = true;
        }
        if !role.is_empty() {
            ok = false;
            set_role = true;
        }
        Ok(ok)
    };
    let mut setters = Vec::new();
    let pod_options = pod.sc()?.field("seLinuxOptions")?;
    if pod_options.set_object()? && !valid(&pod_options)? {
        setters.push("pod".to_string());
    }
    let mut bad_containers = Vec::new();
    for c in pod.containers()? {
        let options = c.sc.field("seLinuxOptions")?;
        if options.set_object()? && !valid(&options)? {
            bad_containers.push(c.name);
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return Ok(None);
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!("{} {}", pluralize("type", "types", bad_types.len()), join_quote(&bad_types)));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    finding(
        "seLinuxOptions",
        format!("{} set forbidden securityContext.seLinuxOptions: {}", setters.join(" and "), data.join("; ")),
    )
}

/// The safe sysctls of 1.37 (1.0, + 1.27, + 1.29, + 1.32, + 1.37).
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

/// sysctls (1.37): only the safe set.
fn sysctls(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    let mut forbidden = Vec::new();
    for sysctl in pod.sc()?.field("sysctls")?.items()? {
        let name = sysctl.field("name")?.string()?;
        if !SAFE_SYSCTLS.contains(&name) {
            forbidden.push(name);
        }
    }
    if forbidden.is_empty() { Ok(None) } else { finding("forbidden sysctls", forbidden.join(", ")) }
}

/// windowsHostProcess (1.0): no Windows HostProcess pods or containers.
fn windows_host_process(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    let mut bad = Vec::new();
    for c in pod.containers()? {
        if c.sc.at(&["windowsOptions", "hostProcess"])?.bool()? == Some(true) {
            bad.push(c.name);
        }
    }
    let mut setters = Vec::new();
    if pod.sc()?.at(&["windowsOptions", "hostProcess"])?.bool()? == Some(true) {
        setters.push("pod".to_string());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return Ok(None);
    }
    finding(
        "hostProcess",
        format!("{} must not set securityContext.windowsOptions.hostProcess=true", setters.join(" and ")),
    )
}

// ---------------------------------------------------------------------------------------------------
// Restricted checks.

/// allowPrivilegeEscalation (1.25): every container sets it to false; Windows pods are exempt.
fn allow_privilege_escalation(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    if pod.windows()? {
        return Ok(None);
    }
    let mut bad = Vec::new();
    for c in pod.containers()? {
        if c.sc.field("allowPrivilegeEscalation")?.bool()? != Some(false) {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return Ok(None);
    }
    finding(
        "allowPrivilegeEscalation != false",
        format!("{} must set securityContext.allowPrivilegeEscalation=false", containers_phrase(&bad)),
    )
}

/// capabilities_restricted (1.25, overrides capabilities_baseline): drop ALL, add at most
/// NET_BIND_SERVICE; Windows pods are exempt.
fn capabilities_restricted(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    if pod.windows()? {
        return Ok(None);
    }
    let (mut missing_drop_all, mut adding) = (Vec::new(), Vec::new());
    let mut forbidden: BTreeSet<&str> = BTreeSet::new();
    for c in pod.containers()? {
        let caps = c.sc.field("capabilities")?;
        if !caps.set_object()? {
            missing_drop_all.push(c.name);
            continue;
        }
        let mut dropped_all = false;
        for cap in caps.field("drop")?.items()? {
            if cap.string()? == "ALL" {
                dropped_all = true;
                break;
            }
        }
        if !dropped_all {
            missing_drop_all.push(c.name);
        }
        let mut added_forbidden = false;
        for cap in caps.field("add")?.items()? {
            let cap = cap.string()?;
            if cap != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden.insert(cap);
            }
        }
        if added_forbidden {
            adding.push(c.name);
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            r#"{} must set securityContext.capabilities.drop=["ALL"]"#,
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() { Ok(None) } else { finding("unrestricted capabilities", details.join("; ")) }
}

/// procMount_restricted (1.35, overrides the baseline procMount, which hostUsers: false relaxes):
/// only the Default proc mount, user namespace or not.
fn proc_mount_restricted(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    let mut bad = Vec::new();
    let mut types: BTreeSet<&str> = BTreeSet::new();
    for c in pod.containers()? {
        if let Some(proc_mount) = c.sc.field("procMount")?.str()?
            && proc_mount != "Default"
        {
            bad.push(c.name);
            types.insert(proc_mount);
        }
    }
    if bad.is_empty() {
        return Ok(None);
    }
    finding(
        "procMount",
        format!("{} must not set securityContext.procMount to {}", containers_phrase(&bad), join_quote(&types)),
    )
}

/// restrictedVolumes (1.0, overrides hostPathVolumes): only the volume types that cannot reach the node.
fn restricted_volumes(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    const ALLOWED: &[&str] = &[
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    /// The named types, in PodSecurity's order of precedence.
    const NAMED: &[&str] = &[
        "hostPath",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "nfs",
        "iscsi",
        "glusterfs",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "fc",
        "azureFile",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "portworxVolume",
        "scaleIO",
        "storageos",
    ];
    let mut bad_volumes = Vec::new();
    let mut bad_types: BTreeSet<&str> = BTreeSet::new();
    for volume in pod.spec.field("volumes")?.items()? {
        volume.object()?;
        let set = |key: &str| -> Read<bool> { volume.field(key)?.set_object() };
        let mut allowed = false;
        for key in ALLOWED {
            allowed |= set(key)?;
        }
        if allowed {
            continue;
        }
        bad_volumes.push(volume.field("name")?.string()?);
        let mut kind = "unknown";
        for key in NAMED {
            if set(key)? {
                kind = key;
                break;
            }
        }
        bad_types.insert(kind);
    }
    if bad_volumes.is_empty() {
        return Ok(None);
    }
    finding(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad_volumes.len()),
            join_quote(&bad_volumes),
            pluralize("uses", "use", bad_volumes.len()),
            pluralize("restricted volume type", "restricted volume types", bad_types.len()),
            join_quote(&bad_types)
        ),
    )
}

/// runAsNonRoot (1.35): the pod, or else every container, sets runAsNonRoot=true and none sets
/// false; pods in a user namespace (hostUsers: false) are exempt.
fn run_as_non_root(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    if pod.user_namespaced()? {
        return Ok(None);
    }
    let mut setters = Vec::new();
    let mut pod_non_root = false;
    match pod.sc()?.field("runAsNonRoot")?.bool()? {
        Some(false) => setters.push("pod".to_string()),
        Some(true) => pod_non_root = true,
        None => {}
    }
    let (mut explicit, mut implicit) = (Vec::new(), Vec::new());
    for c in pod.containers()? {
        match c.sc.field("runAsNonRoot")?.bool()? {
            Some(false) => explicit.push(c.name),
            Some(true) => {}
            None if !pod_non_root => implicit.push(c.name),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return finding(
            "runAsNonRoot != true",
            format!("{} must not set securityContext.runAsNonRoot=false", setters.join(" and ")),
        );
    }
    if !implicit.is_empty() {
        return finding(
            "runAsNonRoot != true",
            format!("pod or {} must set securityContext.runAsNonRoot=true", containers_phrase(&implicit)),
        );
    }
    Ok(None)
}

/// runAsUser (1.35): neither the pod nor a container runs as UID 0; pods in a user namespace
/// (hostUsers: false) are exempt.
fn run_as_user(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    if pod.user_namespaced()? {
        return Ok(None);
    }
    let mut setters = Vec::new();
    if pod.sc()?.field("runAsUser")?.int64()? == Some(0) {
        setters.push("pod".to_string());
    }
    let mut bad = Vec::new();
    for c in pod.containers()? {
        if c.sc.field("runAsUser")?.int64()? == Some(0) {
            bad.push(c.name);
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return Ok(None);
    }
    finding("runAsUser=0", format!("{} must not set runAsUser=0", setters.join(" and ")))
}

/// seccompProfile_restricted (1.25, overrides seccompProfile_baseline): the pod, or else every
/// container, sets RuntimeDefault or Localhost, and nothing sets another type; Windows pods are exempt.
fn seccomp_profile_restricted(pod: &Pod<'_>) -> Read<Option<PssFinding>> {
    if pod.windows()? {
        return Ok(None);
    }
    let valid = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
    let mut setters = Vec::new();
    let mut bad_values: BTreeSet<&str> = BTreeSet::new();
    let mut pod_set = false;
    let pod_profile = pod.sc()?.field("seccompProfile")?;
    if pod_profile.set_object()? {
        let t = pod_profile.field("type")?.string()?;
        if valid(t) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            bad_values.insert(t);
        }
    }
    let (mut explicit, mut implicit) = (Vec::new(), Vec::new());
    for c in pod.containers()? {
        let profile = c.sc.field("seccompProfile")?;
        if profile.set_object()? {
            let t = profile.field("type")?.string()?;
            if !valid(t) {
                explicit.push(c.name);
                bad_values.insert(t);
            }
        } else if !pod_set {
            implicit.push(c.name);
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return finding(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&bad_values)
            ),
        );
    }
    if !implicit.is_empty() {
        return finding(
            "seccompProfile",
            format!(
                r#"pod or {} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#,
                containers_phrase(&implicit)
            ),
        );
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------------
// What the apiserver does to a Pod before admission that changes a verdict.

/// The spec as the PodSecurity admission sees it once the apiserver has defaulted and prepared the Pod
/// for creation (the metadata it sees is unchanged). Parts of the wrong type are left alone: the checks
/// flag them.
fn as_admitted(metadata: &Value, spec: &Value) -> Value {
    let mut spec = spec.clone();
    default_host_network_ports(&mut spec);
    sync_app_armor(metadata, &mut spec);
    spec
}

/// `SetDefaults_Pod`: with hostNetwork, a container port's hostPort defaults to its containerPort
/// (containers and init containers; ephemeral containers have no ports).
fn default_host_network_ports(spec: &mut Value) {
    if spec.get("hostNetwork") != Some(&Value::Bool(true)) {
        return;
    }
    for list in ["containers", "initContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for ports in containers.iter_mut().filter_map(|c| c.get_mut("ports")).filter_map(Value::as_array_mut) {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                let unset = matches!(port.get("hostPort"), None | Some(Value::Null))
                    || port.get("hostPort").and_then(Value::as_i64) == Some(0);
                if let Some(container_port) = port.get("containerPort").filter(|p| p.is_i64()).cloned()
                    && unset
                {
                    port.insert("hostPort".into(), container_port);
                }
            }
        }
    }
}

/// The pod strategy's AppArmor version skew handling on create (`applyAppArmorVersionSkew`, pods
/// that are not Windows pods): a container with the deprecated annotation but no field gets the field
/// the annotation stands for, when that is valid and differs from the pod-level profile. (Since 1.37
/// fields are no longer copied into annotations.)
fn sync_app_armor(metadata: &Value, spec: &mut Value) {
    if spec.pointer("/os/name").and_then(Value::as_str) == Some("windows") {
        return;
    }
    let Some(annotations) = metadata.get("annotations").and_then(Value::as_object) else { return };
    let pod_profile = spec.pointer("/securityContext/appArmorProfile").filter(|p| p.is_object()).map(profile_key);
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let name = match container.get("name") {
                None | Some(Value::Null) => "",
                Some(Value::String(name)) => name.as_str(),
                Some(_) => continue,
            };
            let key = format!("{APPARMOR_ANNOTATION_PREFIX}{name}");
            let Some(field) = annotations.get(&key).and_then(Value::as_str).and_then(field_for_annotation) else {
                continue;
            };
            let sc = container.entry("securityContext").or_insert(Value::Null);
            if sc.is_null() {
                *sc = Value::Object(Map::new());
            }
            let Some(sc) = sc.as_object_mut() else { continue };
            if matches!(sc.get("appArmorProfile"), None | Some(Value::Null)) && pod_profile != Some(profile_key(&field))
            {
                sc.insert("appArmorProfile".into(), field);
            }
            if sc.is_empty() {
                container.remove("securityContext");
            }
        }
    }
}

/// An AppArmor profile field as Go compares it: type and localhost profile.
fn profile_key(profile: &Value) -> (Option<String>, Option<String>) {
    let text = |key: &str| profile.get(key).and_then(Value::as_str).map(str::to_string);
    (text("type"), text("localhostProfile"))
}

/// `ApparmorFieldForAnnotation`, keeping only fields that pass `ValidateAppArmorProfileField`.
fn field_for_annotation(annotation: &str) -> Option<Value> {
    match annotation {
        "runtime/default" => Some(serde_json::json!({"type": "RuntimeDefault"})),
        "unconfined" => Some(serde_json::json!({"type": "Unconfined"})),
        _ => {
            let name = annotation.strip_prefix("localhost/")?;
            let valid = !name.is_empty() && name.trim() == name && name.len() <= 4095;
            valid.then(|| serde_json::json!({"type": "Localhost", "localhostProfile": name}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A container that passes every container-level check when the pod sets runAsNonRoot and seccomp.
    fn container(name: &str) -> Value {
        json!({"name": name, "image": "ecs/ecs:0.4.0",
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}})
    }

    /// The compliant pod spec every case starts from.
    fn spec() -> Value {
        json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container("c")]})
    }

    fn checks(metadata: &Value, spec: &Value) -> Vec<&'static str> {
        restricted(metadata, spec).into_iter().map(|f| f.check).collect()
    }

    /// The one finding of `spec` (no annotations).
    fn only(spec: &Value) -> PssFinding {
        let mut findings = restricted(&json!({}), spec);
        assert_eq!(findings.len(), 1, "{findings:?}");
        findings.remove(0)
    }

    fn passes(spec: &Value) {
        assert_eq!(restricted(&json!({}), spec), vec![], "{spec}");
    }

    #[test]
    fn the_compliant_baseline_passes() {
        passes(&spec());
        let mut per_container = spec();
        per_container["securityContext"] = Value::Null;
        per_container["containers"][0]["securityContext"]["runAsNonRoot"] = true.into();
        per_container["containers"][0]["securityContext"]["seccompProfile"] =
            json!({"type": "Localhost", "localhostProfile": "p.json"});
        passes(&per_container);
    }

    #[test]
    fn allow_privilege_escalation_must_be_false_in_every_kind_of_container() {
        let mut s = spec();
        s["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = true.into();
        s["initContainers"] = json!([{"name": "i", "securityContext": {"capabilities": {"drop": ["ALL"]}}}]);
        let f = only(&s);
        assert_eq!(f.check, "allowPrivilegeEscalation != false");
        assert_eq!(f.detail, r#"containers "i", "c" must set securityContext.allowPrivilegeEscalation=false"#);
        let mut ephemeral = spec();
        ephemeral["ephemeralContainers"] =
            json!([{"name": "debug", "securityContext": {"capabilities": {"drop": ["ALL"]}}}]);
        assert_eq!(
            only(&ephemeral).detail,
            r#"container "debug" must set securityContext.allowPrivilegeEscalation=false"#
        );
    }

    #[test]
    fn windows_pods_are_exempt_from_privilege_escalation_capabilities_and_seccomp_only() {
        let windows = json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c", "image": "i"}]});
        passes(&windows);
        let mut root = windows.clone();
        root["securityContext"] = json!({});
        assert_eq!(only(&root).check, "runAsNonRoot != true");
        let linux = json!({"os": {"name": "linux"}, "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c", "image": "i"}]});
        assert_eq!(
            checks(&json!({}), &linux),
            ["allowPrivilegeEscalation != false", "unrestricted capabilities", "seccompProfile"]
        );
    }

    #[test]
    fn capabilities_must_drop_all_and_add_at_most_net_bind_service() {
        let mut s = spec();
        s["containers"][0]["securityContext"]["capabilities"] = json!({"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]});
        passes(&s);
        s["containers"][0]["securityContext"]["capabilities"] = json!({"drop": ["all"], "add": ["SYS_ADMIN", "CHOWN"]});
        let f = only(&s);
        assert_eq!(f.check, "unrestricted capabilities", "restricted replaces the baseline's non-default capabilities");
        assert_eq!(
            f.detail,
            r#"container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "CHOWN", "SYS_ADMIN" in securityContext.capabilities.add"#
        );
        s["containers"][0]["securityContext"]["capabilities"] = Value::Null;
        assert_eq!(only(&s).detail, r#"container "c" must set securityContext.capabilities.drop=["ALL"]"#);
    }

    #[test]
    fn host_namespaces_are_forbidden() {
        let mut s = spec();
        s["hostPID"] = true.into();
        s["hostIPC"] = true.into();
        s["hostNetwork"] = false.into();
        let f = only(&s);
        assert_eq!((f.check, f.detail.as_str()), ("host namespaces", "hostPID=true, hostIPC=true"));
    }

    #[test]
    fn host_ports_are_forbidden_and_host_network_defaults_them() {
        let mut s = spec();
        s["containers"][0]["ports"] = json!([{"containerPort": 8080, "hostPort": 0}]);
        passes(&s);
        s["containers"][0]["ports"] =
            json!([{"containerPort": 8080, "hostPort": 8080}, {"containerPort": 1, "hostPort": 10000}]);
        let f = only(&s);
        assert_eq!((f.check, f.detail.as_str()), ("hostPort", r#"container "c" uses hostPorts 10000, 8080"#));
        let mut host_network = spec();
        host_network["hostNetwork"] = true.into();
        host_network["containers"][0]["ports"] = json!([{"containerPort": 9090}]);
        let findings = restricted(&json!({}), &host_network);
        assert_eq!(findings.iter().map(|f| f.check).collect::<Vec<_>>(), ["host namespaces", "hostPort"]);
        assert_eq!(findings[1].detail, r#"container "c" uses hostPort 9090"#);
    }

    #[test]
    fn probes_and_lifecycle_handlers_may_not_name_a_host() {
        let mut s = spec();
        s["containers"][0]["readinessProbe"] = json!({"httpGet": {"port": 80}});
        passes(&s);
        s["containers"][0]["livenessProbe"] = json!({"tcpSocket": {"port": 80, "host": "10.0.0.1"}});
        s["containers"][0]["lifecycle"] = json!({"preStop": {"httpGet": {"port": 80, "host": "example.com"}}});
        let f = only(&s);
        assert_eq!(f.check, "probe or lifecycle host");
        assert_eq!(f.detail, r#"container "c" uses probe or lifecycle hosts "10.0.0.1", "example.com""#);
    }

    #[test]
    fn privileged_containers_are_forbidden() {
        let mut s = spec();
        s["containers"][0]["securityContext"]["privileged"] = false.into();
        passes(&s);
        s["containers"][0]["securityContext"]["privileged"] = true.into();
        let f = only(&s);
        assert_eq!(
            (f.check, f.detail.as_str()),
            ("privileged", r#"container "c" must not set securityContext.privileged=true"#)
        );
    }

    #[test]
    fn se_linux_options_allow_only_container_types_without_user_or_role() {
        let mut s = spec();
        s["securityContext"]["seLinuxOptions"] = json!({"type": "container_engine_t", "level": "s0:c1,c2"});
        passes(&s);
        s["securityContext"]["seLinuxOptions"] = json!({"type": "spc_t"});
        s["containers"][0]["securityContext"]["seLinuxOptions"] = json!({"user": "root", "role": "sysadm_r"});
        let f = only(&s);
        assert_eq!(f.check, "seLinuxOptions");
        assert_eq!(
            f.detail,
            r#"pod and container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set"#
        );
    }

    #[test]
    fn only_safe_sysctls_are_allowed() {
        let mut s = spec();
        s["securityContext"]["sysctls"] = json!([{"name": "net.ipv4.tcp_notsent_lowat", "value": "16384"}]);
        passes(&s);
        s["securityContext"]["sysctls"] =
            json!([{"name": "kernel.msgmax", "value": "1"}, {"name": "net.core.somaxconn", "value": "1"}]);
        let f = only(&s);
        assert_eq!((f.check, f.detail.as_str()), ("forbidden sysctls", "kernel.msgmax, net.core.somaxconn"));
    }

    #[test]
    fn windows_host_process_is_forbidden() {
        let s = json!({"os": {"name": "windows"}, "hostNetwork": true,
            "securityContext": {"runAsNonRoot": true, "windowsOptions": {"hostProcess": true}},
            "containers": [{"name": "c", "securityContext": {"windowsOptions": {"hostProcess": true}}}]});
        let findings = restricted(&json!({}), &s);
        assert_eq!(findings.iter().map(|f| f.check).collect::<Vec<_>>(), ["host namespaces", "hostProcess"]);
        assert_eq!(
            findings[1].detail,
            r#"pod and container "c" must not set securityContext.windowsOptions.hostProcess=true"#
        );
    }

    #[test]
    fn proc_mount_must_stay_default_even_in_a_user_namespace() {
        let mut s = spec();
        s["containers"][0]["securityContext"]["procMount"] = "Default".into();
        passes(&s);
        s["containers"][0]["securityContext"]["procMount"] = "Unmasked".into();
        s["hostUsers"] = false.into();
        let f = only(&s);
        assert_eq!(
            (f.check, f.detail.as_str()),
            ("procMount", r#"container "c" must not set securityContext.procMount to "Unmasked""#)
        );
    }

    #[test]
    fn only_volume_types_that_stay_off_the_node_are_allowed() {
        let mut s = spec();
        s["volumes"] = json!([
            {"name": "a", "configMap": {"name": "x"}}, {"name": "b", "secret": {"secretName": "x"}},
            {"name": "c", "emptyDir": {}}, {"name": "d", "downwardAPI": {}}, {"name": "e", "persistentVolumeClaim": {"claimName": "x"}},
            {"name": "f", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
            {"name": "g", "csi": {"driver": "x"}}, {"name": "h", "ephemeral": {}}, {"name": "i", "image": {"reference": "x"}},
        ]);
        passes(&s);
        s["volumes"] = json!([{"name": "host", "hostPath": {"path": "/"}}]);
        let f = only(&s);
        assert_eq!(f.check, "restricted volume types", "restricted replaces the baseline's hostPath volumes");
        assert_eq!(f.detail, r#"volume "host" uses restricted volume type "hostPath""#);
        s["volumes"] = json!([{"name": "n", "nfs": {"server": "s", "path": "/"}}, {"name": "g", "gitRepo": {"repository": "r"}},
            {"name": "i", "iscsi": {}}, {"name": "f", "flexVolume": {"driver": "d"}}, {"name": "u", "nfs": null}]);
        assert_eq!(
            only(&s).detail,
            r#"volumes "n", "g", "i", "f", "u" use restricted volume types "flexVolume", "gitRepo", "iscsi", "nfs", "unknown""#
        );
    }

    #[test]
    fn run_as_non_root_is_required_unless_in_a_user_namespace() {
        let mut s = spec();
        s["containers"][0]["securityContext"]["runAsNonRoot"] = false.into();
        let f = only(&s);
        assert_eq!(f.check, "runAsNonRoot != true");
        assert_eq!(f.detail, r#"container "c" must not set securityContext.runAsNonRoot=false"#);
        s["hostUsers"] = false.into();
        passes(&s);
        let mut unset = spec();
        unset["securityContext"]["runAsNonRoot"] = Value::Null;
        assert_eq!(only(&unset).detail, r#"pod or container "c" must set securityContext.runAsNonRoot=true"#);
        unset["securityContext"]["runAsNonRoot"] = false.into();
        assert_eq!(only(&unset).detail, "pod must not set securityContext.runAsNonRoot=false");
    }

    #[test]
    fn run_as_user_0_is_forbidden_unless_in_a_user_namespace() {
        let mut s = spec();
        s["securityContext"]["runAsUser"] = 1000.into();
        passes(&s);
        s["securityContext"]["runAsUser"] = 0.into();
        s["initContainers"] = json!([container("i")]);
        s["initContainers"][0]["securityContext"]["runAsUser"] = 0.into();
        let f = only(&s);
        assert_eq!((f.check, f.detail.as_str()), ("runAsUser=0", r#"pod and container "i" must not set runAsUser=0"#));
        s["hostUsers"] = false.into();
        passes(&s);
    }

    #[test]
    fn seccomp_must_be_runtime_default_or_localhost() {
        let mut s = spec();
        s["containers"][0]["securityContext"]["seccompProfile"] = json!({"type": "Unconfined"});
        let f = only(&s);
        assert_eq!(f.check, "seccompProfile");
        assert_eq!(f.detail, r#"container "c" must not set securityContext.seccompProfile.type to "Unconfined""#);
        let mut unset = spec();
        unset["securityContext"]["seccompProfile"] = Value::Null;
        unset["containers"].as_array_mut().unwrap().push(container("d"));
        unset["containers"][1]["securityContext"]["seccompProfile"] = json!({"type": "RuntimeDefault"});
        assert_eq!(
            only(&unset).detail,
            r#"pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#
        );
        let annotated = json!({"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}});
        assert_eq!(checks(&annotated, &spec()), Vec::<&str>::new(), "restricted replaces the annotation check");
    }

    #[test]
    fn app_armor_profiles_are_judged_by_field_and_annotation() {
        let mut s = spec();
        s["securityContext"]["appArmorProfile"] = json!({"type": "RuntimeDefault"});
        let localhost = json!({"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "localhost/p"}});
        assert_eq!(checks(&localhost, &s), Vec::<&str>::new());
        let unconfined = json!({"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}});
        // The apiserver copies the annotation into the container's field: two bad values.
        let f = restricted(&unconfined, &spec()).remove(0);
        assert_eq!(f.check, "forbidden AppArmor profiles");
        assert_eq!(
            f.detail,
            r#"container "c" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c="unconfined"""#
        );
        // But no longer a field into the annotation.
        s["securityContext"]["appArmorProfile"] = json!({"type": "Unconfined"});
        let f = only(&s);
        assert_eq!(f.check, "forbidden AppArmor profile");
        assert_eq!(f.detail, r#"pod must not set AppArmor profile type to "Unconfined""#);
        // The annotation is not copied when the pod-level profile already says the same.
        let f = restricted(&unconfined, &s).remove(0);
        assert_eq!(
            f.detail,
            r#"pod and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c="unconfined"""#
        );
    }

    #[test]
    fn findings_come_in_the_apiservers_order() {
        let s = json!({"hostNetwork": true, "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "securityContext": {"runAsUser": 0, "sysctls": [{"name": "kernel.msgmax", "value": "1"}]},
            "containers": [{"name": "c", "securityContext": {"privileged": true, "seccompProfile": {"type": "Unconfined"}}}]});
        assert_eq!(
            checks(&json!({}), &s),
            [
                "host namespaces",
                "privileged",
                "forbidden sysctls",
                "allowPrivilegeEscalation != false",
                "unrestricted capabilities",
                "restricted volume types",
                "runAsNonRoot != true",
                "runAsUser=0",
                "seccompProfile",
            ]
        );
    }

    #[test]
    fn wrong_types_never_pass_and_never_panic() {
        let mut s = spec();
        s["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = "false".into();
        let f = only(&s);
        assert_eq!(f.check, "allowPrivilegeEscalation != false");
        assert_eq!(
            f.detail,
            "spec.containers[0].securityContext.allowPrivilegeEscalation is not a boolean, so the apiserver cannot decode the pod"
        );
        let mut float = spec();
        float["securityContext"]["runAsUser"] = json!(0.0);
        assert_eq!(only(&float).check, "runAsUser=0");
        let mut port = spec();
        port["containers"][0]["ports"] = json!([{"containerPort": 1, "hostPort": 1u64 << 40}]);
        assert_eq!(only(&port).check, "hostPort");
        // Every container-level check reads the containers.
        let mut list = spec();
        list["containers"] = json!({"name": "c"});
        assert_eq!(restricted(&json!({}), &list).len(), 12);
        for hostile in [json!(null), json!("pod"), json!(7), json!([]), json!({"containers": [1, "x", null]})] {
            let _ = restricted(&hostile, &hostile);
        }
        assert_eq!(
            checks(&json!({"annotations": {"container.apparmor.security.beta.kubernetes.io/c": 1}}), &spec()),
            ["forbidden AppArmor profile"]
        );
        assert_eq!(only(&json!({"volumes": {"a": 1}})).check, "restricted volume types");
    }
}
