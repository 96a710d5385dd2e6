//! Retiring a bookie the host is removing: once its pod is gone, a Job runs the BookKeeper shell's
//! `decommissionbookie`, which waits until the bookie's ledgers are re-replicated elsewhere and then
//! removes its cookie. The host deletes the bookie's volumes only after this Job succeeded, so a
//! bookie is never left with data but no cookie (or a cookie but no data).

use crate::objects::{CONTAINER, headless_service_name, stateful_set_name};
use crate::{BOOKIE_PORT, COMPONENT};
use ecs_plugin_sdk::{Cluster, k8s};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

/// The decommission Job of bookie `ordinal`.
pub fn job_name(cluster: &str, ordinal: u32) -> String {
    format!("{}-decommission-{ordinal}", stateful_set_name(cluster))
}

/// The bookie's id as it registered: with `useHostNameAsBookieID` it is the pod's FQDN and port.
/// The cluster's DNS domain is read from the Job pod's own search path (its first entry is
/// `<namespace>.svc.<domain>`), so no domain is assumed. An id with no cookie is refused: a
/// decommission of a bookie that never registered would "succeed" at once, and the host would then
/// delete the real bookie's volumes.
fn script(cluster: &Cluster, ordinal: u32) -> String {
    let n = &cluster.name;
    let host = format!("{}-{ordinal}.{}", stateful_set_name(n), headless_service_name(n));
    format!(
        "set -eu\n\
         domain=$(sed -n 's/^search \\([^ ]*\\).*/\\1/p' /etc/resolv.conf)\n\
         bookie=\"{host}.${{domain}}:{BOOKIE_PORT}\"\n\
         echo \"decommissioning bookie $bookie\"\n\
         if ! /opt/bookkeeper/bin/bookkeeper shell cookie_get \"$bookie\"; then\n\
         \x20 echo \"bookie $bookie has no cookie: not a registered bookie id, nothing to decommission\" >&2\n\
         \x20 exit 1\n\
         fi\n\
         exec /opt/bookkeeper/bin/bookkeeper shell decommissionbookie -bookieid \"$bookie\"\n"
    )
}

/// One pod, no retries of its own beyond two (the shell is idempotent until the cookie is gone), and
/// a deadline: a Job that cannot finish (ledgers that cannot be re-replicated, an image that cannot
/// be pulled) fails, which stops the scale-down with the bookie's volumes kept.
pub fn job(cluster: &Cluster, image: &str, ordinal: u32) -> Job {
    let bk = &cluster.spec.bookkeeper;
    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(bk.image.pull_policy.as_str().to_string()),
        // The image's entrypoint turns the ConfigMap's `BK_` settings (ZooKeeper, ledger root) into
        // the shell's configuration, as for the bookie itself.
        args: Some(vec!["/bin/sh".to_string(), "-c".to_string(), script(cluster, ordinal)]),
        env_from: Some(vec![k8s::env_from_config_map(&stateful_set_name(&cluster.name))]),
        security_context: Some(k8s::container_security_context()),
        resources: Some(k8s::resources_with_defaults(
            None,
            k8s::CpuMemory { cpu: "100m", memory: "512Mi" },
            k8s::CpuMemory { cpu: "1", memory: "1Gi" },
        )),
        ..Default::default()
    };
    Job {
        metadata: k8s::meta(cluster, job_name(&cluster.name, ordinal), COMPONENT),
        spec: Some(JobSpec {
            backoff_limit: Some(2),
            active_deadline_seconds: Some(i64::from(bk.decommission_timeout_seconds)),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    containers: vec![container],
                    restart_policy: Some("Never".to_string()),
                    security_context: Some(k8s::pod_security_context()),
                    service_account_name: bk.service_account_name.clone(),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}
