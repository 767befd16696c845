//! Cold start as a new user meets it: the real exporter binary (release build), default
//! settings (5 min interval, 800 requests/min pacing), against a fake GitHub with its defaults
//! (real clock, secondary limits on, `stats/contributors` answering 202 twice per repository;
//! only the primary budget is raised, since 8 orgs cold need more than 5,000 requests an hour).
//!
//! Reports per scenario:
//! - time from process start to the first `gh_activity_*` series on `/metrics`;
//! - time until every org serves a cycle whose `gh_activity_*` series (lines of code included)
//!   all equal the fake's truth at that cycle's `window_end`;
//! - GitHub requests spent until then (total, `stats/contributors`, REST budget, GraphQL points);
//! - series on `/metrics`, and resident memory (`VmRSS` then, `VmHWM` peak) of the exporter.
//!
//! `cargo bench --bench cold_start` runs 1 org × 300 repositories and 8 orgs × 300. Options:
//! `-- --orgs N --repos N --users N --deadline-secs N` for one scenario of your own, and
//! `--requests-per-minute N` to change the exporter's pacing (0 = off; memory, not time).
//! `COLD_START_EXPORTER=/path/to/binary` measures another build of the exporter (e.g. an
//! older commit) against the same world.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/scrape_support/mod.rs"]
mod scrape_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use fake_github::{FakeConfig, FakeGithub};
use scrape_support::{diff, http_get, push_race_only, truth, Metrics};

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

struct Scenario {
    orgs: usize,
    repos: usize,
    users: usize,
    deadline: Duration,
}

fn main() {
    let scenarios = match arg("--orgs") {
        Some(orgs) => vec![Scenario {
            orgs: orgs as usize,
            repos: arg("--repos").unwrap_or(300) as usize,
            users: arg("--users").unwrap_or(50) as usize,
            deadline: Duration::from_secs(arg("--deadline-secs").unwrap_or(900)),
        }],
        None => vec![
            Scenario {
                orgs: 1,
                repos: 300,
                users: 50,
                deadline: Duration::from_secs(900),
            },
            Scenario {
                orgs: 8,
                repos: 300,
                users: 50,
                deadline: Duration::from_secs(1800),
            },
        ],
    };
    let binary = std::env::var("COLD_START_EXPORTER")
        .unwrap_or_else(|_| common::exporter_bin().display().to_string());
    println!("exporter: {binary}");
    for s in scenarios {
        run(&binary, &s);
    }
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn run(binary: &str, s: &Scenario) {
    let fake = FakeGithub::spawn(FakeConfig {
        seed: 11,
        orgs: s.orgs,
        repos: s.repos,
        users: s.users,
        workers: 2,
        rate_limit: 1_000_000,
        graphql_rate_limit: 1_000_000,
        ..FakeConfig::default()
    })
    .expect("fake github starts");
    let orgs = fake.org_names();
    // GitHub is warm when a user starts the exporter: build the fake's repository snapshots
    // first, so its own start-up work is not counted as ours.
    let warm = Instant::now();
    let _ = fake.truth(fake.now());
    let warm = warm.elapsed();
    let addr = common::free_addr();
    let mut command = std::process::Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("GITHUB_STATS_") {
            command.env_remove(key);
        }
    }
    command
        .env(
            "GITHUB_STATS_GITHUB__API_BASE_URL",
            format!("{}/", fake.base_url()),
        )
        .env("GITHUB_STATS_GITHUB__TOKEN", "fake-token")
        .env("GITHUB_STATS_GITHUB__ORGS", orgs.join(","))
        .env("GITHUB_STATS_SERVER__LISTEN_ADDR", addr.to_string())
        .env("GITHUB_STATS_SERVER__LOG_LEVEL", "warn")
        .envs(arg("--requests-per-minute").map(|n| {
            (
                "GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE",
                n.to_string(),
            )
        }))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut child = command.spawn().expect("exporter starts");
    let pid = child.id();
    let mut first_activity = None;
    let mut all_truth = None;
    // Equal except series a late push raced (see `PUSH_RACE_METRICS`): the next cycle fixes them.
    let mut all_but_push_race = None;
    let mut series = 0usize;
    let mut rss_at_truth = 0;
    let mut last_problems = Vec::new();
    while started.elapsed() < s.deadline {
        let body = http_get(addr, "/metrics").map(|r| r.1).unwrap_or_default();
        let m = Metrics::parse(&body);
        if first_activity.is_none() && body.lines().any(|l| l.starts_with("gh_activity_")) {
            first_activity = Some(started.elapsed());
        }
        if first_activity.is_some() {
            let mut problems = Vec::new();
            for org in &orgs {
                match m.window_end(org) {
                    None => problems.push(format!("{org}: no cycle served")),
                    Some(at) => problems.extend(
                        diff(&m.activity(org), &truth(&fake, org, at))
                            .into_iter()
                            .map(|p| format!("{org}: {p}")),
                    ),
                }
            }
            if problems.is_empty() {
                all_truth = Some(started.elapsed());
                series = body
                    .lines()
                    .filter(|l| !l.starts_with('#') && !l.is_empty())
                    .count();
                rss_at_truth = rss_kib(pid, "VmRSS:");
                break;
            }
            // A raced push shows as a wrong or extra commit series, never as a missing one.
            let raced =
                push_race_only(&problems) && problems.iter().all(|p| !p.contains(": missing "));
            if all_but_push_race.is_none() && raced {
                all_but_push_race = Some(started.elapsed());
            }
            last_problems = problems;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let peak = rss_kib(pid, "VmHWM:");
    let requests = fake.requests();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let stats = requests
        .by_endpoint
        .iter()
        .filter(|(k, _)| k.contains("stats/contributors"))
        .map(|(_, v)| *v)
        .sum::<u64>();
    let secs = |d: Option<Duration>| {
        d.map_or("never".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    println!(
        "\n{} org(s) × {} repos, {} users (fake defaults: 202 ×{} per repo, secondary limits on)",
        s.orgs,
        s.repos,
        s.users,
        FakeConfig::default().stats_compute_calls
    );
    println!("  first activity series   {}", secs(first_activity));
    println!("  all series = truth      {}", secs(all_truth));
    if all_but_push_race.is_some() {
        println!(
            "  (equal but for a push that raced a cycle: {})",
            secs(all_but_push_race)
        );
    }
    println!(
        "  requests                {} total ({:.2} per repo), {} stats/contributors, REST budget {}, GraphQL points {}",
        requests.total,
        requests.total as f64 / (s.orgs * s.repos) as f64,
        stats,
        requests.budget_consumed,
        requests
            .budget_consumed_by_resource
            .get("graphql")
            .copied()
            .unwrap_or(0)
    );
    println!("  answers by status       {:?}", requests.by_status);
    println!("  series on /metrics      {series}");
    println!(
        "  (fake snapshots warmed in {:.1} s before the exporter started)",
        warm.as_secs_f64()
    );
    println!(
        "  resident memory         {:.1} MB at truth, {:.1} MB peak",
        rss_at_truth as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    if all_truth.is_none() {
        println!(
            "  not equal to the truth by the deadline; {} differences, first: {:?}",
            last_problems.len(),
            &last_problems[..last_problems.len().min(5)]
        );
    }
}
