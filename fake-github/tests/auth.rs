//! App authentication: JWT verification (good, wrong key, expired, wrong issuer) and
//! installation tokens that expire on the fake clock and are scoped to their org.

mod common;

use common::*;
use fake_github::{AppAuth, FakeConfig};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const APP_ID: u64 = 4242;

fn app_config() -> FakeConfig {
    FakeConfig {
        app: Some(AppAuth {
            app_id: APP_ID,
            public_key_pem: include_str!("../testdata/app_public_key.pem").to_string(),
        }),
        ..config()
    }
}

fn jwt(key_pem: &str, iss: Value, iat: f64, exp: f64) -> String {
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("test key parses");
    encode(
        &Header::new(Algorithm::RS256),
        &json!({"iss": iss, "iat": iat as i64, "exp": exp as i64}),
        &key,
    )
    .expect("signs")
}

const GOOD_KEY: &str = include_str!("../testdata/app_private_key.pem");
const OTHER_KEY: &str = include_str!("../testdata/other_private_key.pem");

async fn exchange(
    c: &reqwest::Client,
    base: &str,
    installation: u64,
    jwt: &str,
) -> reqwest::Response {
    c.post(format!(
        "{base}/app/installations/{installation}/access_tokens"
    ))
    .header("authorization", format!("Bearer {jwt}"))
    .send()
    .await
    .expect("request reaches the fake")
}

/// A JWT signed with the App key (numeric or string iss) yields a token that works until
/// `expires_at` on the fake clock, only for its own org.
#[tokio::test]
async fn valid_jwt_yields_expiring_installation_token() {
    let fake = spawn(app_config());
    let base = fake.base_url();
    let c = client();
    let orgs = fake.org_names();
    let t = fake.now();
    let good = jwt(GOOD_KEY, json!(APP_ID), t - 30.0, t + 540.0);

    let r = c
        .get(format!("{base}/orgs/{}/installation", orgs[0]))
        .header("authorization", format!("Bearer {good}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let inst: Value = r.json().await.expect("json");
    let id = inst["id"].as_u64().expect("installation id");
    assert_eq!(Some(id), fake.installation_id(&orgs[0]));
    assert_eq!(inst["app_id"].as_u64(), Some(APP_ID));

    let r = exchange(
        &c,
        &base,
        id,
        &jwt(GOOD_KEY, json!(APP_ID.to_string()), t, t + 600.0),
    )
    .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    let token = body["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("ghs_"));
    assert_eq!(
        body["expires_at"],
        fake_github::timefmt::iso(t.floor() as i64 + 3600)
    );

    let get_with = |url: String| {
        let (c, token) = (c.clone(), token.clone());
        async move {
            c.get(url)
                .header("authorization", format!("token {token}"))
                .send()
                .await
                .expect("send")
        }
    };
    let r = get_with(format!("{base}/installation/repositories")).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["total_count"].as_u64(), Some(10));
    assert_eq!(
        get_with(format!("{base}/orgs/{}/repos", orgs[0]))
            .await
            .status(),
        200
    );
    assert_eq!(
        get_with(format!("{base}/orgs/{}/repos", orgs[1]))
            .await
            .status(),
        404,
        "scoped to its org"
    );

    fake.advance_clock(3599.0);
    assert_eq!(
        get_with(format!("{base}/orgs/{}/repos", orgs[0]))
            .await
            .status(),
        200
    );
    fake.advance_clock(1.0);
    let r = get_with(format!("{base}/orgs/{}/repos", orgs[0])).await;
    assert_eq!(r.status(), 401, "expired token");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["message"], "Bad credentials");
}

/// JWTs signed by another key, expired, too long-lived, issued in the future or for another
/// App are all refused with 401 JSON.
#[tokio::test]
async fn invalid_jwts_are_refused() {
    let fake = spawn(app_config());
    let base = fake.base_url();
    let c = client();
    let id = fake
        .installation_id(&fake.org_names()[0])
        .expect("installation");
    let t = fake.now();
    let cases = [
        (jwt(OTHER_KEY, json!(APP_ID), t - 30.0, t + 540.0), "A JSON web token could not be decoded"),
        (jwt(GOOD_KEY, json!(APP_ID), t - 700.0, t - 100.0), "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"),
        (jwt(GOOD_KEY, json!(APP_ID), t, t + 3600.0), "'Expiration time' claim ('exp') is too far in the future"),
        (jwt(GOOD_KEY, json!(APP_ID), t + 300.0, t + 600.0), "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"),
        (jwt(GOOD_KEY, json!(APP_ID + 1), t - 30.0, t + 540.0), "'Issuer' claim ('iss') must be the App's ID"),
        ("not.a.jwt".to_string(), "A JSON web token could not be decoded"),
    ];
    for (token, message) in cases {
        let r = exchange(&c, &base, id, &token).await;
        assert_eq!(r.status(), 401, "{message}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["message"], message);
    }
    // A PAT is not an App JWT.
    let r = exchange(&c, &base, id, TOKEN).await;
    assert_eq!(r.status(), 401);
    // The App JWT is not a token for data endpoints.
    let good = jwt(GOOD_KEY, json!(APP_ID), t - 30.0, t + 540.0);
    let r = c
        .get(format!("{base}/orgs/{}/repos", fake.org_names()[0]))
        .header("authorization", format!("Bearer {good}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let r = exchange(&c, &base, 1, &good).await;
    assert_eq!(r.status(), 404, "unknown installation");
}

/// GraphQL takes installation tokens (scoped to their org, with their own `graphql` budget)
/// and refuses a valid App JWT with 401, as GitHub does.
#[tokio::test]
async fn graphql_takes_installation_tokens_not_app_jwts() {
    let fake = spawn(app_config());
    let base = fake.base_url();
    let c = client();
    let orgs = fake.org_names();
    let id = fake.installation_id(&orgs[0]).expect("installation");
    let t = fake.now();
    let good = jwt(GOOD_KEY, json!(APP_ID), t - 30.0, t + 540.0);
    let query = json!({
        "query": "query($q: String!) { rateLimit { used } search(query: $q, type: ISSUE, first: 1) { issueCount } }",
        "variables": {"q": format!("org:{} org:{}", orgs[0], orgs[1])}
    });
    let post = |auth: String| {
        let (c, url, query) = (c.clone(), format!("{base}/graphql"), query.clone());
        async move {
            c.post(url)
                .header("authorization", auth)
                .json(&query)
                .send()
                .await
                .expect("send")
        }
    };
    let r = post(format!("Bearer {good}")).await;
    assert_eq!(r.status(), 401, "App JWTs cannot query GraphQL");

    let r = exchange(&c, &base, id, &good).await;
    let body: Value = r.json().await.expect("json");
    let token = body["token"].as_str().expect("token").to_string();
    let scoped: Value = post(format!("token {token}"))
        .await
        .json()
        .await
        .expect("json");
    let pat: Value = post(format!("token {TOKEN}"))
        .await
        .json()
        .await
        .expect("json");
    let (scoped_n, all_n) = (
        scoped["data"]["search"]["issueCount"].as_u64().unwrap_or(0),
        pat["data"]["search"]["issueCount"].as_u64().unwrap_or(0),
    );
    assert!(scoped_n > 0 && scoped_n < all_n, "{scoped_n} of {all_n}");
    assert_eq!(scoped["data"]["rateLimit"]["used"], 1);
    assert_eq!(
        pat["data"]["rateLimit"]["used"], 1,
        "budgets per credential"
    );
}
