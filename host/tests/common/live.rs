//! The operator against the local control plane: a namespace set up as the README installs the
//! operator in a custom namespace, the operator binary running as its service account, and reads of
//! the API server's audit log.

use super::{kubeconfig, kubectl, kubectl_in, run_kubectl, wait_for};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The API server's audit log (kwokctl writes it next to the kubeconfig).
pub fn audit_log() -> PathBuf {
    std::env::var("ECS_TEST_AUDIT_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|_| kubeconfig().parent().unwrap().join("logs/audit.log"))
}

pub const T: Duration = Duration::from_secs(60);

pub fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap()
}

/// A namespace with the operator's service account, role and bindings, as the README installs them
/// in a custom namespace. Deleted (in the background) when dropped.
pub struct Namespace {
    pub name: String,
    pub dir: PathBuf,
}

/// Installs deploy/crd.yaml once per test run (a fresh control plane has no CRD).
pub fn ensure_crd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        kubectl_in(&read("deploy/crd.yaml"), &["apply", "--server-side", "--force-conflicts", "-f", "-"]).unwrap();
        // Polled: `kubectl wait` fails at once while the API server has not written the status yet.
        let established = r#"jsonpath={.status.conditions[?(@.type=="Established")].status}"#;
        wait_for("the CRD to be Established", T, || {
            let status = run_kubectl(&kubeconfig(), &["get", "crd", "ecsclusters.ecs.ecs.io", "-o", established], None);
            (status.ok()?.trim() == "True").then_some(())
        });
    });
}

/// Lets the namespace's clusters go without their operator: every cluster carries the cleanup
/// finalizer, and a test's operator is stopped before its namespace is deleted. What the finalizer
/// would have removed from the test run's ZooKeeper goes too (only a tree the cluster marked as its
/// own, as the operator would), so that the next test's cluster of the same name starts clean.
pub fn release_clusters(namespace: &str) {
    let Ok(list) = run_kubectl(&kubeconfig(), &["-n", namespace, "get", "ecsclusters", "-o", "json"], None) else {
        return;
    };
    let items = serde_json::from_str::<Value>(&list).ok().and_then(|l| l["items"].as_array().cloned());
    for cr in items.unwrap_or_default() {
        let s = |p: &str| cr.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
        let (name, uid, zookeeper) = (s("/metadata/name"), s("/metadata/uid"), s("/spec/zookeeperUri"));
        let patch = r#"{"metadata":{"finalizers":null}}"#;
        let _ = run_kubectl(
            &kubeconfig(),
            &["-n", namespace, "patch", "ecscluster", &name, "--type=merge", "-p", patch],
            None,
        );
        if std::env::var("ECS_TEST_ZOOKEEPER").is_ok_and(|z| z == zookeeper) {
            remove_zookeeper_tree(&zookeeper, &name, &uid);
        }
    }
}

fn remove_zookeeper_tree(address: &str, name: &str, uid: &str) {
    use ecs_operator::zookeeper::{Claimant, remove_if_ours};
    let root = format!("/ecs/{name}");
    let who = Claimant { uid: uid.to_string(), cluster: String::new(), adopt_from_ms: None };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let removed = runtime.block_on(remove_if_ours(address, &root, &who, std::slice::from_ref(&root), T));
    if let Err(e) = removed {
        eprintln!("could not remove {root} from {address}: {e}");
    }
}

