//! Removing bookies without losing data (pure: no I/O). A lower `spec.bookkeeper.replicas` is not
//! a replica change but BookKeeper's decommission procedure, one bookie at a time from the highest
//! ordinal, each step decided again from the status and what is observed:
//!
//! 1. `Waiting`: the next bookie goes only while no upgrade runs, every bookie is Ready, and the
//!    ledger placement (ensemble, write and ack quorum) still fits one bookie fewer;
//! 2. `Stopping`: the StatefulSet runs one bookie fewer, so that bookie's pod stops;
//! 3. `Decommissioning`: once its pod is gone, the bookkeeper plugin plans its decommission Job
//!    (ledgers re-replicated, then the cookie removed);
//! 4. the Job succeeded: the host deletes the bookie's claims (by UID), then takes the next one.
//!
//! A failed Job (or one past its deadline) stops everything in `Failed` with the claims kept:
//! deleting the Job retries it, and raising the replicas back brings the same bookie back with its
//! data. An operator restarted at any point carries on from the status and the observed objects.

pub mod view;

#[cfg(test)]
mod tests;

pub use view::{Bookies, ClaimRef, JobState, JobView};

use crate::rollout::RolloutEvent;
use ecs_plugin_sdk::ScaleDown;
use ecs_plugin_sdk::spec::{ECSClusterSpec, ScaleDownPhase, ScaleDownStatus};
use std::time::Duration;

/// How often to look again while waiting for a pod to stop or a claim to go (the watches usually
/// trigger sooner).
const RECHECK: Duration = Duration::from_secs(5);

/// What the scale-down decided this time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleStep {
    /// What the bookkeeper reconciler renders (none: the spec's replicas).
    pub directive: Option<ScaleDown>,
    pub status: Option<ScaleDownStatus>,
    /// Claims of a decommissioned bookie, to delete now (each by its UID).
    pub delete_claims: Vec<ClaimRef>,
    /// A decommission Job left from an earlier removal of the same ordinal, to delete (by its UID)
    /// so that this removal's own Job can run.
    pub stale_job: Option<(String, String)>,
    pub events: Vec<RolloutEvent>,
    pub recheck_after: Option<Duration>,
}

/// Inputs besides the bookies: the spec, whether an upgrade or rollback runs, and the time.
pub struct Context<'a> {
    pub spec: &'a ECSClusterSpec,
    pub upgrading: bool,
    pub now: &'a str,
}

