//! Takeover figures at the **default** election timings (lease 15 s, renew 10 s, retry 2 s):
//! real exporter processes on the local Redis, scraping a fake GitHub.
//!
//! Reports, over `ROUNDS` rounds each:
//! - kill -9 of the leader → the next replica that says it leads (goal ≤ 15.5 s);
//! - SIGTERM of the leader → the next leader (goal ≤ 1 s);
//! - lease operations per second per replica (heartbeat, renew, acquire), from
//!   `gh_exporter_lease_operations_total` over a quiet minute.
//!
//! `cargo bench --bench election` (needs Redis on 127.0.0.1:6379; takes about 3 minutes).
//! `ELECTION_BENCH_ROUNDS=1` for a quicker run. `ELECTION_BENCH_BACKEND=kubernetes` elects on a
//! Kubernetes Lease of the test bed (`KUBECONFIG` from `scripts/kube-testbed start`), as the
//! bound ServiceAccount, and also reports the Lease API calls per replica per second as the API
//! server counted them (`apiserver_request_total{resource="leases"}`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/election_support/mod.rs"]
mod election_support;
#[path = "../tests/kube_support/mod.rs"]
mod kube_support;
#[path = "../tests/redis_common/mod.rs"]
mod redis_common;

use std::time::{Duration, Instant};

use election_support::{wait_until, Cluster, Replica};

fn main() {
    let rounds: usize = std::env::var("ELECTION_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let defaults = [
        ("GITHUB_STATS_LEADER_ELECTION__LEASE_DURATION", "15s"),
        ("GITHUB_STATS_LEADER_ELECTION__RENEW_DEADLINE", "10s"),
        ("GITHUB_STATS_LEADER_ELECTION__RETRY_PERIOD", "2s"),
        ("GITHUB_STATS_LEADER_ELECTION__REBALANCE_DELAY", "10s"),
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "30s"),
        ("GITHUB_STATS_SERVER__LOG_LEVEL", "warn"),
    ];
    let kubernetes = std::env::var("ELECTION_BENCH_BACKEND").as_deref() == Ok("kubernetes");
    let (mut env, backend): (Vec<(String, String)>, &str) = if kubernetes {
        (
            kube_support::kube_env("bench-election").0,
            "a Kubernetes Lease",
        )
    } else {
        (Vec::new(), "Redis leases")
    };
    env.extend(defaults.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cluster = Cluster::new("bench-election", 1, &env);
    let mut next_id = 0;
    let mut start = |cluster: &Cluster| {
        next_id += 1;
        cluster.start(&format!("bench{next_id}"), &[])
    };
    let mut replicas: Vec<Replica> = (0..3).map(|_| start(&cluster)).collect();
    wait_until(Duration::from_secs(60), "a first leader", || {
        replicas.iter().any(|r| r.is_leader())
    });

    // Lease operations per replica over a quiet minute.
    let quiet = Duration::from_secs(60);
    let ops = |r: &Replica| -> f64 {
        ["heartbeat", "renew", "acquire", "release", "leave"]
            .iter()
            .map(|op| {
                r.replica_value(&format!(
                    "gh_exporter_lease_operations_total{{operation=\"{op}\"}}"
                ))
            })
            .sum()
    };
    let before: Vec<f64> = replicas.iter().map(ops).collect();
    let api_before = kubernetes.then(lease_requests);
    std::thread::sleep(quiet);
    let api_per_second =
        api_before.map(|b| (lease_requests() - b) / quiet.as_secs_f64() / replicas.len() as f64);
    let per_second: Vec<f64> = replicas
        .iter()
        .zip(&before)
        .map(|(r, b)| (ops(r) - b) / quiet.as_secs_f64())
        .collect();

    let mut kill9 = Vec::new();
    let mut sigterm = Vec::new();
    for _ in 0..rounds {
        for (kind, out) in [("kill9", &mut kill9), ("sigterm", &mut sigterm)] {
            replicas.retain(|r| !r.killed);
            while replicas.len() < 3 {
                replicas.push(start(&cluster));
            }
            // Every replica is a member (a candidate) before the leader goes.
            wait_until(Duration::from_secs(60), "three members", || {
                replicas
                    .iter()
                    .all(|r| r.replica_value("gh_exporter_cluster_members") >= 3.0)
                    && replicas.iter().filter(|r| r.is_leader()).count() == 1
            });
            let leader = replicas
                .iter()
                .position(|r| r.is_leader())
                .expect("a leader");
            let started = Instant::now();
            if kind == "kill9" {
                replicas[leader].kill9();
            } else {
                replicas[leader].signal("TERM");
            }
            let took = wait_until(Duration::from_secs(60), "a new leader", || {
                replicas
                    .iter()
                    .enumerate()
                    .any(|(i, r)| i != leader && r.is_leader())
            });
            debug_assert!(took <= started.elapsed());
            out.push(took.as_secs_f64());
            if kind == "sigterm" {
                let _ = replicas[leader].wait_exit(Duration::from_secs(30));
            }
        }
    }
    let summary = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        format!(
            "min {:.3} s, median {:.3} s, max {:.3} s over {}",
            s[0],
            s[s.len() / 2],
            s[s.len() - 1],
            s.len()
        )
    };
    println!(
        "election on {backend} at default timings (lease 15 s, renew 10 s, retry 2 s), 3 replicas"
    );
    println!("  kill -9 takeover: {} (goal ≤ 15.5 s)", summary(&kill9));
    println!("  SIGTERM handover: {} (goal ≤ 1 s)", summary(&sigterm));
    println!(
        "  lease operations per replica per second: {}",
        per_second
            .iter()
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(calls) = api_per_second {
        println!("  Lease API requests per replica per second (API server's count): {calls:.2}");
    }
}

/// Every request on Leases the API server has counted (`apiserver_request_total`).
fn lease_requests() -> f64 {
    kube_support::runtime().block_on(async {
        let client = kube::Client::try_default().await.expect("an admin client");
        let request = http::Request::get("/metrics")
            .body(Vec::new())
            .expect("a request");
        let text = client
            .request_text(request)
            .await
            .expect("the API server's metrics");
        text.lines()
            .filter(|l| {
                l.starts_with("apiserver_request_total{") && l.contains("resource=\"leases\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    })
}