impl Namespace {
    pub fn new(name: &str) -> Namespace {
        ensure_crd();
        release_clusters(name);
        let _ = run_kubectl(&kubeconfig(), &["delete", "namespace", name, "--wait=true", "--timeout=60s"], None);
        kubectl(&["create", "namespace", name]);
        let binding = read("deploy/role_binding.yaml").replace("namespace: default", &format!("namespace: {name}"));
        for manifest in [read("deploy/service_account.yaml"), read("deploy/role.yaml"), binding] {
            kubectl_in(&manifest, &["-n", name, "apply", "-f", "-"]).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("ecs-it-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        // A kubeconfig that impersonates the service account: the operator gets only its RBAC rights.
        let groups = format!("[system:serviceaccounts, \"system:serviceaccounts:{name}\", system:authenticated]");
        let impersonation =
            format!("  user:\n    as: system:serviceaccount:{name}:ecs-operator\n    as-groups: {groups}\n");
        let admin = std::fs::read_to_string(kubeconfig()).unwrap();
        assert_eq!(admin.matches("\n  user:\n").count(), 1, "expected a kubeconfig with one user");
        std::fs::write(dir.join("kubeconfig.yaml"), admin.replace("  user:\n", &impersonation)).unwrap();
        Namespace { name: name.to_string(), dir }
    }

    pub fn user(&self) -> String {
        format!("system:serviceaccount:{}:ecs-operator", self.name)
    }

    pub fn apply(&self, manifest: &str) {
        kubectl_in(manifest, &["-n", &self.name, "apply", "-f", "-"]).unwrap();
    }

    /// The seed's example named `name`, with its Tier-2 claim.
    pub fn create_seed_cluster(&self, name: &str) {
        self.apply(&tier2_claim(name));
        self.apply(&seed_example(name));
    }

    /// Names of the namespace's objects of `kind` (e.g. `pvc`, `jobs`) whose name starts with `prefix`.
    pub fn names(&self, kind: &str, prefix: &str) -> Vec<String> {
        let out = kubectl(&["-n", &self.name, "get", kind, "-o", "jsonpath={.items[*].metadata.name}"]);
        let mut names: Vec<String> =
            out.split_whitespace().filter(|n| n.starts_with(prefix)).map(String::from).collect();
        names.sort();
        names
    }

    pub fn get(&self, kind: &str, name: &str) -> Option<Value> {
        let out = run_kubectl(&kubeconfig(), &["-n", &self.name, "get", kind, name, "-o", "json"], None).ok()?;
        serde_json::from_str(&out).ok()
    }

    pub fn patch(&self, kind: &str, name: &str, patch: &str) {
        kubectl(&["-n", &self.name, "patch", kind, name, "--type=merge", "-p", patch]);
    }

    pub fn condition(&self, cluster: &str, type_: &str) -> Option<Value> {
        let cr = self.get("ecscluster", cluster)?;
        cr.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == type_).cloned()
    }

    pub fn wait_ready(&self, cluster: &str) -> Value {
        wait_for(&format!("{}/{cluster} Ready", self.name), T, || {
            let ready = self.condition(cluster, "Ready")?;
            let cr = self.get("ecscluster", cluster)?;
            (ready["status"] == "True" && cr["status"]["observedGeneration"] == cr["metadata"]["generation"])
                .then_some(cr)
        })
    }

    /// (kind, name) of every object the operator manages for `cluster`.
    pub fn managed(&self, cluster: &str) -> Vec<(String, String)> {
        let selector = format!("ecs_cluster={cluster},app.kubernetes.io/managed-by=ecs-operator");
        let out = kubectl(&[
            "-n",
            &self.name,
            "get",
            "configmaps,services,statefulsets,deployments,poddisruptionbudgets,persistentvolumeclaims",
            "-l",
            &selector,
            "-o",
            "json",
        ]);
        let list: Value = serde_json::from_str(&out).unwrap();
        let mut items: Vec<(String, String)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["kind"].as_str().unwrap().to_string(), o["metadata"]["name"].as_str().unwrap().to_string()))
            .collect();
        items.sort();
        items
    }

    pub fn events(&self) -> String {
        kubectl(&[
            "-n",
            &self.name,
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=ECSCluster",
            "-o",
            "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message",
        ])
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        release_clusters(&self.name);
        let _ = run_kubectl(&kubeconfig(), &["delete", "namespace", &self.name, "--wait=false"], None);
    }
}