/// Moves the scale-down as far as the observed bookies allow.
pub fn advance(previous: Option<&ScaleDownStatus>, bookies: &Bookies, ctx: &Context<'_>) -> ScaleStep {
    let desired = u32::try_from(ctx.spec.bookkeeper.replicas).unwrap_or(0);
    let mut step = ScaleStep::default();
    let Some((_, current)) = bookies.stateful_set.clone() else { return step };
    let record = match previous {
        Some(record) => record.clone(),
        None if current > desired => {
            // The highest bookie still there: its pod, or its decommission Job, may outlive a
            // StatefulSet shrunk by an earlier step.
            let highest = [Some(current - 1), bookies.pods.keys().last().copied(), bookies.jobs.keys().last().copied()]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(current - 1);
            let record = ScaleDownStatus {
                phase: ScaleDownPhase::Waiting,
                from_replicas: current.max(highest.saturating_add(1)) as i32,
                to_replicas: desired as i32,
                bookie: bookies.pod_name(highest),
                ordinal: highest as i32,
                job: None,
                started_at: ctx.now.to_string(),
                message: Some(format!("bookie {} goes first", bookies.pod_name(highest))),
            };
            step.events.push(RolloutEvent::normal(
                "ScaleDownStarted",
                format!(
                    "scaling bookies down from {current} to {desired}, one at a time: each bookie is stopped, \
                     decommissioned (its ledgers re-replicated, its cookie removed), then its volumes deleted"
                ),
            ));
            // Nothing stops before this record is in the status: a restart then always knows which
            // bookie it was removing.
            step.directive = Some(ScaleDown { replicas: current, retire: None });
            step.status = Some(record);
            step.recheck_after = Some(Duration::from_secs(1));
            return step;
        }
        None => return step,
    };
    let mut record = record;
    record.to_replicas = desired as i32;
    let ordinal = u32::try_from(record.ordinal).unwrap_or(0);
    let job = bookies.jobs.get(&ordinal);
    let claims = bookies.claims.get(&ordinal).cloned().unwrap_or_default();
    let pod_gone = !bookies.pods.contains_key(&ordinal);
    // Only a Job of this scale-down counts: one left from an earlier removal of the same ordinal
    // (its deletion not yet seen) says nothing about the bookie now.
    let current_job = job.filter(|j| j.created.as_str() >= record.started_at.as_str());
    if let (Some(j), None) = (job, current_job) {
        step.stale_job = Some((j.name.clone(), j.uid.clone()));
    }
    let job = current_job;
    let decommissioned = matches!(job.map(|j| &j.state), Some(JobState::Succeeded))
        // The Job was pruned after it succeeded and the claims deleted (a restart in between).
        || (record.phase == ScaleDownPhase::Decommissioning && job.is_none() && claims.is_empty() && pod_gone);

    if decommissioned {
        if !claims.is_empty() {
            // Keep the Job planned (not pruned) until its bookie's claims are gone.
            step.delete_claims = claims.into_iter().filter(|c| !c.deleting).collect();
            step.directive = Some(ScaleDown { replicas: ordinal, retire: Some(ordinal) });
            record.phase = ScaleDownPhase::Decommissioning;
            record.message = Some(format!("deleting the volumes of decommissioned bookie {}", record.bookie));
            step.status = Some(record);
            step.recheck_after = Some(RECHECK);
            return step;
        }
        step.events.push(RolloutEvent::normal(
            "BookieDecommissioned",
            format!(
                "bookie {} is decommissioned (Job {}) and its volumes are deleted",
                record.bookie,
                record.job.clone().unwrap_or_default()
            ),
        ));
        if desired >= ordinal {
            step.events.push(RolloutEvent::normal(
                "ScaleDownCompleted",
                format!("bookies scaled down from {} to {ordinal}", record.from_replicas),
            ));
            return step;
        }
        // The next bookie down.
        record = ScaleDownStatus {
            phase: ScaleDownPhase::Waiting,
            bookie: bookies.pod_name(ordinal - 1),
            ordinal: ordinal as i32 - 1,
            job: None,
            message: None,
            ..record
        };
        return waiting_or_stopping(step, record, bookies, ctx);
    }

    // The bookie is wanted again: it stays, with its volumes (its cookie is still there). Not while
    // its decommission runs: the cookie may be going; the Job's outcome decides.
    let running = matches!(job.map(|j| &j.state), Some(JobState::Running));
    if desired > ordinal && running {
        record.message = Some(format!(
            "spec.bookkeeper.replicas is {desired}: bookie {} comes back once its running decommission Job \
             finishes (a bookie that lost its cookie cannot come back with its data)",
            record.bookie
        ));
        step.directive = Some(ScaleDown { replicas: ordinal, retire: Some(ordinal) });
        step.recheck_after = Some(RECHECK);
        step.status = Some(record);
        return step;
    }
    if desired > ordinal {
        step.events.push(RolloutEvent::normal(
            "ScaleDownCanceled",
            format!(
                "spec.bookkeeper.replicas is {desired}: bookie {} stays, with its volumes{}",
                record.bookie,
                record.job.as_ref().map(|j| format!("; Job {j} is removed")).unwrap_or_default()
            ),
        ));
        return step;
    }

    match record.phase {
        ScaleDownPhase::Waiting => waiting_or_stopping(step, record, bookies, ctx),
        _ if !pod_gone => stopping(step, record),
        _ => {
            let job_name = job.map(|j| j.name.clone()).unwrap_or_else(|| bookies.job_name(ordinal));
            step.directive = Some(ScaleDown { replicas: ordinal, retire: Some(ordinal) });
            match job.map(|j| &j.state) {
                Some(JobState::Failed { reason, message }) => {
                    if record.phase != ScaleDownPhase::Failed {
                        step.events.push(RolloutEvent::warning(
                            "DecommissionFailed",
                            format!(
                                "Job {job_name} failed ({reason}: {message}): bookie {} keeps its volumes. Delete the \
                                 Job to retry, or set spec.bookkeeper.replicas to {} to bring the bookie back with \
                                 its data",
                                record.bookie,
                                ordinal + 1
                            ),
                        ));
                    }
                    record.phase = ScaleDownPhase::Failed;
                    record.message = Some(format!("Job {job_name} failed: {reason}: {message}"));
                }
                _ => {
                    if record.phase == ScaleDownPhase::Stopping {
                        step.events.push(RolloutEvent::normal(
                            "DecommissionStarted",
                            format!(
                                "bookie {} stopped; Job {job_name} re-replicates its ledgers, then removes its cookie",
                                record.bookie
                            ),
                        ));
                    }
                    record.phase = ScaleDownPhase::Decommissioning;
                    record.message = Some(format!("Job {job_name} decommissions bookie {}", record.bookie));
                }
            }
            record.job = Some(job_name);
            step.status = Some(record);
            step
        }
    }
}

