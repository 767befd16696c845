//! The GitHub reachability probe: an unauthenticated `GET {api_base_url}meta` (the GHES
//! `/api/v3` prefix is kept because the base URL always ends in `/`). Any answer below 500 means
//! GitHub is reachable; rate limits and auth are the scrapers' business.

use url::Url;

/// Why the probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("GET {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("invalid probe URL from api_base_url {base}")]
    Url {
        base: String,
        #[source]
        source: url::ParseError,
    },
}

/// Probes GitHub once.
pub async fn probe_meta(client: &reqwest::Client, api_base_url: &Url) -> Result<(), ProbeError> {
    let url = api_base_url
        .join("meta")
        .map_err(|source| ProbeError::Url {
            base: api_base_url.to_string(),
            source,
        })?;
    let response = client
        .get(url.clone())
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await
        .map_err(|source| ProbeError::Request {
            url: url.to_string(),
            source,
        })?;
    let status = response.status().as_u16();
    if status >= 500 {
        return Err(ProbeError::Status {
            url: url.to_string(),
            status,
        });
    }
    Ok(())
}
