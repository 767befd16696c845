//! A real OpenTelemetry Collector per test: the binary that `scripts/otelcol-testbed build`
//! caches (`OTELCOL_BIN`, else the cache path the script uses), an OTLP/HTTP receiver on a free
//! loopback port and a file exporter into a temporary directory; plus a reader of the spans it
//! wrote. A missing binary fails the test with the command that builds it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cached collector binary.
pub fn collector_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("OTELCOL_BIN") {
        return PathBuf::from(bin);
    }
    let go_mod = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/otelcol-testbed.d/go.mod"
    );
    let version = std::fs::read_to_string(go_mod)
        .ok()
        .and_then(|text| {
            text.lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix("go.opentelemetry.io/collector/otelcol "))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("cannot read the collector version from {go_mod}"));
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    cache.join("gse-otelcol").join(version).join("otelcol")
}

/// A running collector, stopped on drop.
pub struct Collector {
    child: Option<Child>,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Collector {
    /// Starts a collector and waits (30 s at most) until its OTLP/HTTP port accepts.
    pub fn start() -> Collector {
        let bin = collector_bin();
        assert!(
            bin.is_file(),
            "no OpenTelemetry Collector at {} (OTELCOL_BIN): build it with `scripts/otelcol-testbed build`",
            bin.display()
        );
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("spans.json");
        let config = dir.path().join("config.yaml");
        std::fs::write(
            &config,
            format!(
                "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: {addr}\n\
                 exporters:\n  file:\n    path: {}\n    flush_interval: 100ms\n\
                 service:\n  telemetry:\n    metrics:\n      level: none\n\
                 \x20 pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n",
                out.display()
            ),
        )
        .expect("write the collector config");
        let log = std::fs::File::create(dir.path().join("collector.log")).expect("log file");
        let child = Command::new(&bin)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut collector = Collector {
            child: Some(child),
            addr,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let exited = collector
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "the collector did not listen on {addr} within 30 s; its log:\n{}",
                collector.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        collector
    }

    /// The OTLP/HTTP base endpoint (the exporter appends `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("collector.log")).unwrap_or_default()
    }

    /// Stops the collector (SIGTERM: it flushes the file) and returns the file's text.
    pub fn finish(mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the collector did not stop within 15 s");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        std::fs::read_to_string(self.dir.path().join("spans.json")).unwrap_or_default()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One exported span, as the file exporter wrote it (OTLP JSON).
#[derive(Debug, Clone)]
pub struct SpanRec {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root.
    pub parent: String,
    pub attrs: BTreeMap<String, String>,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    pub status: i64,
    pub service: String,
}

impl SpanRec {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }
}

/// Every span of the file exporter's output (one JSON document per line).
pub fn parse_spans(text: &str) -> Vec<SpanRec> {
    let mut spans = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let doc: serde_json::Value = serde_json::from_str(line).expect("collector output is JSON");
        for rs in doc["resourceSpans"].as_array().into_iter().flatten() {
            let service = attrs_of(&rs["resource"]["attributes"])
                .remove("service.name")
                .unwrap_or_default();
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
                    spans.push(SpanRec {
                        name: text("name"),
                        trace_id: text("traceId"),
                        span_id: text("spanId"),
                        parent: text("parentSpanId"),
                        attrs: attrs_of(&s["attributes"]),
                        status: s["status"]["code"].as_i64().unwrap_or(0),
                        service: service.clone(),
                    });
                }
            }
        }
    }
    spans
}

/// OTLP JSON attributes as text (`intValue`s are strings in OTLP JSON).
fn attrs_of(list: &serde_json::Value) -> BTreeMap<String, String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let key = kv["key"].as_str()?.to_string();
            let v = &kv["value"];
            let value = ["stringValue", "intValue", "boolValue", "doubleValue"]
                .iter()
                .find_map(|k| v.get(*k))
                .map(|x| match x {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })?;
            Some((key, value))
        })
        .collect()
}
