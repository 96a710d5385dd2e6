//! Bounds on everything a call returns, checked on the raw WIT values before the host converts,
//! parses or passes on any of it. Every string a plugin returns counts against the call's output
//! bound (`Limits::output_bytes`), and the parts the operator multiplies (objects it applies, Events
//! it records, members it writes into status, field errors it prints) have bounds of their own, so
//! that a plugin can neither flood the API server, the logs or the status nor grow the operator's
//! memory with one call. A bound exceeded is a fault naming the bound and both numbers; nothing is
//! truncated silently.
//!
//! Counts are checked before sizes, and both before the total, so that the fault names the most
//! specific bound that was exceeded.

use super::bindings::wit;
use super::errors::{Fault, bound};
use super::limits::Limits;
use super::text;

/// Longest event reason Kubernetes accepts, in bytes.
pub const REASON_BYTES: usize = 128;
/// The rule an event reason must follow, as a fault states it.
pub const REASON_RULE: &str =
    "a reason is UpperCamelCase, letters and digits only, starting with an upper-case letter, at most 128 bytes";
/// How much of a rejected reason a fault quotes.
const QUOTED_REASON_BYTES: usize = 64;

/// Adds up the bytes a call returns and checks the total once everything is counted.
struct Output<'a> {
    limits: &'a Limits,
    bytes: usize,
}

impl<'a> Output<'a> {
    fn new(limits: &'a Limits) -> Self {
        Output { limits, bytes: 0 }
    }

    fn add(&mut self, s: &str) {
        self.bytes = self.bytes.saturating_add(s.len());
    }

    fn add_all<'s>(&mut self, strings: impl IntoIterator<Item = &'s String>) {
        for s in strings {
            self.add(s);
        }
    }

    fn finish(self) -> Result<(), Fault> {
        if self.bytes > self.limits.output_bytes {
            return Err(Fault::OutputTooLarge { size: self.bytes, limit: self.limits.output_bytes });
        }
        Ok(())
    }
}

fn count(bound: &'static str, what: &str, found: usize, limit: usize) -> Result<(), Fault> {
    if found > limit {
        return Err(Fault::OutputBound { bound, what: what.to_string(), found, limit });
    }
    Ok(())
}

fn size(bound: &'static str, what: impl FnOnce() -> String, found: usize, limit: usize) -> Result<(), Fault> {
    if found > limit {
        return Err(Fault::OutputBound { bound, what: what(), found, limit });
    }
    Ok(())
}

/// Returned documents of one kind: how many (against "objects per call" when they are objects) and
/// how big each is.
fn documents(docs: &[String], kind: &str, limits: &Limits) -> Result<(), Fault> {
    for (i, doc) in docs.iter().enumerate() {
        size(bound::OBJECT_BYTES, || format!("bytes in {kind} #{i}"), doc.len(), limits.object_bytes)?;
    }
    Ok(())
}

fn message(text: &str, what: impl FnOnce() -> String, limits: &Limits) -> Result<(), Fault> {
    size(bound::MESSAGE_BYTES, what, text.len(), limits.message_bytes)
}