/// The operator binary, running as the namespace's service account.
pub struct Operator {
    pub child: Child,
    pub port: u16,
    /// The admin endpoint's port (`/plugins`), unless the test chose its own `--admin-listen`.
    pub admin_port: Option<u16>,
    pub log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Operator {
    pub fn start(ns: &Namespace, identity: &str, extra: &[&str]) -> Operator {
        let port = free_port();
        // Several operators run at once (two replicas, tests in parallel): none may take the
        // default admin port.
        let admin_port = (!extra.contains(&"--admin-listen")).then(free_port);
        let log = ns.dir.join(format!("operator-{identity}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-operator"));
        command
            .args(["run", "--watch-namespace", &ns.name, "--identity", identity])
            .arg("--kubeconfig")
            .arg(ns.dir.join("kubeconfig.yaml"))
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        if let Some(admin) = admin_port {
            command.args(["--admin-listen", &format!("127.0.0.1:{admin}")]);
        }
        let child = command
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("ECS_TEST_OPERATOR_LOG").unwrap_or_else(|_| "info,ecs_operator=debug".into()),
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut op = Operator { child, port, admin_port, log };
        wait_for("the operator's /readyz", T, || {
            assert!(op.child.try_wait().unwrap().is_none(), "the operator exited:\n{}", op.log_text());
            http_get(op.port, "/readyz").filter(|(status, _)| *status == 200)
        });
        op
    }

    pub fn metrics(&self) -> String {
        http_get(self.port, "/metrics").map(|(_, body)| body).unwrap_or_default()
    }

    pub fn metric(&self, prefix: &str) -> f64 {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn is_leader(&self) -> bool {
        self.metric("ecs_operator_leader ") == 1.0
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as Kubernetes stops a pod; returns how long the graceful shutdown took.
    pub fn stop(mut self) -> Duration {
        let started = Instant::now();
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let status = wait_for("the operator to exit", Duration::from_secs(15), || self.child.try_wait().unwrap());
        assert!(status.success(), "exit status {status:?}\n{}", self.log_text());
        started.elapsed()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the audit log ends now: reading from here on is quick (the whole log grows to tens of MB
/// over a test run, and a slow poll would let the operator run several steps ahead).
pub fn audit_mark() -> u64 {
    std::fs::metadata(audit_log()).map(|m| m.len()).unwrap_or(0)
}

/// The pods the operator deleted (successfully) since the audit log's `mark`, in order.
pub fn pod_deletes(ns: &Namespace, mark: u64) -> Vec<String> {
    use std::io::{Read, Seek};
    let mut file = std::fs::File::open(audit_log()).expect("the audit log exists");
    file.seek(std::io::SeekFrom::Start(mark)).unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    let user = ns.user();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            let who = e.pointer("/impersonatedUser/username").or_else(|| e.pointer("/user/username"));
            who.and_then(Value::as_str) == Some(user.as_str())
                && e["verb"] == "delete"
                && e["objectRef"]["resource"] == "pods"
                && e["stage"] == "ResponseComplete"
                // A delete refused by its UID precondition (a pod already replaced) restarts nothing.
                && e["responseStatus"]["code"].as_i64().is_some_and(|c| c < 300)
        })
        .filter_map(|e| e["objectRef"]["name"].as_str().map(str::to_string))
        .collect()
}

/// A minimal HTTP/1.0 GET: (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_string()))
}

/// Audit-log write requests (create, update, patch, delete) made by `user` since `since` (an
/// RFC 3339 timestamp), excluding its leader Lease renewals.
pub fn writes_by(user: &str, since: &str) -> Vec<String> {
    let text = std::fs::read_to_string(audit_log()).expect("the audit log exists");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            let who = e.pointer("/impersonatedUser/username").or_else(|| e.pointer("/user/username"));
            who.and_then(Value::as_str) == Some(user)
                && matches!(e["verb"].as_str(), Some("create" | "update" | "patch" | "delete"))
                && e["objectRef"]["resource"] != "leases"
                && e["stage"] == "ResponseComplete"
                && e["requestReceivedTimestamp"].as_str().is_some_and(|t| t > since)
        })
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            format!("{} {}/{}", s(&e["verb"]), s(&e["objectRef"]["resource"]), s(&e["objectRef"]["name"]))
        })
        .collect()
}

pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// The seed's example named `name`; its ZooKeeper is the test run's (`ECS_TEST_ZOOKEEPER`, set by
/// integration.sh) when there is one, so that deleting it cleans up a real tree.
pub fn seed_example(name: &str) -> String {
    read("deploy/examples/ecs.yaml")
        .replace("zookeeperUri: zk-client:2181", &format!("zookeeperUri: \"{}\"", test_zookeeper()))
        .replace("name: \"ecs\"", &format!("name: \"{name}\""))
        .replace("claimName: ecs-tier2", &format!("claimName: {name}-tier2"))
}

/// The seed's example named `name`, its Tier-2 (the seed's claim) replaced by `tier2`: a `tier2:`
/// block indented as the seed's.
pub fn seed_example_with_tier2(name: &str, tier2: &str) -> String {
    let manifest = seed_example(name);
    let start = manifest.find("tier2:").expect("the seed example has a tier2 section");
    let end = manifest[start..].find("claimName").map(|i| start + i).expect("the seed's Tier-2 claim");
    let end = end + manifest[end..].find('\n').unwrap() + 1;
    format!("{}{tier2}{}", &manifest[..start], &manifest[end..])
}

pub fn tier2_claim(name: &str) -> String {
    read("deploy/examples/pvc.yaml").replace("name: ecs-tier2", &format!("name: {name}-tier2"))
}

/// (kind, name) of every object `ecs-operator render` says the cluster should have.
pub fn rendered(ns: &str, manifest: &str) -> Vec<(String, String)> {
    rendered_with(ns, manifest, &[])
}

/// [`rendered`], with more `render` arguments (e.g. `--plugin-dir`).
pub fn rendered_with(ns: &str, manifest: &str, args: &[&str]) -> Vec<(String, String)> {
    let file = std::env::temp_dir().join(format!("ecs-it-render-{ns}.yaml"));
    std::fs::write(&file, manifest.replacen("metadata:\n", &format!("metadata:\n  namespace: {ns}\n"), 1)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
        .args(["render", "-o", "json"])
        .args(args)
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let objects: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = objects.get("items").unwrap_or(&objects).as_array().unwrap().clone();
    let mut items: Vec<(String, String)> = list
        .iter()
        .map(|o| (o["kind"].as_str().unwrap().to_string(), o["metadata"]["name"].as_str().unwrap().to_string()))
        .collect();
    items.sort();
    items
}

/// The test run's ZooKeeper (`ECS_TEST_ZOOKEEPER`), else the seed's (unreachable) one.
pub fn test_zookeeper() -> String {
    std::env::var("ECS_TEST_ZOOKEEPER").unwrap_or_else(|_| "zk-client:2181".to_string())
}

/// A ZooKeeper server of the test's own (tests/cluster/zookeeper.sh) on 127.0.0.1, stopped when
/// dropped; `stop` and `start` again keep its port and data.
pub struct ZooKeeper {
    pub address: String,
    dir: PathBuf,
}

impl ZooKeeper {
    pub fn start(name: &str) -> ZooKeeper {
        let dir = std::env::temp_dir().join(format!("ecs-it-zk-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut zk = ZooKeeper { address: String::new(), dir };
        zk.address = zk.run("start");
        zk
    }

    fn run(&self, verb: &str) -> String {
        let script = Path::new(ROOT).join("tests/cluster/zookeeper.sh");
        let mut command = Command::new(script);
        if verb == "start" {
            command.args(["start", "0"]);
        } else {
            command.arg(verb);
        }
        let out = command.arg(&self.dir).output().unwrap();
        assert!(out.status.success(), "zookeeper.sh {verb}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string()
    }

    pub fn stop(&self) {
        self.run("stop");
    }

    pub fn restart(&self) {
        let address = self.run("start");
        assert_eq!(address, self.address, "the restarted server keeps its port");
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(ROOT).join("tests/cluster/zookeeper.sh")).arg("stop").arg(&self.dir).output();
    }
}
