//! The Kubernetes side of the end-to-end tests: the test bed's ServiceAccount bound with the
//! Role of `deploy/kubernetes/base/`, a cluster of replicas electing on a Lease of their own, and
//! the Lease's holder as the API server shows it.

#![allow(dead_code)]

use std::sync::OnceLock;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};

use crate::election_support::Cluster;

/// The namespace of the replicas' Leases (their ServiceAccount's).
pub const NAMESPACE: &str = "gse-e2e";
/// The ServiceAccount of `deploy/kubernetes/base/serviceaccount.yaml`.
pub const ACCOUNT: &str = "github-stats-exporter";

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Creates `object` (a 409 means it is there already).
async fn create<K>(api: &Api<K>, object: &K)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => panic!("creating {object:?}: {error}"),
    }
}

/// Once per test process: the ServiceAccount in [`NAMESPACE`] with its kubeconfig (by the test
/// bed), bound with the Role and RoleBinding of `deploy/kubernetes/base/` (created as admin).
/// Returns the ServiceAccount's kubeconfig.
pub fn service_account() -> &'static str {
    static KUBECONFIG: OnceLock<String> = OnceLock::new();
    KUBECONFIG.get_or_init(|| {
        let path = std::env::var("KUBECONFIG").unwrap_or_default();
        assert!(
            !path.is_empty() && std::path::Path::new(&path).is_file(),
            "no kube-apiserver test bed: run `eval \"$(scripts/kube-testbed start | tail -1)\"`"
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let root = env!("CARGO_MANIFEST_DIR");
        let out = std::process::Command::new(format!("{root}/scripts/kube-testbed"))
            .args(["sa-kubeconfig", ACCOUNT, NAMESPACE])
            .output()
            .expect("scripts/kube-testbed runs");
        assert!(
            out.status.success(),
            "sa-kubeconfig: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let account_config = stdout
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("export KUBECONFIG="))
            .expect("sa-kubeconfig prints export KUBECONFIG=PATH last")
            .to_string();
        let read = |file: &str| {
            std::fs::read_to_string(format!("{root}/deploy/kubernetes/base/{file}"))
                .expect("manifest")
        };
        let role: Role = serde_saphyr::from_str(&read("role.yaml")).expect("role.yaml");
        let binding: RoleBinding =
            serde_saphyr::from_str(&read("rolebinding.yaml")).expect("rolebinding.yaml");
        runtime().block_on(async {
            let client = kube::Client::try_default().await.expect("an admin client");
            create(&Api::<Role>::namespaced(client.clone(), NAMESPACE), &role).await;
            create(&Api::<RoleBinding>::namespaced(client, NAMESPACE), &binding).await;
        });
        // Not admin: the account may not even read the namespace's Secrets.
        runtime().block_on(async {
            let options = kube::config::KubeConfigOptions::default();
            let config = kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::read_from(&account_config).expect("kubeconfig"),
                &options,
            )
            .await
            .expect("the account's kubeconfig");
            let client = kube::Client::try_from(config).expect("client");
            let secrets: Api<k8s_openapi::api::core::v1::Secret> =
                Api::namespaced(client, NAMESPACE);
            match secrets.list(&Default::default()).await {
                Err(kube::Error::Api(status)) => assert_eq!(status.code, 403),
                other => panic!("the ServiceAccount may list Secrets: {other:?}"),
            }
        });
        account_config
    })
}

/// The environment of replicas electing on a Lease of their own (`gse-e2e-<unique>`) in
/// [`NAMESPACE`], as the bound ServiceAccount; and that Lease's name.
pub fn kube_env(test: &str) -> (Vec<(String, String)>, String) {
    let account = service_account();
    let suffix: String = crate::redis_common::unique_namespace(test)
        .chars()
        .rev()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    let lease = format!("gse-e2e-{suffix}");
    let env = [
        ("GITHUB_STATS_LEADER_ELECTION__BACKEND", "kubernetes"),
        ("GITHUB_STATS_LEADER_ELECTION__LEASE_NAME", lease.as_str()),
        ("KUBECONFIG", account),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    (env, lease)
}

/// A cluster of `orgs` orgs electing as [`kube_env`] says, plus `extra`.
pub fn kube_cluster(test: &str, orgs: usize, extra: &[(&str, &str)]) -> (Cluster, String) {
    let (env, lease) = kube_env(test);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    (Cluster::new(test, orgs, &all), lease)
}

/// The Lease's holder, read from the API server (what `kubectl get lease` shows).
pub fn lease_holder(name: &str) -> Option<String> {
    runtime().block_on(async {
        let client = kube::Client::try_default().await.expect("a kube client");
        let leases: Api<Lease> = Api::namespaced(client, NAMESPACE);
        let lease = leases.get_opt(name).await.expect("the API answers")?;
        lease.spec?.holder_identity.filter(|h| !h.is_empty())
    })
}

/// A test bed of this test's own (its state in a temporary directory, its own ports), for a
/// test that pauses the API server: never the shared one. Stopped when dropped.
pub struct PrivateTestbed {
    dir: std::path::PathBuf,
    /// The admin kubeconfig of this test bed.
    pub kubeconfig: String,
}

impl PrivateTestbed {
    pub fn start() -> PrivateTestbed {
        let root = env!("CARGO_MANIFEST_DIR");
        // No `:` in the path: KUBECONFIG is a `:`-separated list.
        let unique: String = crate::redis_common::unique_namespace("t")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let dir = std::env::temp_dir().join(format!("gse-kube-private-{unique}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let out = std::process::Command::new(format!("{root}/scripts/kube-testbed"))
            .arg("start")
            .env("KUBE_TESTBED_DIR", &dir)
            .env("KUBE_TESTBED_PORT", port.to_string())
            .output()
            .expect("scripts/kube-testbed runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a private test bed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kubeconfig = stdout
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("export KUBECONFIG="))
            .expect("start prints export KUBECONFIG=PATH last")
            .to_string();
        PrivateTestbed { dir, kubeconfig }
    }

    fn apiserver_pid(&self) -> String {
        std::fs::read_to_string(self.dir.join("kube-apiserver.pid"))
            .expect("the API server's pid file")
            .trim()
            .to_string()
    }

    /// Sends `signal` (`STOP`, `CONT`) to this test bed's API server.
    pub fn signal_apiserver(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.apiserver_pid())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} of the API server");
    }
}

impl Drop for PrivateTestbed {
    fn drop(&mut self) {
        self.signal_apiserver("CONT");
        let root = env!("CARGO_MANIFEST_DIR");
        let _ = std::process::Command::new(format!("{root}/scripts/kube-testbed"))
            .arg("stop")
            .env("KUBE_TESTBED_DIR", &self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