/// The next bookie starts stopping once nothing stands in the way; until then every bookie runs.
fn waiting_or_stopping(
    mut step: ScaleStep,
    mut record: ScaleDownStatus,
    bookies: &Bookies,
    ctx: &Context<'_>,
) -> ScaleStep {
    let ordinal = u32::try_from(record.ordinal).unwrap_or(0);
    let current = bookies.stateful_set.as_ref().map_or(0, |(_, replicas)| *replicas);
    // Once the StatefulSet is down to this bookie, the step that stops it was taken: never undo it.
    if current <= ordinal {
        return stopping(step, record);
    }
    // Malformed options never render (the plugins refuse them), so there is nothing to check then.
    let quorum = ctx.spec.placement().ok();
    let unready: Vec<String> =
        (0..=ordinal).filter(|i| bookies.pods.get(i) != Some(&true)).map(|i| bookies.pod_name(i)).collect();
    let wait = if !ctx.spec.bookkeeper.auto_recovery {
        Some(
            "spec.bookkeeper.autoRecovery is off: nothing would re-replicate the bookie's ledgers, so its \
             decommission could not finish; turn it on to scale down"
                .to_string(),
        )
    } else if ctx.upgrading {
        Some("waiting for the upgrade or rollback in progress to finish".to_string())
    } else if let Some(q) = quorum.filter(|q| !q.fits(ordinal)) {
        Some(format!(
            "{ordinal} bookies would not hold the ledger placement (ensemble {}, write quorum {}, ack quorum {}): \
             spec.bookkeeper.replicas must stay at least the ensemble size and write quorum",
            q.ensemble, q.write, q.ack
        ))
    } else if !unready.is_empty() {
        Some(format!("waiting for every bookie to be Ready (not Ready: {})", unready.join(", ")))
    } else {
        None
    };
    let Some(message) = wait else { return stopping(step, record) };
    record.phase = ScaleDownPhase::Waiting;
    record.message = Some(message);
    step.directive = Some(ScaleDown { replicas: ordinal.saturating_add(1), retire: None });
    step.recheck_after = Some(RECHECK);
    step.status = Some(record);
    step
}

/// The StatefulSet runs one bookie fewer, so the record's bookie stops.
fn stopping(mut step: ScaleStep, mut record: ScaleDownStatus) -> ScaleStep {
    let ordinal = u32::try_from(record.ordinal).unwrap_or(0);
    record.phase = ScaleDownPhase::Stopping;
    record.message = Some(format!("waiting for pod {} to stop", record.bookie));
    step.directive = Some(ScaleDown { replicas: ordinal, retire: None });
    step.recheck_after = Some(RECHECK);
    step.status = Some(record);
    step
}
