//! Credentials: the personal access token, installation tokens issued by the App flow (with
//! expiry on the fake clock) and App JWTs (RS256, checked against the configured public key).
//! Tokens are secrets: they are never logged and never part of a `Debug` print.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::AppAuth;
use crate::hash::hash;

/// Who a request acts as. Budgets are kept per credential (GitHub: per token / installation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No `Authorization` header (only `GET /meta` accepts this).
    Anonymous,
    Pat,
    Installation {
        id: u64,
    },
    App {
        app_id: u64,
    },
}

impl Credential {
    pub fn budget_key(&self) -> String {
        match self {
            Credential::Anonymous => "anonymous".into(),
            Credential::Pat => "pat".into(),
            Credential::Installation { id } => format!("installation:{id}"),
            Credential::App { app_id } => format!("app:{app_id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Requires authentication")]
    Missing,
    #[error("Bad credentials")]
    BadCredentials,
    #[error("A JSON web token could not be decoded")]
    JwtUndecodable,
    #[error("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")]
    JwtExpired,
    #[error("'Expiration time' claim ('exp') is too far in the future")]
    JwtTooLong,
    #[error("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")]
    JwtIssuedInFuture,
    #[error("'Issuer' claim ('iss') must be the App's ID")]
    JwtWrongIssuer,
    #[error("no GitHub App is configured on this fake")]
    NoApp,
}

#[derive(Clone)]
struct IssuedToken {
    installation_id: u64,
    expires_at: f64,
}

/// GitHub allows this much clock drift on `iat`/`exp`.
const JWT_LEEWAY: f64 = 60.0;
/// GitHub refuses App JWTs that live longer than ten minutes.
const JWT_MAX_LIFETIME: f64 = 600.0;

pub struct Auth {
    pat: String,
    app: Option<(u64, DecodingKey)>,
    /// The enterprise's own App (Copilot enterprise reports), checked after `app`.
    enterprise_app: Option<(u64, DecodingKey)>,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    ttl_secs: f64,
    seed: u64,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("app_id", &self.app.as_ref().map(|a| a.0))
            .field(
                "enterprise_app_id",
                &self.enterprise_app.as_ref().map(|a| a.0),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<serde_json::Value>,
    iat: Option<f64>,
    exp: Option<f64>,
}

/// Errors while building [`Auth`] from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("invalid App public key PEM")]
    PublicKey(#[source] jsonwebtoken::errors::Error),
}

impl Auth {
    pub fn new(
        pat: String,
        app: Option<&AppAuth>,
        ttl_secs: u32,
        seed: u64,
    ) -> Result<Auth, AuthSetupError> {
        let app = match app {
            Some(a) => Some((
                a.app_id,
                DecodingKey::from_rsa_pem(a.public_key_pem.as_bytes())
                    .map_err(AuthSetupError::PublicKey)?,
            )),
            None => None,
        };
        Ok(Auth {
            pat,
            app,
            enterprise_app: None,
            tokens: Mutex::new(HashMap::new()),
            ttl_secs: f64::from(ttl_secs),
            seed,
        })
    }

    /// Adds the enterprise's App, whose JWTs are accepted besides the main App's.
    pub fn with_enterprise_app(mut self, app: Option<&AppAuth>) -> Result<Auth, AuthSetupError> {
        if let Some(a) = app {
            self.enterprise_app = Some((
                a.app_id,
                DecodingKey::from_rsa_pem(a.public_key_pem.as_bytes())
                    .map_err(AuthSetupError::PublicKey)?,
            ));
        }
        Ok(self)
    }

    /// The enterprise App's id, if one is configured.
    pub fn enterprise_app_id(&self) -> Option<u64> {
        self.enterprise_app.as_ref().map(|a| a.0)
    }

    /// Authenticates a token-bearing request (PAT or installation token).
    pub fn token(&self, header: Option<&str>, now: f64) -> Result<Credential, AuthError> {
        let Some(token) = header.and_then(bearer) else {
            return if header.is_some() {
                Err(AuthError::BadCredentials)
            } else {
                Ok(Credential::Anonymous)
            };
        };
        if !self.pat.is_empty() && token == self.pat {
            return Ok(Credential::Pat);
        }
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        match tokens.get(token) {
            Some(t) if now < t.expires_at => Ok(Credential::Installation {
                id: t.installation_id,
            }),
            _ => Err(AuthError::BadCredentials),
        }
    }

    /// Authenticates an App JWT: RS256 signature, `iss` = App ID (number or string),
    /// `iat` not in the future and `exp` in the future and at most ten minutes after `iat`
    /// (60 s leeway on both, on the fake clock).
    pub fn app_jwt(&self, header: Option<&str>, now: f64) -> Result<Credential, AuthError> {
        let Some(jwt) = header.and_then(bearer) else {
            return Err(AuthError::Missing);
        };
        if self.app.is_none() && self.enterprise_app.is_none() {
            return Err(AuthError::NoApp);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        // The App whose key verifies the signature; its id must then be the `iss`.
        let (app_id, data) = [&self.app, &self.enterprise_app]
            .into_iter()
            .flatten()
            .find_map(|(id, key)| {
                jsonwebtoken::decode::<Claims>(jwt, key, &validation)
                    .ok()
                    .map(|d| (id, d))
            })
            .ok_or(AuthError::JwtUndecodable)?;
        let c = data.claims;
        let iss_ok = match &c.iss {
            Some(serde_json::Value::Number(n)) => n.as_u64() == Some(*app_id),
            Some(serde_json::Value::String(s)) => s.parse::<u64>().ok() == Some(*app_id),
            _ => false,
        };
        if !iss_ok {
            return Err(AuthError::JwtWrongIssuer);
        }
        let (Some(iat), Some(exp)) = (c.iat, c.exp) else {
            return Err(AuthError::JwtUndecodable);
        };
        if iat > now + JWT_LEEWAY {
            return Err(AuthError::JwtIssuedInFuture);
        }
        if exp <= now - JWT_LEEWAY {
            return Err(AuthError::JwtExpired);
        }
        if exp - iat > JWT_MAX_LIFETIME + JWT_LEEWAY {
            return Err(AuthError::JwtTooLong);
        }
        Ok(Credential::App { app_id: *app_id })
    }

    /// Issues an installation token valid for the configured TTL; returns it and its expiry.
    pub fn issue(&self, installation_id: u64, now: f64) -> (String, f64) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        // Drop long-expired tokens so the map stays bounded.
        tokens.retain(|_, t| t.expires_at > now - 86_400.0);
        let n = tokens.len() as u64;
        let mut h = hash(&[self.seed, 900, installation_id, n, now.to_bits()]);
        let mut token = String::from("ghs_");
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        for i in 0..36 {
            if i % 10 == 0 {
                h = hash(&[h, i]);
            }
            token.push(ALPHABET[(h % 62) as usize] as char);
            h /= 62;
        }
        let expires_at = now.floor() + self.ttl_secs;
        tokens.insert(
            token.clone(),
            IssuedToken {
                installation_id,
                expires_at,
            },
        );
        (token, expires_at)
    }
}

/// The credential in `Authorization: Bearer <t>` or `Authorization: token <t>`.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let rest = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then_some(rest)
        .filter(|t| !t.is_empty())
}
