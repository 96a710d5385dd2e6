//! Lease-based leader election (coordination.k8s.io Lease `ecs-operator-leader`): with two or more
//! replicas, only the holder writes; the others keep warm caches and take over when the Lease
//! expires or is released on shutdown.

use super::metrics::Metrics;
use futures::Stream;
use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

pub const LEASE_NAME: &str = "ecs-operator-leader";
/// Seconds a Lease stays valid without renewal, and how long before expiry the holder renews it.
const LEASE_SECONDS: u64 = 15;
const RENEW_GRACE_SECONDS: u64 = 5;

pub struct Election {
    flag: Arc<AtomicBool>,
    changes: watch::Receiver<bool>,
    /// Stops the task that mirrors leadership into the flag (it holds a receiver too).
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<kube_lease_manager::LeaseManager, LeaseManagerError>>,
}

impl Election {
    pub async fn start(
        client: &Client,
        namespace: &str,
        identity: &str,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let manager = LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(LEASE_SECONDS)
            .with_grace(RENEW_GRACE_SECONDS)
            .with_field_manager("ecs-operator-leader")
            .build()
            .await?;
        let (changes, task) = manager.watch().await;
        let flag = Arc::new(AtomicBool::new(*changes.borrow()));
        let mut rx = changes.clone();
        let (f, m) = (flag.clone(), metrics);
        let id = identity.to_string();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let leading = *rx.borrow_and_update();
                f.store(leading, Ordering::Release);
                m.leader.set(leading as i64);
                tracing::info!(identity = %id, leading, "leadership");
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { break },
                    _ = &mut stopped => break,
                }
            }
        });
        Ok(Election { flag, changes, stop, task })
    }

    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// Yields once each time this replica becomes the leader (so it reconciles everything).
    pub fn became_leader(&self) -> impl Stream<Item = ()> + Send + 'static {
        let rx = self.changes.clone();
        futures::stream::unfold(rx, |mut rx| async move {
            loop {
                rx.changed().await.ok()?;
                if *rx.borrow_and_update() {
                    return Some(((), rx));
                }
            }
        })
    }

    /// Gives the Lease up so a standby takes over at once instead of after expiry. The manager
    /// releases it once every receiver is gone (the controller's trigger went with the controller).
    pub async fn release(self) {
        self.flag.store(false, Ordering::Release);
        let _ = self.stop.send(());
        drop(self.changes);
        match tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!("released the leader lease"),
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "releasing the leader lease"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the leader election task failed"),
            Err(_) => tracing::warn!("gave up releasing the leader lease after 5 s; it expires on its own"),
        }
    }
}
