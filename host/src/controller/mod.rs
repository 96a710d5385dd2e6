//! `ecs-operator run`: the operator. A kube-rs [`Controller`] on `ECSCluster`s whose reconciles read
//! the reflector caches, render through the plugins, server-side apply what differs, prune what is
//! no longer wanted, and write status and Events. Only the Lease holder writes.
//!
//! - [`observe`]: the watches and caches; [`diff`]: "would applying change anything?";
//! - [`apply`]: every write; [`status`]: conditions and members (pure);
//! - [`reconcile`]: one reconcile; [`leader`]: Lease election; [`server`]: health and metrics;
//! - [`zookeeper_tree`]: the cluster's ZooKeeper tree, marked as its own and removed on deletion;
//! - [`plugin_watch`]: plugin files swapped in while running; [`admin`]: the `/plugins` endpoint.

pub mod admin;
pub mod apply;
pub mod cached;
pub mod diff;
pub mod leader;
pub mod metrics;
pub mod observe;
pub mod ownership;
pub mod plugin_watch;
pub mod reconcile;
pub mod server;
pub mod status;
pub mod zookeeper_tree;

use crate::crd::ECSCluster;
use crate::plugins::{FileFailure, PluginSet, Registry};
use anyhow::Context as _;
use futures::StreamExt;
use kube::Client;
use kube::runtime::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use metrics::Metrics;
use observe::{Scope, Stores};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Set on every cluster: on deletion the operator stops its pods, removes its ZooKeeper tree and
/// its PersistentVolumes (which garbage collection cannot), and only then lets it go.
pub const FINALIZER: &str = "ecs.ecs.io/cleanup";
/// The finalizer of earlier versions (PersistentVolumes only): still honoured, and removed.
pub const LEGACY_FINALIZER: &str = "ecs.ecs.io/persistent-volumes";
/// Annotation (`"true"`) that lets a deleted cluster go without removing its ZooKeeper tree, e.g.
/// when ZooKeeper itself is gone for good.
pub const SKIP_ZOOKEEPER_CLEANUP: &str = "ecs.ecs.io/skip-zookeeper-cleanup";

/// How to run the operator.
#[derive(Clone, Debug)]
pub struct Options {
    pub kubeconfig: Option<PathBuf>,
    /// `None`: the client's default namespace (in a pod: its own); `Some("")`: all namespaces.
    pub watch_namespace: Option<String>,
    pub leader_election: bool,
    /// Lease holder name; defaults to `$POD_NAME`, else host name and process id.
    pub identity: Option<String>,
    pub listen: SocketAddr,
    /// The admin endpoint (`/plugins`); `None`: not served.
    pub admin_listen: Option<SocketAddr>,
    /// How often to look for changed plugin files; `None`: never (loaded at start only).
    pub plugin_poll: Option<Duration>,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    /// The plugins in service; a reconcile takes the current set once, at its start.
    pub plugins: Arc<Registry>,
    pub stores: Stores,
    pub clusters: Store<ECSCluster>,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    /// Ready once every cache holds its first listing; until then a reconcile would see objects
    /// as missing and re-apply them.
    pub health: Arc<server::Health>,
    /// Whose ZooKeeper trees are marked as theirs.
    pub zookeeper_marks: zookeeper_tree::Marks,
    leader: Arc<AtomicBool>,
    failures: Mutex<HashMap<ObjectRef<ECSCluster>, u32>>,
}

impl Context {
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    fn count_failure(&self, cr: &ECSCluster) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(ObjectRef::from(cr)).or_default();
        *n += 1;
        *n - 1
    }

    fn forget_failures(&self, cr: &ECSCluster) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&ObjectRef::from(cr));
    }
}

/// A client from `kubeconfig`, else in-cluster, `$KUBECONFIG` or `~/.kube/config`.
pub async fn client(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer()
            .await
            .context("no Kubernetes configuration (in-cluster, $KUBECONFIG or ~/.kube/config)")?,
    };
    Ok(Client::try_from(config)?)
}

fn identity(options: &Options) -> String {
    options.identity.clone().or_else(|| std::env::var("POD_NAME").ok()).unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "local".into());
        format!("{}-{}", host.trim(), std::process::id())
    })
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
    }
    tracing::info!("shutting down");
}

