//! The scale-down machine, one decision at a time, on hand-made views of the bookies.

use super::*;
use ecs_plugin_sdk::testing;
use serde_json::json;

const NOW: &str = "2026-12-01T10:00:00Z";

fn spec(replicas: i32) -> ECSClusterSpec {
    testing::cluster().edit(|s| s["bookkeeper"]["replicas"] = json!(replicas)).build().spec
}

/// A StatefulSet of `replicas`, with Ready pods for `pods` and two claims for every ordinal below 5.
fn bookies(replicas: u32, pods: &[u32]) -> Bookies {
    let mut b = Bookies { stateful_set: Some(("ecs-bookie".into(), replicas)), ..Bookies::default() };
    for p in pods {
        b.pods.insert(*p, true);
    }
    for i in 0..5u32 {
        b.claims.insert(
            i,
            ["journal", "ledger"]
                .iter()
                .map(|t| ClaimRef { name: format!("{t}-ecs-bookie-{i}"), uid: format!("{t}-{i}"), deleting: false })
                .collect(),
        );
    }
    b
}

fn job(b: &mut Bookies, ordinal: u32, state: JobState) {
    let name = format!("ecs-bookie-decommission-{ordinal}");
    b.jobs.insert(
        ordinal,
        JobView { name, state, uid: format!("job-{ordinal}"), created: "2026-12-01T10:00:05Z".into() },
    );
}

/// The record a scale-down from 5 to 3 starts with, taken one step further (the first step only
/// writes the record).
fn started(b: &Bookies) -> Option<ScaleDownStatus> {
    let first = run(None, b, 3);
    assert_eq!(phase(&first), ScaleDownPhase::Waiting);
    run(first.status.as_ref(), b, 3).status
}

fn run(previous: Option<&ScaleDownStatus>, b: &Bookies, replicas: i32) -> ScaleStep {
    run_upgrading(previous, b, replicas, false)
}

fn run_upgrading(previous: Option<&ScaleDownStatus>, b: &Bookies, replicas: i32, upgrading: bool) -> ScaleStep {
    let spec = spec(replicas);
    advance(previous, b, &Context { spec: &spec, upgrading, now: NOW })
}

fn reasons(step: &ScaleStep) -> Vec<&str> {
    step.events.iter().map(|e| e.reason).collect()
}

fn phase(step: &ScaleStep) -> ScaleDownPhase {
    step.status.as_ref().expect("a scale-down in progress").phase
}

#[test]
fn nothing_to_do_at_the_spec_count_or_above() {
    assert_eq!(run(None, &bookies(3, &[0, 1, 2]), 3), ScaleStep::default());
    assert_eq!(run(None, &bookies(3, &[0, 1, 2]), 5), ScaleStep::default());
    assert_eq!(run(None, &Bookies::default(), 3), ScaleStep::default(), "no StatefulSet yet");
}

#[test]
fn starts_with_the_highest_ordinal_once_its_record_is_written() {
    let all = bookies(5, &[0, 1, 2, 3, 4]);
    let first = run(None, &all, 3);
    assert_eq!(reasons(&first), ["ScaleDownStarted"]);
    assert_eq!(phase(&first), ScaleDownPhase::Waiting);
    assert_eq!(first.directive, Some(ScaleDown { replicas: 5, retire: None }), "nothing stops yet");
    let step = run(first.status.as_ref(), &all, 3);
    assert!(step.events.is_empty());
    assert_eq!(phase(&step), ScaleDownPhase::Stopping);
    let status = step.status.unwrap();
    assert_eq!(
        (status.bookie.as_str(), status.ordinal, status.from_replicas, status.to_replicas),
        ("ecs-bookie-4", 4, 5, 3)
    );
    assert_eq!(step.directive, Some(ScaleDown { replicas: 4, retire: None }));
    assert!(step.delete_claims.is_empty());
}

#[test]
fn waits_for_an_upgrade_and_for_ready_bookies_keeping_every_bookie() {
    let first = run(None, &bookies(5, &[0, 1, 2, 3, 4]), 3);
    let step = run_upgrading(first.status.as_ref(), &bookies(5, &[0, 1, 2, 3, 4]), 3, true);
    assert_eq!(phase(&step), ScaleDownPhase::Waiting);
    assert!(step.status.as_ref().unwrap().message.as_ref().unwrap().contains("upgrade"));
    assert_eq!(step.directive, Some(ScaleDown { replicas: 5, retire: None }));

    let mut b = bookies(5, &[0, 1, 2, 3, 4]);
    b.pods.insert(1, false);
    let step = run(step.status.as_ref(), &b, 3);
    assert_eq!(phase(&step), ScaleDownPhase::Waiting);
    assert!(step.status.as_ref().unwrap().message.as_ref().unwrap().contains("ecs-bookie-1"));
    assert!(step.events.is_empty());
}

