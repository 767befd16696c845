//! Authentication and URL rules: GitHub App auth (JWT → installation token, discovered
//! installation, expiry → refresh) and a GHES base URL whose `/api/v3` prefix every call —
//! token exchange included — must carry.

mod scrape_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_github::AppAuth;
use scrape_support::*;

const APP_ID: u64 = 4242;

fn testdata(name: &str) -> String {
    format!("{}/fake-github/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn app_fake(ttl_secs: u32) -> Arc<fake_github::FakeGithub> {
    let public = std::fs::read_to_string(testdata("app_public_key.pem")).expect("test key");
    fake(2, 5, 6, |c| {
        c.secondary.burst_max = 0;
        c.app = Some(AppAuth {
            app_id: APP_ID,
            public_key_pem: public,
        });
        c.installation_token_ttl_secs = ttl_secs;
        c.token = String::new();
    })
}

fn app_env(fake: &fake_github::FakeGithub, base: &str) -> Vec<(String, String)> {
    let mut env = env_for(
        fake,
        &[
            ("GITHUB_STATS_GITHUB__API_BASE_URL", base),
            ("GITHUB_STATS_GITHUB__APP_ID", &APP_ID.to_string()),
            (
                "GITHUB_STATS_GITHUB__PRIVATE_KEY_PATH",
                &testdata("app_private_key.pem"),
            ),
        ],
    );
    env.retain(|(k, _)| k != "GITHUB_STATS_GITHUB__TOKEN");
    env
}

/// App auth discovers each org's installation, exchanges JWTs for installation tokens, and
/// refreshes them as they expire; values equal the truth throughout.
#[test]
fn app_auth_exchanges_and_refreshes_installation_tokens() {
    let fake = app_fake(4);
    let exporter = Exporter::start(
        fake.clone(),
        app_env(&fake, &format!("{}/", fake.base_url())),
    );
    assert_matches_truth(&exporter, &fake, fake.now());
    let orgs = fake.org_names().len() as u64;
    assert_eq!(
        requests_to(&fake, "GET /orgs/{org}/installation"),
        orgs,
        "installation discovered once per org"
    );
    let first = requests_to(
        &fake,
        "POST /app/installations/{installation_id}/access_tokens",
    );
    assert!(first >= orgs);
    // Tokens live 4 s: later cycles need fresh ones.
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let later = loop {
        let later = requests_to(
            &fake,
            "POST /app/installations/{installation_id}/access_tokens",
        );
        if later > first {
            break later;
        }
        assert!(
            std::time::Instant::now() < until,
            "expired tokens were never refreshed ({first} tokens)"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(later > first);
    assert_matches_truth(&exporter, &fake, fake.now());
    let unauthorized = fake.requests().by_status.get("401").copied().unwrap_or(0);
    assert!(
        unauthorized <= 2 * orgs,
        "refresh happens before expiry, not after failures ({unauthorized} 401s)"
    );
    exporter.stop();
}

/// With a GHES base URL every REST request, token exchange and installation discovery
/// included, goes under `/api/v3`, GraphQL goes to GHES' `/api/graphql` (a proxy rejects
/// anything else), and values equal the truth.
#[test]
fn ghes_prefix_is_used_for_every_call() {
    let fake = app_fake(3600);
    let proxy = PrefixProxy::start(fake.addr(), &["/api/v3/", "/api/graphql"]);
    let base = format!("http://{}/api/v3/", proxy.addr);
    let exporter = Exporter::start(fake.clone(), app_env(&fake, &base));
    assert_matches_truth(&exporter, &fake, fake.now());
    let seen = proxy.paths.lock().unwrap().clone();
    assert!(
        seen.iter().any(|p| p.contains("/app/installations/")),
        "token exchange went through the prefix"
    );
    assert!(
        seen.iter().any(|p| p == "/api/graphql"),
        "the org search went to GHES' GraphQL endpoint: {seen:?}"
    );
    let rejected = proxy.rejected.lock().unwrap().clone();
    assert!(
        rejected.is_empty(),
        "requests outside the GHES prefix: {rejected:?}"
    );
    exporter.stop();
}

/// A forwarding proxy that only accepts paths under one of `prefixes` (anything else gets 404
/// and is recorded). One upstream connection per request; enough for tests.
struct PrefixProxy {
    addr: SocketAddr,
    paths: Arc<Mutex<Vec<String>>>,
    rejected: Arc<Mutex<Vec<String>>>,
}

impl PrefixProxy {
    fn start(upstream: SocketAddr, prefixes: &'static [&'static str]) -> PrefixProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let paths = Arc::new(Mutex::new(Vec::new()));
        let rejected = Arc::new(Mutex::new(Vec::new()));
        let (p, r) = (paths.clone(), rejected.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (p, r) = (p.clone(), r.clone());
                std::thread::spawn(move || serve(conn, upstream, prefixes, &p, &r));
            }
        });
        PrefixProxy {
            addr,
            paths,
            rejected,
        }
    }
}

fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    prefixes: &[&str],
    paths: &Mutex<Vec<String>>,
    rejected: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(client.try_clone().expect("clone"));
    let mut client = client;
    loop {
        let mut head = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("connection:") {
                continue;
            }
            head.push(line);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = head
            .first()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string();
        if !prefixes.iter().any(|prefix| path.starts_with(prefix)) {
            rejected.lock().unwrap().push(path);
            let _ = client.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
            continue;
        }
        paths.lock().unwrap().push(path);
        let Ok(mut up) = TcpStream::connect(upstream) else {
            return;
        };
        let mut request: Vec<u8> = head.concat().into_bytes();
        request.extend_from_slice(b"Connection: close\r\n\r\n");
        request.extend_from_slice(&body);
        if up.write_all(&request).is_err() {
            return;
        }
        let mut response = Vec::new();
        let _ = up.read_to_end(&mut response);
        // The upstream closed after one response; tell the client to reconnect likewise.
        let text = String::from_utf8_lossy(&response);
        let Some(split) = text.find("\r\n\r\n") else {
            return;
        };
        let mut out = Vec::new();
        for line in text[..split].split("\r\n") {
            if !line.to_ascii_lowercase().starts_with("connection:") {
                out.extend_from_slice(line.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out.extend_from_slice(&response[split + 4..]);
        let _ = client.write_all(&out);
        return;
    }
}