/// Runs until SIGTERM / Ctrl-C, then hands the Lease over.
pub async fn run(
    options: Options,
    load_plugins: impl FnOnce(Arc<Metrics>) -> anyhow::Result<(PluginSet, Vec<FileFailure>)> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(server::Health::default());
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving /healthz, /readyz and /metrics");
    tokio::spawn(server::serve(listener, health.clone(), metrics.clone()));
    let admin_listener = match options.admin_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("listening on {address} (--admin-listen)"))?,
        ),
        None => None,
    };

    let client = client(options.kubeconfig.as_deref()).await?;
    let own_namespace = client.default_namespace().to_string();
    let scope = match options.watch_namespace.as_deref() {
        Some("") => Scope::All,
        Some(ns) => Scope::Namespace(ns.to_string()),
        None => Scope::Namespace(own_namespace.clone()),
    };
    tracing::info!(?scope, "watching ECSClusters");

    let plugin_metrics = metrics.clone();
    let (plugins, failures) = tokio::task::spawn_blocking(move || load_plugins(plugin_metrics)).await??;
    for failure in &failures {
        metrics.plugin_load_failed(&plugin_watch::file_label(&failure.file));
    }
    let plugins = Arc::new(Registry::new(plugins));
    if let Some(listener) = admin_listener {
        tracing::info!(address = %listener.local_addr()?, "serving /plugins (admin)");
        tokio::spawn(admin::serve(listener, plugins.clone()));
    }

    let lease_namespace = match &scope {
        Scope::Namespace(ns) => ns.clone(),
        Scope::All => own_namespace,
    };
    let identity = identity(&options);
    let election = if options.leader_election {
        Some(leader::Election::start(&client, &lease_namespace, &identity, metrics.clone()).await?)
    } else {
        metrics.leader.set(1);
        None
    };
    let leader_flag = election.as_ref().map(|e| e.flag()).unwrap_or_else(|| Arc::new(AtomicBool::new(true)));

    let (stores, watches) = Stores::start(&client, &scope);
    let (clusters, cluster_events) = observe::reflect(scope.api::<ECSCluster>(&client), None, false);
    let controller = Controller::for_stream(cluster_events, clusters.clone());
    let reporter = Reporter { controller: "ecs-operator".into(), instance: Some(identity.clone()) };
    let ctx = Arc::new(Context {
        client: client.clone(),
        plugins: plugins.clone(),
        stores: stores.clone(),
        clusters: clusters.clone(),
        metrics: metrics.clone(),
        recorder: Recorder::new(client.clone(), reporter),
        health: health.clone(),
        zookeeper_marks: zookeeper_tree::Marks::default(),
        leader: leader_flag,
        failures: Mutex::default(),
    });

    let ready_health = health.clone();
    tokio::spawn(async move {
        if stores.ready().await.is_err() {
            return;
        }
        // The controller waits on the ECSCluster cache's ready signal too, and a second waiter is
        // not reliably woken (seen here: the controller started, this waiter slept on), so re-ask.
        loop {
            match tokio::time::timeout(Duration::from_millis(200), clusters.wait_until_ready()).await {
                Ok(Ok(())) => break,
                Ok(Err(_)) => return,
                Err(_) => continue,
            }
        }
        tracing::info!("caches synced; ready");
        ready_health.set_ready();
    });

    let became_leader = match &election {
        Some(e) => e.became_leader().boxed(),
        None => futures::stream::empty().boxed(),
    };
    // Clusters to reconcile again because a plugin they use was swapped in.
    let (plugin_changed, reconcile_for_plugins) = futures::channel::mpsc::unbounded();
    if let Some(every) = options.plugin_poll {
        let watch = plugin_watch::PluginWatch::new(ctx.clone(), plugin_changed, failures);
        tokio::spawn(watch.run(every));
    }
    with_triggers(controller, watches)
        .reconcile_all_on(became_leader)
        .reconcile_on(reconcile_for_plugins)
        .graceful_shutdown_on(shutdown_signal())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller");
            }
        })
        .await;
    health.set_not_ready();
    if let Some(election) = election {
        election.release().await;
    }
    Ok(())
}

/// Triggers, one per managed kind, the pods and the claims: namespaced objects map to their
/// ECSCluster by owner reference; pods, claims and cluster-scoped objects, which carry none to it,
/// by their cluster label.
fn with_triggers(controller: Controller<ECSCluster>, w: observe::Watches) -> Controller<ECSCluster> {
    let mut controller = controller;
    for (resource, watch) in w.labelled {
        controller = controller.watches_stream_with(watch, |o| observe::cluster_of(&o), resource);
    }
    for (kind, resource, watch) in w.managed {
        controller = if kind.namespaced {
            controller.owns_stream_with(watch, resource)
        } else {
            controller.watches_stream_with(watch, |o| observe::cluster_of_cluster_scoped(&o), resource)
        };
    }
    controller
}
