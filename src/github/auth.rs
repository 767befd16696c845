//! Credentials for GitHub calls: a personal access token, or a GitHub App — an RS256 JWT
//! (`iss` = App id, 9 minutes) exchanged for an installation token at
//! `{api_base_url}app/installations/{id}/access_tokens`, cached and refreshed before it
//! expires. The installation id is discovered when not configured: `GET
//! {api_base_url}orgs/{org}/installation` for an organization, `GET users/{user}/installation`
//! for a user account ([`super::owner`]); while the owner's kind is not known yet (the lookup
//! itself needs the installation token), the org endpoint is asked first and the user one
//! after its 404 — once, as the id is then kept. Every call uses `api_base_url`, so GHES
//! (`…/api/v3/`) works.
//!
//! Secrets never reach a log or a `Debug` print: tokens are `SecretString`, the key is opaque.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::owner::Owner;
use super::wire;
use gse_actors::scrape::owner::OwnerKind;

/// Why no `Authorization` header could be produced.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the App private key {path}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the App private key is not a usable RSA PEM key")]
    Key(#[source] jsonwebtoken::errors::Error),
    #[error("cannot sign the App JWT")]
    Sign(#[source] jsonwebtoken::errors::Error),
    #[error("{step} failed")]
    Request {
        step: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{step} answered {status}")]
    Status { step: &'static str, status: u16 },
    #[error("{step} answered an undecodable body")]
    Decode { step: &'static str },
    #[error("{step} answered a body over {limit} bytes")]
    TooLarge { step: &'static str, limit: u64 },
    #[error("the App has no installation on {owner} (GitHub answered 404 for {tried}): install the App there, or check github.orgs")]
    NoInstallation { owner: String, tried: &'static str },
}

impl AuthError {
    /// Whether retrying later can help (network or server trouble, not configuration).
    pub fn is_transient(&self) -> bool {
        match self {
            AuthError::Request { .. } | AuthError::Decode { .. } => true,
            AuthError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 403,
            _ => false,
        }
    }
}

/// A GitHub App identity for one org.
pub struct AppCredential {
    app_id: u64,
    key: EncodingKey,
    org: String,
    /// The owner of the org's repositories, when this credential is an org's (not the
    /// enterprise's): its kind picks the installation endpoint.
    owner: Option<std::sync::Arc<Owner>>,
    installation_id: tokio::sync::Mutex<Option<u64>>,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: SecretString,
    /// Local instant after which the token is refreshed (before GitHub's expiry).
    refresh_at: SystemTime,
}

/// How a request authenticates.
pub enum Credential {
    Token(SecretString),
    App(AppCredential),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Token(_) => f.write_str("Credential::Token([REDACTED])"),
            Credential::App(app) => {
                write!(f, "Credential::App(app_id={}, org={})", app.app_id, app.org)
            }
        }
    }
}

#[derive(serde::Serialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: String,
}

impl Credential {
    /// An App credential from a PEM key file; `owner` is the org's (`None` for an enterprise).
    pub fn app(
        app_id: u64,
        key_path: &std::path::Path,
        installation_id: Option<u64>,
        org: &str,
        owner: Option<std::sync::Arc<Owner>>,
    ) -> Result<Credential, AuthError> {
        let pem = std::fs::read(key_path).map_err(|source| AuthError::KeyFile {
            path: key_path.display().to_string(),
            source,
        })?;
        let key = EncodingKey::from_rsa_pem(&pem).map_err(AuthError::Key)?;
        Ok(Credential::App(AppCredential {
            app_id,
            key,
            org: org.to_string(),
            owner,
            installation_id: tokio::sync::Mutex::new(installation_id),
            token: tokio::sync::Mutex::new(None),
        }))
    }

    /// The `Authorization` header value for the next request.
    pub async fn authorization(
        &self,
        http: &reqwest::Client,
        base: &Url,
    ) -> Result<String, AuthError> {
        match self {
            Credential::Token(token) => Ok(format!("Bearer {}", token.expose_secret())),
            Credential::App(app) => app.authorization(http, base).await,
        }
    }

    /// Forgets a cached installation token (after a 401), so the next request gets a new one.
    pub async fn invalidate(&self) {
        if let Credential::App(app) = self {
            *app.token.lock().await = None;
        }
    }

    pub fn is_app(&self) -> bool {
        matches!(self, Credential::App(_))
    }
}

impl AppCredential {
    fn jwt(&self) -> Result<String, AuthError> {
        let now = gse_actors::clock::unix_now_secs();
        // Backdated a minute for clock drift; GitHub refuses JWTs living over ten minutes.
        let claims = Claims {
            iat: now.saturating_sub(60),
            exp: now + 540,
            iss: self.app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(AuthError::Sign)
    }

    async fn authorization(&self, http: &reqwest::Client, base: &Url) -> Result<String, AuthError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| SystemTime::now() < t.refresh_at) {
            return Ok(format!("Bearer {}", token.token.expose_secret()));
        }
        let installation = self.installation_id(http, base).await?;
        let step = "installation token exchange";
        let url = base
            .join(&format!("app/installations/{installation}/access_tokens"))
            .map_err(|_| AuthError::Status { step, status: 0 })?;
        let response = http
            .post(url)
            .header("Authorization", format!("Bearer {}", self.jwt()?))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", super::API_VERSION)
            .send()
            .await
            .map_err(|source| AuthError::Request { step, source })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(AuthError::Status { step, status });
        }
        let body = read_auth_body(response, step).await?;
        let token: wire::AccessToken =
            serde_json::from_slice(&body).map_err(|_| AuthError::Decode { step })?;
        let expires = wire::parse_time(&token.expires_at).ok_or(AuthError::Decode { step })?;
        // Refresh a minute before expiry, or halfway through a very short lifetime.
        let lifetime = (expires - gse_actors::clock::unix_now_secs() as i64).max(0) as u64;
        let margin = 60.min(lifetime / 2);
        let refresh_at = UNIX_EPOCH + Duration::from_secs((expires as u64).saturating_sub(margin));
        tracing::debug!(org = %self.org, installation, lifetime_s = lifetime, "installation token issued");
        let value = format!("Bearer {}", token.token);
        *cached = Some(CachedToken {
            token: SecretString::from(token.token),
            refresh_at,
        });
        Ok(value)
    }

    async fn installation_id(&self, http: &reqwest::Client, base: &Url) -> Result<u64, AuthError> {
        let mut known = self.installation_id.lock().await;
        if let Some(id) = *known {
            return Ok(id);
        }
        let kinds: &[OwnerKind] = match &self.owner {
            None => &[OwnerKind::Organization],
            Some(owner) => match owner.known_kind() {
                Some(OwnerKind::Organization) => &[OwnerKind::Organization],
                Some(OwnerKind::User) => &[OwnerKind::User],
                None => &[OwnerKind::Organization, OwnerKind::User],
            },
        };
        for kind in kinds {
            let (step, path) = match kind {
                OwnerKind::Organization => (
                    "installation discovery (GET /orgs/{org}/installation)",
                    format!("orgs/{}/installation", self.org),
                ),
                OwnerKind::User => (
                    "installation discovery (GET /users/{username}/installation)",
                    format!("users/{}/installation", self.org),
                ),
            };
            let url = base
                .join(&path)
                .map_err(|_| AuthError::Status { step, status: 0 })?;
            let response = http
                .get(url)
                .header("Authorization", format!("Bearer {}", self.jwt()?))
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", super::API_VERSION)
                .send()
                .await
                .map_err(|source| AuthError::Request { step, source })?;
            let status = response.status().as_u16();
            if status == 404 {
                continue;
            }
            if status != 200 {
                return Err(AuthError::Status { step, status });
            }
            let body = read_auth_body(response, step).await?;
            let installation: wire::Installation =
                serde_json::from_slice(&body).map_err(|_| AuthError::Decode { step })?;
            tracing::info!(org = %self.org, installation = installation.id, account = kind.as_str(), "GitHub App installation discovered");
            *known = Some(installation.id);
            return Ok(installation.id);
        }
        Err(AuthError::NoInstallation {
            owner: self.org.clone(),
            tried: match kinds {
                [OwnerKind::Organization] => "the organization",
                [OwnerKind::User] => "the user account",
                _ => "an organization and a user account",
            },
        })
    }
}

/// Largest token-exchange or installation answer read (they are a few hundred bytes).
const MAX_AUTH_BODY_BYTES: u64 = 1 << 20;

async fn read_auth_body(
    response: reqwest::Response,
    step: &'static str,
) -> Result<bytes::Bytes, AuthError> {
    super::body::read_capped(response, MAX_AUTH_BODY_BYTES, None)
        .await
        .map_err(|e| match e {
            super::body::BodyError::TooLarge { limit }
            | super::body::BodyError::Busy { budget: limit } => AuthError::TooLarge { step, limit },
            super::body::BodyError::Read(source) => AuthError::Request { step, source },
        })
}
