//! Hostile or broken input from GitHub (or a proxy in front of it) and from HTTP clients: an
//! endless response body, a listing whose `next` link never ends, a `next` link to another
//! origin, and 500 client connections that never finish their headers. Each test first proves the fault was served (the fake's
//! fault counters, the open connections), then that the call failed clearly and the exporter
//! kept serving. Peak memory and probe latency under the same faults are measured by
//! `benches/hostile_input.rs`, not asserted here.

mod scrape_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use github_stats_exporter::github::auth::Credential;
use github_stats_exporter::github::client::{Client, ResponseLimits, RetrySettings};
use github_stats_exporter::github::governor::{Governor, RateLimitSettings};
use github_stats_exporter::github::wire;
use gse_actors::scrape::port::ApiErrorKind;
use scrape_support::*;
use url::Url;

const DEADLINE: Duration = Duration::from_secs(60);

/// A client of the fake for `org`, with `limits`; the request timeout is long enough that
/// only the limits can end an endless answer quickly.
fn client(fake: &fake_github::FakeGithub, org: &str, limits: ResponseLimits) -> Client {
    let http = github_stats_exporter::github::http_client(Duration::from_secs(5), "test")
        .expect("http client");
    let base = Url::parse(&format!("{}/", fake.base_url())).expect("base url");
    Client::new(
        http,
        base,
        org.to_string(),
        Arc::new(Credential::Token("fake-token".to_string().into())),
        Arc::new(Governor::new(RateLimitSettings {
            min_remaining_threshold: 0,
            min_reset_buffer: Duration::from_secs(1),
            secondary_limit_backoff: Duration::from_secs(1),
            requests_per_minute: 0,
        })),
        RetrySettings {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            jitter: false,
        },
    )
    .with_limits(limits)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// An endless body fails that call as soon as it passes `max_response_bytes`, with the limit
/// and the endpoint in the error, and is not retried.
#[test]
fn endless_body_fails_the_call_with_the_limit() {
    let fake = fake(1, 3, 5, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    inject(
        &fake,
        r#"{"path_regex": "^/orgs/[^/]+/repos$", "body": "endless"}"#,
    );
    let limits = ResponseLimits {
        max_response_bytes: 256 * 1024,
        ..ResponseLimits::default()
    };
    let c = client(&fake, &org, limits);
    let url = c.url(&format!("orgs/{org}/repos"), &[]).expect("url");
    let result = runtime().block_on(async {
        tokio::time::timeout(
            DEADLINE,
            c.paginate_cached::<Vec<wire::Repo>>("GET /orgs/{org}/repos", url, "core", |_| {}),
        )
        .await
        .expect("the call ends before the deadline")
    });
    let served = fake.faults_served();
    assert_eq!(served.get("endless"), Some(&1), "served once, not retried");
    let error = result.expect_err("an endless body is an error");
    assert_eq!(error.kind, ApiErrorKind::Decode);
    assert_eq!(error.endpoint, "GET /orgs/{org}/repos");
    assert!(
        error
            .to_string()
            .contains("github.max_response_bytes (262144 bytes)"),
        "{error}"
    );
    // The next call (the fault cleared) succeeds: the client is not left broken.
    http_send(fake.addr(), "DELETE", "/_fake/faults", None);
    let url = c.url(&format!("orgs/{org}/repos"), &[]).expect("url");
    let mut repos = 0;
    runtime()
        .block_on(
            c.paginate_cached::<Vec<wire::Repo>>("GET /orgs/{org}/repos", url, "core", |p| {
                repos += p.len()
            }),
        )
        .expect("the listing works again");
    assert_eq!(repos, 3);
}

/// A listing whose `next` never ends fails after `max_pages_per_listing` pages, with the limit
/// and the endpoint in the error.
#[test]
fn endless_pagination_fails_the_listing_with_the_limit() {
    let fake = fake(1, 3, 5, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    inject(
        &fake,
        r#"{"path_regex": "^/orgs/[^/]+/repos$", "body": "endless_pages"}"#,
    );
    let limits = ResponseLimits {
        max_pages_per_listing: 7,
        ..ResponseLimits::default()
    };
    let c = client(&fake, &org, limits);
    let url = c.url(&format!("orgs/{org}/repos"), &[]).expect("url");
    let result = runtime().block_on(async {
        tokio::time::timeout(
            DEADLINE,
            c.paginate::<Vec<wire::Repo>>("GET /orgs/{org}/repos", url, "core", |_| true),
        )
        .await
        .expect("the listing ends before the deadline")
    });
    assert_eq!(fake.faults_served().get("endless_pages"), Some(&7));
    let error = result.expect_err("an endless listing is an error");
    assert_eq!(error.kind, ApiErrorKind::Decode);
    assert!(
        error
            .to_string()
            .contains("GET /orgs/{org}/repos failed (Decode): listing exceeds github.max_pages_per_listing (7 pages)"),
        "{error}"
    );
}

/// Log lines written while a test runs (a `tracing` writer).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// A `next` link to another origin is not followed (the token stays home) and the cut listing
/// is logged at warn with the org and the endpoint, instead of silently undercounting.
#[test]
fn next_link_to_another_origin_is_logged_not_followed() {
    // A one-shot GitHub whose only page links to another host.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).map(|n| n == 1).unwrap_or(false)
        {
            head.push(byte[0]);
        }
        let body = r#"[{"name": "only", "archived": false, "fork": false}]"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             link: <http://elsewhere.example/orgs/acme/repos?page=2>; rel=\"next\"\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(answer.as_bytes()).expect("answer");
        String::from_utf8_lossy(&head).into_owned()
    });
    let http = github_stats_exporter::github::http_client(Duration::from_secs(5), "test")
        .expect("http client");
    let c = Client::new(
        http,
        Url::parse(&format!("http://{addr}/")).expect("base"),
        "acme".to_string(),
        Arc::new(Credential::Token("fake-token".to_string().into())),
        Arc::new(Governor::new(RateLimitSettings {
            min_remaining_threshold: 0,
            min_reset_buffer: Duration::from_secs(1),
            secondary_limit_backoff: Duration::from_secs(1),
            requests_per_minute: 0,
        })),
        RetrySettings {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            jitter: false,
        },
    );
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let url = c.url("orgs/acme/repos", &[]).expect("url");
    let mut names = Vec::new();
    let result = tracing::subscriber::with_default(subscriber, || {
        runtime().block_on(async {
            tokio::time::timeout(
                DEADLINE,
                c.paginate::<Vec<wire::Repo>>("GET /orgs/{org}/repos", url, "core", |page| {
                    names.extend(page.into_iter().map(|r| r.name));
                    true
                }),
            )
            .await
            .expect("the listing ends before the deadline")
        })
    });
    let request = server.join().expect("server thread");
    assert!(request.starts_with("GET /orgs/acme/repos"), "{request}");
    result.expect("the first page is served");
    assert_eq!(names, ["only"], "the foreign next page is not followed");
    let text =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(text.contains("another origin"), "logged: {text}");
    assert!(text.contains("acme"), "names the org: {text}");
    assert!(
        text.contains("GET /orgs/{org}/repos"),
        "names the endpoint: {text}"
    );
    assert!(
        text.contains("http://elsewhere.example"),
        "names the origin: {text}"
    );
    assert!(!text.contains("fake-token"), "no token in logs: {text}");
}

/// The whole exporter against both faults at once (one org each): each org's cycles end
/// (failure: no repository list; partial: no commits) and the exporter keeps answering.
#[test]
fn exporter_keeps_serving_through_endless_answers() {
    let fake = fake(2, 3, 5, |c| c.secondary.burst_max = 0);
    let orgs = fake.org_names();
    let (paged, streamed) = (&orgs[0], &orgs[1]);
    inject(
        &fake,
        &format!(r#"{{"path_regex": "^/orgs/{paged}/repos$", "body": "endless_pages"}}"#),
    );
    inject(
        &fake,
        &format!(r#"{{"path_regex": "^/repos/{streamed}/[^/]+/commits$", "body": "endless"}}"#),
    );
    let env = env_for(
        &fake,
        &[
            ("GITHUB_STATS_GITHUB__MAX_RESPONSE_BYTES", "65536"),
            ("GITHUB_STATS_GITHUB__MAX_PAGES_PER_LISTING", "5"),
            ("GITHUB_STATS_GITHUB__REQUEST_TIMEOUT", "5m"),
            ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "2"),
        ],
    );
    let exporter = Exporter::start(fake.clone(), env);
    let result = |m: &Metrics, org: &str, result: &str| {
        m.get(
            "gh_exporter_scrape_runs_total",
            &[("org", org), ("result", result)],
        )
        .unwrap_or(0.0)
    };
    wait_for(&exporter, "both orgs end a cycle", DEADLINE, |m| {
        assert_eq!(
            exporter.get("/livez").map(|r| r.0),
            Some(200),
            "livez answers"
        );
        result(m, paged, "failure") >= 1.0 && result(m, streamed, "partial") >= 1.0
    });
    let served = fake.faults_served();
    assert!(
        served.get("endless").copied().unwrap_or(0) >= 1,
        "{served:?}"
    );
    assert!(
        served.get("endless_pages").copied().unwrap_or(0) >= 5,
        "{served:?}"
    );
    exporter.stop();
}

/// `/livez` still answers while 500 client connections sit open without finishing their
/// headers (a slowloris): the server closes them after its header timeout (408) and serves
/// probes meanwhile. (Today's server already did; this guards it.)
#[test]
fn livez_answers_while_500_idle_connections_are_open() {
    let fake = fake(1, 2, 3, |c| c.secondary.burst_max = 0);
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    wait_for(&exporter, "the exporter serves", DEADLINE, |_| true);
    let mut idle = Vec::new();
    for _ in 0..500 {
        let Ok(mut s) = TcpStream::connect_timeout(&exporter.addr, Duration::from_secs(2)) else {
            continue;
        };
        // The request line and one header, never the blank line that ends the headers.
        if s.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n").is_ok() {
            idle.push(s);
        }
    }
    assert_eq!(idle.len(), 500, "the idle connections are open");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if exporter.get("/livez").map(|r| r.0) == Some(200) {
            break;
        }
        assert!(
            Instant::now() < until,
            "livez does not answer with 500 idle connections open"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(idle);
    exporter.stop();
}