#[test]
fn the_ledger_placement_must_fit_one_bookie_fewer() {
    // Admission refuses this spec; a status from before the rule still must not go below it.
    let mut spec = spec(3);
    spec.bookkeeper.options.insert("bookkeeper.ensemble.size".into(), "5".into());
    let all = bookies(5, &[0, 1, 2, 3, 4]);
    let first = advance(None, &all, &Context { spec: &spec, upgrading: false, now: NOW });
    let step = advance(first.status.as_ref(), &all, &Context { spec: &spec, upgrading: false, now: NOW });
    let message = step.status.unwrap().message.unwrap();
    assert!(message.contains("ensemble 5") && message.contains("spec.bookkeeper.replicas"), "{message}");
    assert_eq!(step.directive, Some(ScaleDown { replicas: 5, retire: None }));
}

#[test]
fn a_stopped_bookie_gets_its_decommission_job() {
    let stopping = started(&bookies(5, &[0, 1, 2, 3, 4]));
    let step = run(stopping.as_ref(), &bookies(4, &[0, 1, 2, 3]), 3);
    assert_eq!(reasons(&step), ["DecommissionStarted"]);
    assert_eq!(phase(&step), ScaleDownPhase::Decommissioning);
    assert_eq!(step.directive, Some(ScaleDown { replicas: 4, retire: Some(4) }));
    assert_eq!(step.status.as_ref().unwrap().job.as_deref(), Some("ecs-bookie-decommission-4"));
    // Still running: no new event.
    let mut b = bookies(4, &[0, 1, 2, 3]);
    job(&mut b, 4, JobState::Running);
    let again = run(step.status.as_ref(), &b, 3);
    assert!(again.events.is_empty());
    assert_eq!(again.status, step.status);
}

#[test]
fn a_failed_job_stops_everything_and_keeps_the_claims() {
    let stopping = started(&bookies(5, &[0, 1, 2, 3, 4]));
    let mut b = bookies(4, &[0, 1, 2, 3]);
    job(&mut b, 4, JobState::Failed { reason: "DeadlineExceeded".into(), message: "too slow".into() });
    let step = run(stopping.as_ref(), &b, 3);
    assert_eq!(phase(&step), ScaleDownPhase::Failed);
    assert_eq!(step.events.len(), 1);
    let event = &step.events[0];
    assert!(event.warning && event.reason == "DecommissionFailed");
    assert!(event.message.contains("DeadlineExceeded") && event.message.contains("replicas to 5"), "{}", event.message);
    assert!(step.delete_claims.is_empty());
    // The Job stays planned (so it is not recreated in a loop); the Warning is not repeated.
    assert_eq!(step.directive, Some(ScaleDown { replicas: 4, retire: Some(4) }));
    let again = run(step.status.as_ref(), &b, 3);
    assert!(again.events.is_empty());
    assert_eq!(phase(&again), ScaleDownPhase::Failed);
    // The Job deleted to retry: a new one runs.
    b.jobs.clear();
    let retry = run(again.status.as_ref(), &b, 3);
    assert_eq!(phase(&retry), ScaleDownPhase::Decommissioning);
}

#[test]
fn scaling_back_up_brings_the_same_bookie_back() {
    let stopping = started(&bookies(5, &[0, 1, 2, 3, 4]));
    let mut b = bookies(4, &[0, 1, 2, 3]);
    job(&mut b, 4, JobState::Failed { reason: "BackoffLimitExceeded".into(), message: String::new() });
    let failed = run(stopping.as_ref(), &b, 3).status;
    let step = run(failed.as_ref(), &b, 5);
    assert_eq!(reasons(&step), ["ScaleDownCanceled"]);
    assert!(step.status.is_none() && step.directive.is_none() && step.delete_claims.is_empty());
}

