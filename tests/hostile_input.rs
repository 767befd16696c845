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
    github_client(fake, org, limits)
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
    assert_eq!(error.kind, ApiErrorKind::Incomplete);
    assert!(
        error
            .to_string()
            .contains("GET /orgs/{org}/repos failed (Incomplete): listing exceeds github.max_pages_per_listing (7 pages)"),
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

/// A `next` link to another origin is not followed (the token stays home), and the listing
/// fails as incomplete — nothing is computed from its first page — logged at warn with the
/// org, the endpoint and both origins, instead of silently undercounting.
#[test]
fn next_link_to_another_origin_fails_the_listing_and_is_logged() {
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
    let error = result.expect_err("a listing that continues elsewhere is an error");
    assert_eq!(error.kind, ApiErrorKind::Incomplete, "{error}");
    assert!(
        error.to_string().contains("http://elsewhere.example"),
        "{error}"
    );
    assert!(
        names.is_empty(),
        "nothing is handed on from a cut listing: {names:?}"
    );
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

/// The server's header timeout (actix `client_request_timeout`, `HttpLimits::default()` in
/// src/http/mod.rs): a connection that has not finished its headers by then gets a 408 and is
/// closed.
const SERVER_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `/livez` may take to answer while the idle connections are open. Clearly below
/// [`SERVER_HEADER_TIMEOUT`]: a server that could serve nothing until the header timeout freed
/// its connections would answer only after it, so a bound at or above it would let that
/// server pass. The idle connections are also all opened within this bound, so every one of
/// them is still open (checked) when the probe must have answered.
const LIVEZ_BOUND: Duration = Duration::from_secs(2);

/// `GET path` with every wait (connect, write, read) ending at `deadline`; `None` if the
/// answer is not complete by then.
fn get_before(addr: std::net::SocketAddr, path: &str, deadline: Instant) -> Option<u16> {
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    let mut s = TcpStream::connect_timeout(&addr, left()?).ok()?;
    s.set_write_timeout(Some(left()?)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        s.set_read_timeout(Some(left()?)).ok()?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
    let text = String::from_utf8_lossy(&raw);
    text.lines().next()?.split_whitespace().nth(1)?.parse().ok()
}

/// Whether the server has neither answered nor closed `s` (a read would block).
fn still_open_and_silent(s: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    s.set_nonblocking(true).expect("nonblocking");
    let open = matches!(s.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).expect("blocking");
    open
}

/// `/livez` still answers while 500 client connections sit open without finishing their
/// headers (a slowloris), within [`LIVEZ_BOUND`] — well before the server's header timeout
/// could have freed anything — and every idle connection is still open when it has answered.
/// Afterwards the server closes them at its header timeout (408). (Today's server already
/// did; this guards it.)
///
/// Fails if the server stops accepting or serving while connections wait for their headers
/// (e.g. a connection limit or a worker blocked per connection), even if the header timeout
/// would eventually unblock it; and if idle connections are never closed.
#[test]
fn livez_answers_while_500_idle_connections_are_open() {
    let fake = fake(1, 2, 3, |c| c.secondary.burst_max = 0);
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    wait_for(&exporter, "the exporter serves", DEADLINE, |_| true);
    // All 500 must be open within LIVEZ_BOUND, so that none can reach the header timeout
    // before the probe's deadline. On a loaded machine the accept loop can lag (a full backlog
    // delays a connect by a SYN retry, or past the connect timeout): then the measurement is
    // void and is taken again, up to three times.
    let mut attempt = 0;
    let (mut idle, first_opened) = loop {
        attempt += 1;
        let mut idle = Vec::new();
        let first_opened = Instant::now();
        for _ in 0..500 {
            let Ok(mut s) = TcpStream::connect_timeout(&exporter.addr, Duration::from_secs(2))
            else {
                continue;
            };
            // The request line and one header, never the blank line that ends the headers.
            if s.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n").is_ok() {
                idle.push(s);
            }
        }
        let (opened, opening) = (idle.len(), first_opened.elapsed());
        if opened == 500 && opening < LIVEZ_BOUND {
            break (idle, first_opened);
        }
        assert!(
            attempt < 3,
            "opened {opened} of 500 idle connections in {opening:?} (attempt {attempt}): all must be open, and the first ones must not reach the server's {SERVER_HEADER_TIMEOUT:?} header timeout before the probe's bound"
        );
        eprintln!("opened {opened} of 500 idle connections in {opening:?}; again");
        drop(idle);
        std::thread::sleep(Duration::from_millis(500));
    };

    let probing = Instant::now();
    let deadline = probing + LIVEZ_BOUND;
    let answered = loop {
        if get_before(exporter.addr, "/livez", deadline) == Some(200) {
            break probing.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "livez did not answer within {LIVEZ_BOUND:?} with 500 idle connections open"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Less than `opening + answered` < 2 × LIVEZ_BOUND < SERVER_HEADER_TIMEOUT since the first
    // idle connection: none of them may have been closed yet, by the timeout or otherwise.
    let closed = idle.iter().filter(|s| !still_open_and_silent(s)).count();
    assert_eq!(
        closed,
        0,
        "idle connections answered or closed before the header timeout ({:?} after the first opened)",
        first_opened.elapsed()
    );
    eprintln!("livez answered after {answered:?} with 500 idle connections open");

    // The header timeout then closes them, with a 408.
    let until = first_opened + SERVER_HEADER_TIMEOUT + Duration::from_secs(10);
    for s in &mut idle {
        let left = until
            .checked_duration_since(Instant::now())
            .unwrap_or(Duration::from_millis(1));
        s.set_read_timeout(Some(left)).expect("read timeout");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "an idle connection is answered 408 and closed at the header timeout: {answer:?}"
        );
    }
    drop(idle);
    exporter.stop();
}
