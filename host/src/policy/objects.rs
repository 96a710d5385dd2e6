//! Per-kind rules, on objects that already have their allowed shape: workloads' selectors and pod
//! templates, Service exposure, claim sizes, and what a PersistentVolume may point at.

use super::names::{self, Selecting};
use super::{Finding, PolicyContext, Rule, pod};
use crate::kinds::ManagedKind;
use serde_json::Value;

/// Annotation read by external-dns to publish a Service's name; the only annotation a plugin sets.
pub const EXTERNAL_DNS_HOSTNAME: &str = "external-dns.alpha.kubernetes.io/hostname";

/// Largest volume a plan may claim.
const MAX_STORAGE: &str = "1Pi";

pub fn check(ctx: &PolicyContext<'_>, kind: &ManagedKind, object: &Value, out: &mut Vec<Finding>) {
    let spec = object.get("spec");
    match kind.kind {
        "StatefulSet" | "Deployment" => {
            names::check_selector(
                ctx,
                "spec.selector.matchLabels",
                at(spec, "/selector/matchLabels"),
                Selecting::Workload,
                out,
            );
            match spec.and_then(|s| s.get("template")) {
                Some(template) => pod::check_template(ctx, "spec.template", template, out),
                None => out.push(Finding::new(Rule::AllowedFields, "spec.template", "is required")),
            }
            let templates = spec.and_then(|s| s.get("volumeClaimTemplates")).and_then(Value::as_array);
            for (i, template) in templates.into_iter().flatten().enumerate() {
                let path = format!("spec.volumeClaimTemplates[{i}]");
                if let Some(labels) = template.pointer("/metadata/labels").and_then(Value::as_object) {
                    names::check_labels(ctx, &format!("{path}.metadata.labels"), labels, false, out);
                }
                check_storage(&format!("{path}.spec"), template.get("spec"), out);
            }
        }
        "Job" => {
            match spec.and_then(|s| s.get("template")) {
                Some(template) => pod::check_template(ctx, "spec.template", template, out),
                None => out.push(Finding::new(Rule::AllowedFields, "spec.template", "is required")),
            }
            // A Job's pod runs to completion; the API server would refuse `Always` later, half-applied.
            let restart = at(spec, "/template/spec/restartPolicy").and_then(Value::as_str);
            if !matches!(restart, Some("Never" | "OnFailure")) {
                out.push(Finding::new(
                    Rule::Pods,
                    "spec.template.spec.restartPolicy",
                    "a Job's pod must set restartPolicy Never or OnFailure",
                ));
            }
        }
        "Service" => check_service(ctx, object, out),
        "PodDisruptionBudget" => names::check_selector(
            ctx,
            "spec.selector.matchLabels",
            at(spec, "/selector/matchLabels"),
            Selecting::Pods,
            out,
        ),
        "PersistentVolumeClaim" => check_storage("spec", spec, out),
        "PersistentVolume" => check_volume(ctx, spec, out),
        _ => {}
    }
}

fn at<'a>(value: Option<&'a Value>, pointer: &str) -> Option<&'a Value> {
    value.and_then(|v| v.pointer(pointer))
}

/// A Service exposes only what the spec asks to expose: `LoadBalancer` and `NodePort` Services exist
/// only with `spec.externalAccess` of that type, and a DNS name only under its `domainName`.
fn check_service(ctx: &PolicyContext<'_>, service: &Value, out: &mut Vec<Finding>) {
    let external = &ctx.cluster.spec.external_access;
    let spec = service.get("spec");
    names::check_selector(ctx, "spec.selector", at(spec, "/selector"), Selecting::Service, out);
    let type_ = at(spec, "/type").and_then(Value::as_str).unwrap_or("ClusterIP");
    if type_ != "ClusterIP" {
        let allowed = external.enabled && external.service_type.as_str() == type_;
        if !allowed {
            out.push(Finding::new(
                Rule::Services,
                "spec.type",
                format!("{type_} Services exist only with spec.externalAccess enabled with type {type_}"),
            ));
        }
    }
    if at(spec, "/clusterIP").is_some() && type_ != "ClusterIP" {
        out.push(Finding::new(Rule::Services, "spec.clusterIP", "headless Services must be of type ClusterIP"));
    }
    if let Some(hostname) = service.pointer("/metadata/annotations").and_then(|a| a.get(EXTERNAL_DNS_HOSTNAME)) {
        let path = format!("metadata.annotations[{EXTERNAL_DNS_HOSTNAME}]");
        let hostname = hostname.as_str().unwrap_or_default();
        let fits = external.enabled
            && external.domain_name.as_deref().is_some_and(|domain| {
                let domain = domain.trim_end_matches('.');
                let name = hostname.trim_end_matches('.');
                name.strip_suffix(domain)
                    .is_some_and(|host| host.ends_with('.') && names::is_dns_name(&host[..host.len() - 1], 253, true))
            });
        if !fits {
            out.push(Finding::new(
                Rule::Annotations,
                &path,
                format!("{hostname:?} is not a name under spec.externalAccess.domainName"),
            ));
        }
    }
}

/// Claims ask for storage only, of a bounded size.
fn check_storage(path: &str, spec: Option<&Value>, out: &mut Vec<Finding>) {
    let max = crate::quantity::parse(MAX_STORAGE).unwrap_or(i128::MAX);
    for list in ["requests", "limits"] {
        let Some(resources) = spec.and_then(|s| s.pointer(&format!("/resources/{list}"))).and_then(Value::as_object)
        else {
            continue;
        };
        for (name, quantity) in resources {
            let at = format!("{path}.resources.{list}[{name}]");
            if name != "storage" {
                out.push(Finding::new(Rule::AllowedFields, &at, "claims may only request storage"));
            } else if crate::quantity::parse_value(quantity).is_none_or(|q| q > max) {
                out.push(Finding::new(Rule::Bounds, &at, format!("more than {MAX_STORAGE}")));
            }
        }
    }
}

/// A PersistentVolume is an NFS share reserved for a claim of this cluster's namespace (its name is
/// checked against the plan's claims with the whole plan).
fn check_volume(ctx: &PolicyContext<'_>, spec: Option<&Value>, out: &mut Vec<Finding>) {
    if at(spec, "/nfs").is_none() {
        out.push(Finding::new(Rule::AllowedFields, "spec.nfs", "a PersistentVolume's source must be NFS"));
    }
    match at(spec, "/claimRef/namespace").and_then(Value::as_str) {
        Some(ns) if ns == ctx.cluster.namespace => {}
        other => out.push(Finding::new(
            Rule::References,
            "spec.claimRef.namespace",
            format!("{other:?}: a PersistentVolume must be reserved for a claim in the cluster's namespace"),
        )),
    }
    if let Some(capacity) = at(spec, "/capacity").and_then(Value::as_object) {
        check_storage("spec", Some(&serde_json::json!({"resources": {"requests": capacity}})), out);
    }
}