#[test]
fn success_deletes_the_claims_by_uid_then_takes_the_next_bookie() {
    let stopping = started(&bookies(5, &[0, 1, 2, 3, 4]));
    let decommissioning = run(stopping.as_ref(), &bookies(4, &[0, 1, 2, 3]), 3).status;
    let mut b = bookies(4, &[0, 1, 2, 3]);
    job(&mut b, 4, JobState::Succeeded);
    b.claims.get_mut(&4).unwrap()[0].deleting = true;
    let step = run(decommissioning.as_ref(), &b, 3);
    let names: Vec<(&str, &str)> = step.delete_claims.iter().map(|c| (c.name.as_str(), c.uid.as_str())).collect();
    assert_eq!(names, [("ledger-ecs-bookie-4", "ledger-4")], "the one already deleting is not deleted again");
    assert_eq!(step.directive, Some(ScaleDown { replicas: 4, retire: Some(4) }));
    assert!(step.events.is_empty());

    b.claims.remove(&4);
    let next = run(step.status.as_ref(), &b, 3);
    assert_eq!(reasons(&next), ["BookieDecommissioned"]);
    let status = next.status.as_ref().unwrap();
    assert_eq!((status.phase, status.ordinal, status.from_replicas), (ScaleDownPhase::Stopping, 3, 5));
    assert_eq!(next.directive, Some(ScaleDown { replicas: 3, retire: None }));
}

#[test]
fn the_last_bookie_completes_the_scale_down() {
    let record = ScaleDownStatus {
        phase: ScaleDownPhase::Decommissioning,
        from_replicas: 4,
        to_replicas: 3,
        bookie: "ecs-bookie-3".into(),
        ordinal: 3,
        job: Some("ecs-bookie-decommission-3".into()),
        started_at: NOW.into(),
        message: None,
    };
    let mut b = bookies(3, &[0, 1, 2]);
    b.claims.remove(&3);
    job(&mut b, 3, JobState::Succeeded);
    let step = run(Some(&record), &b, 3);
    assert_eq!(reasons(&step), ["BookieDecommissioned", "ScaleDownCompleted"]);
    assert!(step.status.is_none() && step.directive.is_none());
    // Raising the replicas after the cookie is gone does not resurrect the old bookie's volumes:
    // the claims go first.
    let mut b = bookies(3, &[0, 1, 2]);
    job(&mut b, 3, JobState::Succeeded);
    let step = run(Some(&record), &b, 4);
    assert_eq!(step.delete_claims.len(), 2);
}

#[test]
fn a_restart_after_the_job_was_pruned_carries_on() {
    // Claims deleted and the Job pruned, but the status was not written before the restart.
    let record = ScaleDownStatus {
        phase: ScaleDownPhase::Decommissioning,
        from_replicas: 5,
        to_replicas: 3,
        bookie: "ecs-bookie-4".into(),
        ordinal: 4,
        job: Some("ecs-bookie-decommission-4".into()),
        started_at: NOW.into(),
        message: None,
    };
    let mut b = bookies(4, &[0, 1, 2, 3]);
    b.claims.remove(&4);
    let step = run(Some(&record), &b, 3);
    assert_eq!(reasons(&step), ["BookieDecommissioned"]);
    assert_eq!(step.status.unwrap().ordinal, 3);
    // While Stopping, a missing Job means only that it was not created yet.
    let stopping = ScaleDownStatus { phase: ScaleDownPhase::Stopping, ..record };
    let step = run(Some(&stopping), &b, 3);
    assert_eq!(phase(&step), ScaleDownPhase::Decommissioning);
}

