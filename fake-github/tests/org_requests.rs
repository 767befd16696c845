//! The org request log over real HTTP: GraphQL requests (both paths) are logged once per org
//! they name, from literals, variables and search qualifiers, at arrival with the fake clock and
//! the `User-Agent`, next to REST's org-scoped requests; requests that do not parse log nothing;
//! `GET /_fake/org_requests?since=` serves the log.

mod common;

use common::*;
use fake_github::counters::OrgRequest;
use serde_json::{json, Value};

/// POSTs a GraphQL body with the PAT and a `User-Agent`; the HTTP status.
async fn post_graphql(c: &reqwest::Client, url: &str, ua: &str, body: &Value) -> u16 {
    c.post(url)
        .header("authorization", format!("bearer {TOKEN}"))
        .header("user-agent", ua)
        .json(body)
        .send()
        .await
        .expect("request reaches the fake")
        .status()
        .as_u16()
}

/// The log entries after the first `skip`, as (org, endpoint, user agent).
fn entries(log: &[OrgRequest], skip: usize) -> Vec<(String, String, String)> {
    log[skip..]
        .iter()
        .map(|r| (r.org.clone(), r.endpoint.clone(), r.user_agent.clone()))
        .collect()
}

fn entry(org: &str, endpoint: &str, ua: &str) -> (String, String, String) {
    (org.to_string(), endpoint.to_string(), ua.to_string())
}

const GQL: &str = "POST /graphql";

