//! Benchmark of the shared metric store and `/metrics` (issue 5), run with
//! `cargo bench --bench store` (needs Redis at 127.0.0.1:6379, `wrk` and `nginx`).
//!
//! For 12k, 60k and 250k series (8 activity families, 10 orgs): cold render time of both
//! formats, gzip time, bytes per series, Redis write time of the batch (one org batch holding
//! every series), then a real release exporter process serving that data: its RSS, and cached
//! `/metrics` throughput and p50/p99 latency under `wrk -c 8` with gzip accepted, side by side
//! with nginx serving the same gzip bytes as a static file, in the same run.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use github_stats_exporter::store::redis::{RedisSettings, RedisStore};
use gse_actors::exposition::{gzip, render, Format};
use gse_actors::metrics::{activity, assemble};
use gse_actors::ports::{MetricStore, OrgBatch, Sample};
use secrecy::SecretString;

const REDIS: &str = "redis://127.0.0.1:6379";
const ORGS: usize = 10;

fn samples(total: usize) -> Vec<Sample> {
    let per_family = total / activity::FAMILIES.len();
    let mut out = Vec::with_capacity(total);
    for spec in &activity::FAMILIES {
        for i in 0..per_family {
            let org = format!("org-{}", i % ORGS);
            let repo = format!("repository-{:04}", (i / ORGS) % 300);
            let user = format!("user-{:05}", i);
            out.push(Sample {
                metric: spec.name.to_string(),
                labels: vec![
                    ("org".into(), org),
                    ("repo".into(), repo),
                    ("user".into(), user),
                ],
                value: (i % 97) as f64,
            });
        }
    }
    out
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn delete_namespace(namespace: &str) {
    if let Ok(mut conn) = redis::Client::open(REDIS).and_then(|c| c.get_connection()) {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{namespace}:*"))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn http_get(port: u16, path: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    Some(raw)
}

/// Runs wrk and returns (requests/s, p50, p99) as printed.
fn wrk(url: &str) -> (String, String, String) {
    let output = Command::new("wrk")
        .args([
            "-t",
            "2",
            "-c",
            "8",
            "-d",
            "5s",
            "--latency",
            "-H",
            "Accept-Encoding: gzip",
            "-H",
            "Accept: text/plain",
            url,
        ])
        .output()
        .expect("wrk is installed");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let find = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    (find("Requests/sec:"), find("50%"), find("99%"))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects sizes (e.g. `60000`).
    let filter: Option<usize> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    let exporter = Path::new(env!("CARGO_BIN_EXE_github-stats-exporter"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The Redis connection manager spawns its driver task: build stores inside the runtime.
    let _entered = runtime.enter();
    println!("| series | render text | render OpenMetrics | gzip (text) | bytes/series plain | bytes/series gzip | Redis batch write | Redis full load | exporter RSS | exporter req/s | exporter p50 | exporter p99 | nginx req/s | nginx p50 | nginx p99 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for total in [12_000usize, 60_000, 250_000] {
        if filter.is_some_and(|f| f != total) {
            continue;
        }
        let samples = samples(total);
        let families = assemble(samples.iter());
        let runs = if total > 100_000 { 21 } else { 51 };
        let text_time = median(runs, || {
            drop(std::hint::black_box(render(&families, Format::Text004)))
        });
        let om_time = median(runs, || {
            drop(std::hint::black_box(render(
                &families,
                Format::OpenMetrics100,
            )))
        });
        let text = render(&families, Format::Text004);
        let gzip_time = median(11, || drop(std::hint::black_box(gzip(&text))));
        let gz = gzip(&text);

        // Redis: one batch holding all series, written with a fresh generation each time.
        let namespace = format!("gse-bench:{}:{total}", std::process::id());
        let settings = RedisSettings::new(
            SecretString::from(REDIS.to_string()),
            namespace.clone(),
            Duration::from_secs(3600),
            0,
        );
        let store = RedisStore::new(settings.clone()).expect("settings");
        let mut writes = Vec::new();
        for round in 0..7 {
            let batch = OrgBatch {
                org: "all".into(),
                grant: Some(gse_actors::election::Grant::epoch_only(1)),
                shared: Default::default(),
                counter_deltas: Vec::new(),
                samples: samples.clone(),
            };
            let start = Instant::now();
            runtime
                .block_on(store.write_org_batch(batch))
                .expect("write");
            if round > 0 {
                writes.push(start.elapsed());
            }
        }
        writes.sort();
        let write_time = writes[writes.len() / 2];
        let reader = RedisStore::new(settings).expect("settings");
        let start = Instant::now();
        runtime.block_on(reader.load_if_changed(0)).expect("load");
        let load_time = start.elapsed();

        // A release exporter serving this namespace.
        let port = free_port();
        let child = Command::new(exporter)
            .env(
                "GITHUB_STATS_SERVER__LISTEN_ADDR",
                format!("127.0.0.1:{port}"),
            )
            .env("GITHUB_STATS_SERVER__LOG_LEVEL", "warn")
            .env("GITHUB_STATS_GITHUB__ORGS", "org-0")
            .env("GITHUB_STATS_GITHUB__TOKEN", "bench-token")
            .env("GITHUB_STATS_GITHUB__API_BASE_URL", "http://127.0.0.1:9")
            .env("GITHUB_STATS_STORE__REDIS_URL", REDIS)
            .env("GITHUB_STATS_STORE__NAMESPACE", &namespace)
            .env("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", "follower")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn exporter");
        let child = Killed(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let body = http_get(port, "/metrics").unwrap_or_default();
            if body.len() > text.len() / 2 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "exporter did not load the series"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
        let rss = rss_mb(child.0.id());
        let exporter_result = wrk(&format!("http://127.0.0.1:{port}/metrics"));
        drop(child);

        // nginx serving the same gzip bytes as a static file.
        let dir = std::env::temp_dir().join(format!("gse-nginx-{}-{total}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("nginx dir");
        let served = runtime
            .block_on(reader.load_if_changed(0))
            .expect("load")
            .expect("snapshot");
        let served_gz = gzip(&render(&served.families, Format::Text004));
        std::fs::write(dir.join("metrics.gz"), &served_gz).expect("write gzip file");
        let nginx_port = free_port();
        let conf = format!(
            "worker_processes 2;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\ndaemon off;\nevents {{ worker_connections 1024; }}\n\
             http {{\n access_log off;\n client_body_temp_path {dir};\n proxy_temp_path {dir};\n fastcgi_temp_path {dir};\n uwsgi_temp_path {dir};\n scgi_temp_path {dir};\n\
             server {{\n  listen 127.0.0.1:{nginx_port};\n  location = /metrics {{\n   default_type \"text/plain; version=0.0.4; charset=utf-8\";\n   add_header Content-Encoding gzip;\n   alias {dir}/metrics.gz;\n  }}\n }}\n}}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("nginx conf");
        let nginx = Command::new("nginx")
            .args([
                "-c",
                &dir.join("nginx.conf").display().to_string(),
                "-p",
                &dir.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed");
        let nginx = Killed(nginx);
        let deadline = Instant::now() + Duration::from_secs(10);
        while http_get(nginx_port, "/metrics").is_none_or(|b| b.len() < served_gz.len()) {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let nginx_result = wrk(&format!("http://127.0.0.1:{nginx_port}/metrics"));
        drop(nginx);
        let _ = std::fs::remove_dir_all(&dir);
        delete_namespace(&namespace);

        println!(
            "| {total} | {} | {} | {} | {:.1} | {:.1} | {} | {} | {rss:.1} MB | {} | {} | {} | {} | {} | {} |",
            ms(text_time),
            ms(om_time),
            ms(gzip_time),
            text.len() as f64 / total as f64,
            gz.len() as f64 / total as f64,
            ms(write_time),
            ms(load_time),
            exporter_result.0,
            exporter_result.1,
            exporter_result.2,
            nginx_result.0,
            nginx_result.1,
            nginx_result.2,
        );
    }
}
