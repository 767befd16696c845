//! Where the exporter's heap goes at scale: 8 orgs × 300 repositories (about 60,000 series),
//! the exporter running in-process under the `dhat` heap profiler, the fake GitHub in the same
//! process (its allocations are attributed to `fake_github` frames and listed apart).
//!
//! Once every org serves series equal to the truth (LOC included), the profile is taken: the
//! live heap then, grouped by the first exporter module (from the allocation point up) on the
//! allocating stack, largest first. The full profile is written to
//! `target/dhat-exporter.json` (open it with dhat's viewer, `dh_view.html`).
//!
//! `cargo bench --profile dev --bench memory_profile` (memory store): the dev profile keeps the
//! symbols the breakdown needs (release strips them). `-- --store redis` puts the series in
//! Redis (127.0.0.1:6379, a fresh namespace) as replicas do. `-- --orgs N --repos N` to vary.
//! Pacing is off and the fake's limits are raised: this measures memory, not time.

#[path = "../tests/scrape_support/mod.rs"]
mod scrape_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fake_github::{FakeConfig, FakeGithub};
use scrape_support::{env_for, wait_for_truth, Exporter};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() {
    let orgs: usize = arg("--orgs").and_then(|v| v.parse().ok()).unwrap_or(8);
    let repos: usize = arg("--repos").and_then(|v| v.parse().ok()).unwrap_or(300);
    let store = arg("--store").unwrap_or_else(|| "memory".into());
    let mut config = FakeConfig {
        seed: 11,
        orgs,
        repos,
        users: 50,
        workers: 2,
        rate_limit: 10_000_000,
        graphql_rate_limit: 10_000_000,
        search_rate_limit: 1_000_000,
        stats_compute_calls: 2,
        ..FakeConfig::default()
    };
    config.secondary.burst_max = 0;
    let fake = Arc::new(FakeGithub::spawn(config).expect("fake github starts"));
    let mut extra: Vec<(String, String)> = vec![
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL".into(), "1h".into()),
        (
            "GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE".into(),
            "0".into(),
        ),
        ("GITHUB_STATS_SERVER__LOG_LEVEL".into(), "warn".into()),
    ];
    if store == "redis" {
        let ns = format!("gse-memprof-{}", std::process::id());
        extra.push((
            "GITHUB_STATS_STORE__REDIS_URL".into(),
            "redis://127.0.0.1:6379".into(),
        ));
        extra.push(("GITHUB_STATS_STORE__NAMESPACE".into(), ns));
    }
    let extra_ref: Vec<(&str, &str)> = extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let env = env_for(&fake, &extra_ref);

    let profiler = dhat::Profiler::builder()
        .file_name("target/dhat-exporter.json")
        .build();
    let started = std::time::Instant::now();
    let exporter = Exporter::start(fake.clone(), env);
    let metrics = wait_for_truth(&exporter, &fake, 0.0, Duration::from_secs(1200));
    let series = metrics.0.len();
    let took = started.elapsed();
    // Let the store render and the allocator settle after the last batch.
    std::thread::sleep(Duration::from_secs(2));
    let stats = dhat::HeapStats::get();
    drop(profiler);
    println!(
        "{orgs} orgs × {repos} repos, {store} store: {series} series on /metrics, truth after {:.1} s",
        took.as_secs_f64()
    );
    println!(
        "live heap {:.1} MB in {} blocks (peak {:.1} MB); process RSS {:.1} MB",
        stats.curr_bytes as f64 / 1e6,
        stats.curr_blocks,
        stats.max_bytes as f64 / 1e6,
        rss_kib() as f64 / 1024.0
    );
    breakdown("target/dhat-exporter.json");
    exporter.stop();
    if store == "redis" {
        let ns = format!("gse-memprof-{}", std::process::id());
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "redis-cli --scan --pattern '{ns}*' | xargs -r redis-cli del > /dev/null"
            ))
            .status();
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Groups the live bytes at the profile's end by the first frame of our crates (module path).
fn breakdown(path: &str) {
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("no profile at {path}");
        return;
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        println!("profile at {path} is not JSON");
        return;
    };
    let frames: Vec<&str> = json["ftbl"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f.as_str()).collect())
        .unwrap_or_default();
    let mut by_module: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for pp in json["pps"].as_array().into_iter().flatten() {
        let bytes = pp["eb"].as_u64().unwrap_or(0);
        let blocks = pp["ebk"].as_u64().unwrap_or(0);
        if bytes == 0 {
            continue;
        }
        let module = pp["fs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_u64().and_then(|i| frames.get(i as usize)))
            .find_map(|f| module_of(f))
            .unwrap_or_else(|| "(outside our crates)".to_string());
        let e = by_module.entry(module).or_default();
        e.0 += bytes;
        e.1 += blocks;
    }
    let mut rows: Vec<_> = by_module.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 .0));
    println!("\nlive heap by allocating module (first frame of our crates):");
    for (module, (bytes, blocks)) in rows.iter().take(25) {
        println!(
            "  {:>9.2} MB {:>9} blocks  {module}",
            *bytes as f64 / 1e6,
            blocks
        );
    }
}

/// `crate::module::submodule` of a frame of ours, e.g. `gse_actors::store`.
fn module_of(frame: &str) -> Option<String> {
    // dhat frames look like "0x1234: path::to::function (file.rs:1:2)".
    let name = frame.split_once(": ").map_or(frame, |(_, n)| n);
    let name = name
        .split(" (")
        .next()
        .unwrap_or(name)
        .trim_start_matches('<');
    let ours = ["github_stats_exporter::", "gse_actors::", "fake_github::"];
    if !ours.iter().any(|p| name.starts_with(p)) {
        return None;
    }
    let parts: Vec<&str> = name.split("::").collect();
    // crate + up to two modules, without the function and generic tails.
    let keep = parts
        .iter()
        .take(3)
        .take_while(|p| p.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .copied()
        .collect::<Vec<_>>();
    Some(keep.join("::"))
}
