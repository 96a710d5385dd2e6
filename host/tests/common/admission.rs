//! What the admission differential tests share (the offline admission against kube-apiserver's):
//! a verdict either side gives, the generated CRD applied live, and a namespace of their own.

use super::{kubeconfig, kubectl, kubectl_in, run_kubectl, wait_for};
use ecs_operator::crd::ECSCluster;
use ecs_plugin_sdk::FieldError;
use kube::api::DynamicObject;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Admitted,
    /// Refused: (field, message) pairs.
    Refused(Vec<(String, String)>),
    /// The request failed otherwise (not a 422), or did something other than asked.
    Failed(String),
}

impl Verdict {
    /// The offline admission's verdict.
    pub fn offline(result: Result<ECSCluster, Vec<FieldError>>) -> Verdict {
        match result {
            Ok(_) => Verdict::Admitted,
            Err(errors) => Verdict::Refused(errors.into_iter().map(|e| (e.path, e.message)).collect()),
        }
    }

    /// The apiserver's answer: the stored object, or a refusal (422, with the fields it names).
    pub fn apiserver(result: Result<DynamicObject, kube::Error>) -> Result<Value, Verdict> {
        match result {
            Ok(object) => Ok(serde_json::to_value(object).unwrap()),
            Err(kube::Error::Api(status)) if status.code == 422 => {
                let causes: Vec<(String, String)> = status
                    .details
                    .iter()
                    .flat_map(|d| &d.causes)
                    .map(|c| (c.field.clone(), c.message.clone()))
                    .collect();
                Err(Verdict::Refused(if causes.is_empty() {
                    vec![(String::new(), status.message.clone())]
                } else {
                    causes
                }))
            }
            Err(e) => Err(Verdict::Failed(e.to_string())),
        }
    }

    /// Whether a refusal names `field`.
    pub fn names(&self, field: &str) -> bool {
        matches!(self, Verdict::Refused(errors) if errors.iter().any(|(f, _)| f == field))
    }

    /// The fields a refusal names, sorted and deduplicated.
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = match self {
            Verdict::Refused(errors) => errors.iter().map(|(f, _)| f.clone()).collect(),
            _ => Vec::new(),
        };
        fields.sort();
        fields.dedup();
        fields
    }

    pub fn show(&self) -> String {
        match self {
            Verdict::Admitted => "admitted".into(),
            Verdict::Refused(errors) => {
                let errors: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
                format!("refused [{}]", errors.join("; "))
            }
            Verdict::Failed(message) => format!("FAILED {message}"),
        }
    }
}

/// The CRD the built binary generates (`ecs-operator crd`), applied and Established (polled:
/// `kubectl wait` fails at once while the apiserver has not written the condition yet).
pub fn apply_generated_crd() {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-operator")).arg("crd").output().expect("ecs-operator crd runs");
    assert!(out.status.success(), "ecs-operator crd: {}", String::from_utf8_lossy(&out.stderr));
    let crd = String::from_utf8(out.stdout).expect("the CRD is UTF-8");
    kubectl_in(&crd, &["apply", "--server-side", "--force-conflicts", "-f", "-"])
        .unwrap_or_else(|e| panic!("applying the CRD `ecs-operator crd` prints: {e}"));
    let established = r#"jsonpath={.status.conditions[?(@.type=="Established")].status}"#;
    wait_for("the CRD to be Established", Duration::from_secs(60), || {
        let status = run_kubectl(&kubeconfig(), &["get", "crd", "ecsclusters.ecs.ecs.io", "-o", established], None);
        (status.ok()?.trim() == "True").then_some(())
    });
}

/// A namespace created afresh, deleted when dropped (the test passed or not).
pub struct TestNamespace(pub &'static str);

impl TestNamespace {
    pub fn fresh(name: &'static str) -> TestNamespace {
        let _ = run_kubectl(&kubeconfig(), &["delete", "namespace", name, "--wait=true", "--timeout=120s"], None);
        kubectl(&["create", "namespace", name]);
        TestNamespace(name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = run_kubectl(&kubeconfig(), &["delete", "namespace", self.0, "--wait=false"], None);
    }
}

pub fn dynamic(object: &Value) -> DynamicObject {
    serde_json::from_value(object.clone()).expect("a Kubernetes object")
}

/// The running count of a differential run, one case at a time (each printed).
#[derive(Default)]
pub struct Tally {
    pub agreed: usize,
    pub admitted: usize,
    pub refused: usize,
    pub disagreements: Vec<String>,
}

impl Tally {
    /// Counts case `name` (about `rule`), whose two verdicts agree or not.
    pub fn record(&mut self, name: &str, rule: &str, apiserver: &Verdict, offline: &Verdict, agree: bool) {
        let line = format!("{name} ({rule})\n    apiserver: {}\n    offline:   {}", apiserver.show(), offline.show());
        if agree {
            self.agreed += 1;
            match apiserver {
                Verdict::Admitted => self.admitted += 1,
                _ => self.refused += 1,
            }
            println!("agree  {line}");
        } else {
            println!("DIFFER {line}");
            self.disagreements.push(line);
        }
    }
}

/// A live differential run's connection: the generated CRD applied, a fresh namespace, and the
/// ECSCluster API in it. `None` (after saying so) without a control plane.
pub struct Live {
    pub runtime: tokio::runtime::Runtime,
    pub api: kube::Api<DynamicObject>,
    pub namespace: TestNamespace,
}

impl Live {
    pub fn connect(what: &str, namespace: &'static str) -> Option<Live> {
        if std::env::var_os("ECS_TEST_KUBECONFIG").is_none() || std::env::var_os("ECS_TEST_KUBECTL").is_none() {
            println!(
                "{what}, live: SKIPPED: ECS_TEST_KUBECONFIG and ECS_TEST_KUBECTL are not set (`make integration` sets them)"
            );
            return None;
        }
        apply_generated_crd();
        let namespace = TestNamespace::fresh(namespace);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = runtime.block_on(ecs_operator::controller::client(Some(&kubeconfig()))).expect("a client");
        let resource = kube::core::ApiResource::erase::<ECSCluster>(&());
        let api = kube::Api::namespaced_with(client, namespace.0, &resource);
        Some(Live { runtime, api, namespace })
    }
}