/// Every way a GraphQL request names an org is logged, once per distinct org per request, at
/// the fake clock's now with the `User-Agent`; `/api/graphql` too, and also requests the fake
/// then refuses (unknown fields, no credentials); unparsable requests log nothing.
#[tokio::test]
async fn graphql_requests_are_logged_once_per_named_org() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let orgs = fake.org_names();
    let (a, b) = (orgs[0].as_str(), orgs[1].as_str());
    let gql = format!("{base}/graphql");

    // Literal owners (twice the same org) and a search string passed as a variable.
    let q = format!(
        r#"query($q: String!) {{
             x: repository(owner: "{a}", name: "nope-1") {{ name }}
             y: repository(owner: "{a}", name: "nope-2") {{ name }}
             search(query: $q, type: ISSUE, first: 5) {{ issueCount }}
           }}"#
    );
    let body = json!({"query": q, "variables": {"q": format!("is:pr org:{b}")}});
    assert_eq!(post_graphql(&c, &gql, "replica-a", &body).await, 200);
    let log = fake.org_requests();
    assert_eq!(
        entries(&log, 0),
        [entry(a, GQL, "replica-a"), entry(b, GQL, "replica-a")]
    );
    assert!(log.iter().all(|r| r.at == NOW), "{log:?}");

    // `organization(login:)` through a variable, on the GHES path; the fake does not serve the
    // field (an `undefinedField` error), but the client asked about the org.
    let seen = log.len();
    let body = json!({
        "query": "query($login: String!) { organization(login: $login) { login } }",
        "variables": {"login": b},
    });
    assert_eq!(
        post_graphql(&c, &format!("{base}/api/graphql"), "replica-b", &body).await,
        200
    );
    // `user(login:)` and a search literal with `repo:` and `user:` qualifiers.
    let q = format!(
        r#"{{ user(login:"{a}") {{ login }}
              search(query: "repo:{b}/r1 user:{a} is:issue", type: ISSUE, first: 1) {{ issueCount }} }}"#
    );
    assert_eq!(
        post_graphql(&c, &gql, "replica-b", &json!({ "query": q })).await,
        200
    );
    let log = fake.org_requests();
    assert_eq!(
        entries(&log, seen),
        [
            entry(b, GQL, "replica-b"),
            entry(a, GQL, "replica-b"),
            entry(b, GQL, "replica-b"),
        ]
    );

    // Logged at arrival, like REST: before auth refuses the request.
    let seen = log.len();
    let r = c
        .post(&gql)
        .header("user-agent", "anonymous")
        .json(
            &json!({"query": format!("{{ repository(owner: \"{a}\", name: \"r\") {{ name }} }}")}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    // REST and GraphQL entries interleave in arrival order.
    let r = c
        .get(format!("{base}/orgs/{b}/repos"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("user-agent", "replica-a")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let log = fake.org_requests();
    assert_eq!(
        entries(&log, seen),
        [
            entry(a, GQL, "anonymous"),
            entry(b, "GET /orgs/{org}/repos", "replica-a"),
        ]
    );

    // Requests that do not parse, or name no org, log nothing.
    let seen = log.len();
    for body in [
        json!({"query": format!("{{ repository(owner: \"{a}\", name: \"r\") {{ name }}")}),
        json!({"variables": {"owner": a}}),
        json!({"query": "{ rateLimit { cost } }"}),
    ] {
        post_graphql(&c, &gql, "replica-a", &body).await;
    }
    let r = c
        .post(&gql)
        .header("authorization", format!("bearer {TOKEN}"))
        .body(format!("repository(owner: \"{a}\")"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert_eq!(fake.org_requests().len(), seen);
}

/// `GET /_fake/org_requests` lists the log oldest first as `{at, org, endpoint, user_agent}`,
/// `since` keeps `at >= since`, a malformed `since` is a 400 with a JSON error, and
/// `DELETE /_fake/requests` empties it.
#[tokio::test]
async fn control_api_serves_the_log_since_an_instant() {
    let fake = spawn(config());
    let (base, c) = (fake.base_url(), client());
    let orgs = fake.org_names();
    let (a, b) = (orgs[0].as_str(), orgs[1].as_str());
    let rest = |org: &str| {
        c.get(format!("{base}/orgs/{org}/repos"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("user-agent", "rest-client")
            .send()
    };
    assert_eq!(rest(a).await.expect("send").status(), 200);
    fake.advance_clock(100.0);
    let body =
        json!({"query": format!("{{ repository(owner: \"{b}\", name: \"r\") {{ name }} }}")});
    assert_eq!(
        post_graphql(&c, &format!("{base}/graphql"), "gql-client", &body).await,
        200
    );
    fake.advance_clock(100.0);
    assert_eq!(rest(b).await.expect("send").status(), 200);

    let list = |query: String| {
        let c = c.clone();
        let url = format!("{base}/_fake/org_requests{query}");
        async move {
            let r = c.get(url).send().await.expect("send");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.expect("a JSON body"))
        }
    };
    let (status, all) = list(String::new()).await;
    assert_eq!(status, 200);
    assert_eq!(
        all,
        json!([
            {"at": NOW, "org": a, "endpoint": "GET /orgs/{org}/repos", "user_agent": "rest-client"},
            {"at": NOW + 100.0, "org": b, "endpoint": "POST /graphql", "user_agent": "gql-client"},
            {"at": NOW + 200.0, "org": b, "endpoint": "GET /orgs/{org}/repos", "user_agent": "rest-client"},
        ])
    );
    assert_eq!(
        all,
        serde_json::to_value(fake.org_requests()).expect("json")
    );

    let ats = |v: &Value| -> Vec<f64> {
        v.as_array()
            .expect("an array")
            .iter()
            .map(|e| e["at"].as_f64().expect("at"))
            .collect()
    };
    for (since, want) in [
        (NOW + 100.0, vec![NOW + 100.0, NOW + 200.0]),
        (NOW + 100.25, vec![NOW + 200.0]),
        (NOW - 1e6, vec![NOW, NOW + 100.0, NOW + 200.0]),
        (NOW + 1e6, vec![]),
    ] {
        let (status, got) = list(format!("?since={since}")).await;
        assert_eq!(status, 200);
        assert_eq!(ats(&got), want, "since={since}");
        assert_eq!(
            got,
            serde_json::to_value(fake.org_requests_since(since)).expect("json")
        );
    }
    for bad in ["abc", "", "NaN", "inf", "1e999"] {
        let (status, body) = list(format!("?since={bad}")).await;
        assert_eq!(status, 400, "since={bad}");
        assert!(body["message"].is_string(), "{body}");
    }
    let r = c
        .post(format!("{base}/_fake/org_requests"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 405);

    let r = c
        .delete(format!("{base}/_fake/requests"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(list(String::new()).await, (200, json!([])));
}