/// Whether Kubernetes accepts `reason` as an event reason.
pub fn valid_reason(reason: &str) -> bool {
    reason.len() <= REASON_BYTES
        && reason.starts_with(|c: char| c.is_ascii_uppercase())
        && reason.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Cleanup steps a plan may declare: a reconciler names a subtree or two of its own.
pub const CLEANUP_PER_CALL: usize = 8;

/// A reconciler's plan.
pub fn plan(plan: &wit::Plan, limits: &Limits) -> Result<(), Fault> {
    count(bound::OBJECTS, "objects", plan.objects.len(), limits.objects_per_call)?;
    count(bound::EVENTS, "events", plan.events.len(), limits.events_per_call)?;
    count(bound::CLEANUP, "cleanup steps", plan.cleanup.len(), CLEANUP_PER_CALL)?;
    let status = &plan.status;
    let members = status.ready_members.len().saturating_add(status.unready_members.len());
    count(bound::MEMBERS, "status members", members, limits.members_per_status)?;
    documents(&plan.objects, "object", limits)?;
    for (i, event) in plan.events.iter().enumerate() {
        message(&event.message, || format!("bytes in the message of event #{i}"), limits)?;
        if !valid_reason(&event.reason) {
            return Err(Fault::InvalidEventReason {
                index: i,
                reason: text::escape_bounded(&event.reason, QUOTED_REASON_BYTES).into_owned(),
                rule: REASON_RULE,
            });
        }
    }
    let mut output = Output::new(limits);
    output.add_all(&plan.objects);
    for event in &plan.events {
        output.add(&event.reason);
        output.add(&event.message);
    }
    for (i, step) in plan.cleanup.iter().enumerate() {
        let wit::Cleanup::ZookeeperTree(path) = step;
        message(path, || format!("bytes in cleanup step #{i}"), limits)?;
        output.add(path);
    }
    output.add(&status.component);
    output.add_all(&status.ready_members);
    output.add_all(&status.unready_members);
    output.add_all(&status.current_version);
    output.finish()
}

/// A Tier-2 provider's wiring.
pub fn wiring(wiring: &wit::Tier2Wiring, limits: &Limits) -> Result<(), Fault> {
    count(bound::OBJECTS, "objects", wiring.objects.len(), limits.objects_per_call)?;
    documents(&wiring.objects, "object", limits)?;
    documents(&wiring.volumes, "volume", limits)?;
    documents(&wiring.mounts, "mount", limits)?;
    let mut output = Output::new(limits);
    for env in &wiring.env {
        output.add(&env.name);
        output.add(&env.value);
    }
    for secret in &wiring.secret_env {
        output.add(&secret.secret_name);
        output.add(&secret.prefix);
    }
    output.add_all(&wiring.volumes);
    output.add_all(&wiring.mounts);
    output.add_all(&wiring.jvm_options);
    output.add_all(&wiring.objects);
    output.finish()
}

/// Field errors, from `validate` or carried by `invalid-input`.
pub fn field_errors(errors: &[wit::FieldError], limits: &Limits) -> Result<(), Fault> {
    count(bound::FIELD_ERRORS, "field errors", errors.len(), limits.field_errors_per_call)?;
    for (i, e) in errors.iter().enumerate() {
        message(&e.path, || format!("bytes in the path of field error #{i}"), limits)?;
        message(&e.message, || format!("bytes in the message of field error #{i}"), limits)?;
    }
    let mut output = Output::new(limits);
    for e in errors {
        output.add(&e.path);
        output.add(&e.message);
    }
    output.finish()
}

/// A plugin's own failure.
pub fn failure(error: &wit::PluginError, limits: &Limits) -> Result<(), Fault> {
    match error {
        wit::PluginError::InvalidInput(errors) => field_errors(errors, limits),
        wit::PluginError::Failed(m) => {
            message(m, || "bytes in its failure message".to_string(), limits)?;
            let mut output = Output::new(limits);
            output.add(m);
            output.finish()
        }
    }
}

/// What `describe()` says.
pub fn info(info: &wit::PluginInfo, limits: &Limits) -> Result<(), Fault> {
    let mut output = Output::new(limits);
    output.add(&info.name);
    output.add(&info.version);
    output.add(&info.contract);
    output.add(&info.component);
    output.add_all(&info.capabilities);
    output.finish()?;
    for (what, s) in [("name", &info.name), ("version", &info.version), ("component", &info.component)] {
        message(s, || format!("bytes in its {what}"), limits)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> wit::ComponentStatus {
        wit::ComponentStatus {
            component: "bookie".into(),
            desired_replicas: 3,
            ready_replicas: 0,
            ready_members: vec![],
            unready_members: vec![],
            current_version: None,
        }
    }

    fn plan_of(objects: Vec<String>, events: Vec<wit::Event>) -> wit::Plan {
        wit::Plan { objects, status: status(), events, cleanup: vec![] }
    }

    fn event(reason: &str, message: &str) -> wit::Event {
        wit::Event { type_: wit::EventType::Normal, reason: reason.into(), message: message.into() }
    }

    fn bound_of(fault: Fault) -> (&'static str, usize, usize, String) {
        let message = fault.to_string();
        match fault {
            Fault::OutputBound { bound, found, limit, .. } => (bound, found, limit, message),
            other => panic!("expected an output bound, got {other:?}"),
        }
    }

    #[test]
    fn an_honest_plan_passes() {
        let limits = Limits::default();
        let objects = vec![r#"{"kind":"ConfigMap"}"#.to_string(); 11];
        let p = plan_of(objects, vec![event("BookieScaleDown", "scaled down from 5 to 3 bookies")]);
        plan(&p, &limits).unwrap();
    }

    #[test]
    fn the_largest_valid_spec_fits_the_object_bound() {
        // `ecs.nodeReplicas` = 1000 with external access: config map, headless Service, StatefulSet,
        // PDB and one Service per node.
        let limits = Limits::default();
        let service = "x".repeat(700);
        plan(&plan_of(vec![service; 1004], vec![]), &limits).unwrap();
    }

    #[test]
    fn too_many_objects() {
        let limits = Limits { objects_per_call: 200, ..Limits::default() };
        let err = plan(&plan_of(vec!["{}".into(); 20000], vec![]), &limits).unwrap_err();
        let (bound, found, limit, message) = bound_of(err);
        assert_eq!((bound, found, limit), ("objects per call", 20000, 200));
        assert_eq!(message, r#"returned 20000 objects; the bound "objects per call" is 200"#);
    }

    #[test]
    fn an_object_too_big() {
        let limits = Limits::default();
        let big = "x".repeat(limits.object_bytes + 1);
        let (bound, found, limit, message) =
            bound_of(plan(&plan_of(vec!["{}".into(), big], vec![]), &limits).unwrap_err());
        assert_eq!((bound, found, limit), ("bytes per object", (1 << 20) + 1, 1 << 20));
        assert!(message.contains("bytes in object #1"), "{message}");
    }

    #[test]
    fn events_are_counted_bounded_and_their_reasons_checked() {
        let limits = Limits::default();
        let many = plan_of(vec![], vec![event("Spam", ""); 1_000]);
        assert_eq!(bound_of(plan(&many, &limits).unwrap_err()).0, "events per call");
        let long = plan_of(vec![], vec![event("Long", &"m".repeat(limits.message_bytes + 1))]);
        assert_eq!(bound_of(plan(&long, &limits).unwrap_err()).0, "bytes per message");
        let (too_long, longest) = ("A".repeat(129), "A".repeat(128));
        for reason in ["", "lowerCamel", "With Space", "New\nLine", "Dash-ed", "Ünïcode", too_long.as_str()] {
            match plan(&plan_of(vec![], vec![event(reason, "m")]), &limits) {
                Err(Fault::InvalidEventReason { index: 0, rule, reason: quoted }) => {
                    assert_eq!(rule, REASON_RULE);
                    assert!(!quoted.contains('\n') && quoted.len() <= 64 + '…'.len_utf8(), "{quoted:?}");
                }
                other => panic!("reason {reason:?}: {other:?}"),
            }
        }
        for reason in ["Created", "BookieScaleDown", "A1", longest.as_str()] {
            plan(&plan_of(vec![], vec![event(reason, "m")]), &limits).unwrap();
        }
    }

    #[test]
    fn status_strings_count_against_the_output() {
        let limits = Limits::default();
        let mut p = plan_of(vec![], vec![]);
        p.status.ready_members = vec!["m".repeat(2 << 20); 3];
        match plan(&p, &limits).unwrap_err() {
            Fault::OutputTooLarge { size, limit } => assert_eq!((size, limit), ((6 << 20) + "bookie".len(), 4 << 20)),
            other => panic!("{other:?}"),
        }
        p.status.ready_members = vec!["m".into(); 5000];
        assert_eq!(bound_of(plan(&p, &limits).unwrap_err()).0, "members per status");
    }

    #[test]
    fn the_total_counts_every_part() {
        let limits = Limits { output_bytes: 100, ..Limits::default() };
        // 40 (object) + 6 (reason) + 40 (message) + 6 ("bookie") = 92
        plan(&plan_of(vec!["o".repeat(40)], vec![event("Reason", &"e".repeat(40))]), &limits).unwrap();
        let err = plan(&plan_of(vec!["o".repeat(60)], vec![event("Reason", &"e".repeat(40))]), &limits).unwrap_err();
        assert!(matches!(err, Fault::OutputTooLarge { size: 112, limit: 100 }), "{err:?}");
        assert_eq!(err.to_string(), r#"returned 112 bytes of output; the bound "bytes of output per call" is 100"#);
    }

    #[test]
    fn wiring_parts_are_bounded() {
        let limits = Limits { output_bytes: 1000, ..Limits::default() };
        let wiring = |env_value: String, objects: usize| wit::Tier2Wiring {
            env: vec![wit::EnvVar { name: "TIER2".into(), value: env_value }],
            secret_env: vec![wit::SecretEnv { secret_name: "s".into(), prefix: "P_".into() }],
            volumes: vec!["{}".into()],
            mounts: vec!["{}".into()],
            jvm_options: vec!["-Dx=y".into()],
            objects: vec!["{}".into(); objects],
        };
        super::wiring(&wiring("v".into(), 2), &limits).unwrap();
        assert!(matches!(super::wiring(&wiring("v".repeat(1000), 2), &limits), Err(Fault::OutputTooLarge { .. })));
        let many = super::wiring(&wiring("v".into(), 3000), &Limits::default()).unwrap_err();
        assert_eq!(bound_of(many).0, "objects per call");
        let mut big_volume = wiring("v".into(), 0);
        big_volume.volumes = vec!["v".repeat((1 << 20) + 1)];
        let (bound, _, _, message) = bound_of(super::wiring(&big_volume, &Limits::default()).unwrap_err());
        assert_eq!(bound, "bytes per object");
        assert!(message.contains("volume #0"), "{message}");
    }

    #[test]
    fn field_errors_and_failures_are_bounded() {
        let limits = Limits::default();
        let fe = |path: &str, message: &str| wit::FieldError { path: path.into(), message: message.into() };
        field_errors(&[fe("spec.x", "bad")], &limits).unwrap();
        let many = vec![fe("", ""); 400_000];
        let (bound, found, limit, _) = bound_of(field_errors(&many, &limits).unwrap_err());
        assert_eq!((bound, found, limit), ("field errors per call", 400_000, 1000));
        let long = [fe("spec.x", &"m".repeat(5000))];
        assert_eq!(bound_of(field_errors(&long, &limits).unwrap_err()).0, "bytes per message");
        let failed = wit::PluginError::Failed("f".repeat(8 << 20));
        let (bound, found, _, message) = bound_of(failure(&failed, &limits).unwrap_err());
        assert_eq!((bound, found), ("bytes per message", 8 << 20));
        assert!(message.contains("failure message"), "{message}");
        let invalid = wit::PluginError::InvalidInput(many);
        assert_eq!(bound_of(failure(&invalid, &limits).unwrap_err()).0, "field errors per call");
    }

    #[test]
    fn describe_is_bounded() {
        let limits = Limits::default();
        let mut i = wit::PluginInfo {
            name: "bookkeeper".into(),
            version: "0.1.0".into(),
            kind: wit::PluginKind::Reconciler,
            contract: "0.2.0".into(),
            component: "bookie".into(),
            capabilities: vec![],
        };
        info(&i, &limits).unwrap();
        i.version = "v".repeat(5000);
        assert_eq!(bound_of(info(&i, &limits).unwrap_err()).0, "bytes per message");
        i.version = "1".into();
        i.capabilities = vec!["c".repeat(3000); 2000];
        assert!(matches!(info(&i, &limits), Err(Fault::OutputTooLarge { .. })));
    }
}