#[test]
fn view_reads_pods_jobs_and_claims_of_the_cluster() {
    let observed = vec![
        json!({"kind": "StatefulSet", "metadata": {"name": "ecs-bookie", "labels": {"component": "bookie"}},
               "spec": {"replicas": 4, "volumeClaimTemplates": [{"metadata": {"name": "ledger"}}, {"metadata": {"name": "journal"}}]}}),
        json!({"kind": "Pod", "metadata": {"name": "ecs-bookie-0", "labels": {"component": "bookie"}},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        json!({"kind": "Pod", "metadata": {"name": "ecs-bookie-3", "labels": {"component": "bookie"}, "deletionTimestamp": NOW},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        json!({"kind": "Job", "metadata": {"name": "ecs-bookie-decommission-4", "labels": {"component": "bookie"}},
               "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "m"}]}}),
        json!({"kind": "Job", "metadata": {"name": "ecs-bookie-decommission-04", "labels": {"component": "bookie"}}}),
    ];
    let claim = |name: &str, cluster: &str| json!({"metadata": {"name": name, "uid": format!("u-{name}"), "labels": {"ecs_cluster": cluster, "component": "bookie"}}});
    let claims = vec![
        claim("ledger-ecs-bookie-4", "ecs"),
        claim("journal-ecs-bookie-4", "ecs"),
        claim("ledger-ecs-bookie-4", "other"),
        claim("cache-ecs-bookie-4", "ecs"),
        claim("ledger-ecs-bookie-40x", "ecs"),
    ];
    let b = Bookies::read("ecs", &observed, &claims);
    assert_eq!(b.stateful_set, Some(("ecs-bookie".into(), 4)));
    assert_eq!(b.pods.into_iter().collect::<Vec<_>>(), [(0, true), (3, false)]);
    assert_eq!(b.jobs.keys().collect::<Vec<_>>(), [&4]);
    assert!(matches!(&b.jobs[&4].state, JobState::Failed { reason, .. } if reason == "DeadlineExceeded"));
    let names: Vec<&str> = b.claims[&4].iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["journal-ecs-bookie-4", "ledger-ecs-bookie-4"]);
    assert_eq!(b.claims.len(), 1);
}

#[test]
fn a_stale_status_never_takes_a_step_back() {
    // The status that started the removal of bookie 4 is not in the cache yet, but the StatefulSet
    // is already down to 4 and bookie 4's Job exists: carry on with bookie 4, not 3.
    let mut b = bookies(4, &[0, 1, 2, 3]);
    job(&mut b, 4, JobState::Running);
    let step = run(None, &b, 3);
    let status = step.status.as_ref().unwrap();
    assert_eq!((status.ordinal, status.from_replicas), (4, 5));
    // Bookie 3 stopped already while the record still waits for it (an older status): it is not
    // brought back because it is no longer Ready.
    let waiting = ScaleDownStatus {
        phase: ScaleDownPhase::Waiting,
        from_replicas: 5,
        to_replicas: 3,
        bookie: "ecs-bookie-3".into(),
        ordinal: 3,
        job: None,
        started_at: NOW.into(),
        message: None,
    };
    let step = run(Some(&waiting), &bookies(3, &[0, 1, 2]), 3);
    assert_eq!(step.directive, Some(ScaleDown { replicas: 3, retire: None }));
    assert_eq!(phase(&step), ScaleDownPhase::Stopping);
}

#[test]
fn raising_the_replicas_waits_for_a_running_decommission() {
    let stopping = started(&bookies(5, &[0, 1, 2, 3, 4]));
    let mut b = bookies(4, &[0, 1, 2, 3]);
    job(&mut b, 4, JobState::Running);
    let decommissioning = run(stopping.as_ref(), &b, 3).status;
    let step = run(decommissioning.as_ref(), &b, 5);
    assert!(step.events.is_empty(), "not canceled while the Job runs");
    assert_eq!(step.directive, Some(ScaleDown { replicas: 4, retire: Some(4) }));
    assert!(step.status.as_ref().unwrap().message.as_ref().unwrap().contains("comes back once"));
    // The Job succeeded after all: the cookie is gone, so the claims go, and the scale-down ends.
    job(&mut b, 4, JobState::Succeeded);
    let step = run(step.status.as_ref(), &b, 5);
    assert_eq!(step.delete_claims.len(), 2);
}

#[test]
fn a_job_from_an_earlier_removal_does_not_count() {
    let stopping = started(&bookies(5, &[0, 1, 2, 3, 4]));
    let mut b = bookies(4, &[0, 1, 2, 3]);
    b.jobs.insert(
        4,
        JobView {
            name: "ecs-bookie-decommission-4".into(),
            state: JobState::Succeeded,
            uid: "old".into(),
            created: "2026-11-30T10:00:00Z".into(),
        },
    );
    let step = run(stopping.as_ref(), &b, 3);
    assert!(step.delete_claims.is_empty(), "an old success must not delete this bookie's claims");
    assert_eq!(step.stale_job, Some(("ecs-bookie-decommission-4".into(), "old".into())));
    assert_eq!(phase(&step), ScaleDownPhase::Decommissioning);
}

#[test]
fn without_auto_recovery_nothing_is_removed() {
    let spec = testing::cluster().edit(|s| {
        s["bookkeeper"]["replicas"] = json!(3);
        s["bookkeeper"]["autoRecovery"] = json!(false);
    });
    let spec = spec.build().spec;
    let all = bookies(5, &[0, 1, 2, 3, 4]);
    let ctx = Context { spec: &spec, upgrading: false, now: NOW };
    let first = advance(None, &all, &ctx);
    let step = advance(first.status.as_ref(), &all, &ctx);
    assert_eq!(phase(&step), ScaleDownPhase::Waiting);
    assert!(step.status.unwrap().message.unwrap().contains("autoRecovery is off"));
    assert_eq!(step.directive, Some(ScaleDown { replicas: 5, retire: None }));
}
