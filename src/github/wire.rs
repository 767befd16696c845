//! GitHub's JSON shapes, reduced to the fields the scraper reads. Every field GitHub may omit
//! or null is optional, so an unexpected but well-formed payload decodes; a malformed one is an
//! error for that call (never a panic).

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct User {
    pub login: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

impl User {
    pub fn is_bot(&self) -> bool {
        self.kind.as_deref() == Some("Bot") || self.login.ends_with("[bot]")
    }
}

/// Also `Serialize`: the ETag cache keeps listing pages re-encoded with these fields only.
#[derive(Debug, Deserialize, Serialize)]
pub struct Repo {
    pub name: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub pushed_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct GitPerson {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CommitInner {
    #[serde(default)]
    pub author: Option<GitPerson>,
    #[serde(default)]
    pub committer: Option<GitPerson>,
}

#[derive(Debug, Deserialize)]
pub struct Commit {
    pub sha: String,
    pub commit: CommitInner,
    #[serde(default)]
    pub author: Option<User>,
    #[serde(default)]
    pub committer: Option<User>,
}

#[derive(Debug, Deserialize)]
pub struct PullRef {
    #[serde(default)]
    pub merged_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SearchItem {
    pub number: u64,
    #[serde(default)]
    pub user: Option<User>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub pull_request: Option<PullRef>,
    #[serde(default)]
    pub repository_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Search {
    pub total_count: u64,
    #[serde(default)]
    pub incomplete_results: bool,
    pub items: Vec<SearchItem>,
}

#[derive(Debug, Deserialize)]
pub struct Pull {
    pub number: u64,
    #[serde(default)]
    pub user: Option<User>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub merged_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Review {
    pub id: u64,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub submitted_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub user: Option<User>,
    pub created_at: String,
}

#[derive(Debug, Deserialize)]
pub struct Week {
    pub w: i64,
    #[serde(default)]
    pub a: u64,
    #[serde(default)]
    pub d: u64,
    #[serde(default)]
    pub c: u64,
}

#[derive(Debug, Deserialize)]
pub struct Contributor {
    #[serde(default)]
    pub author: Option<User>,
    #[serde(default)]
    pub weeks: Vec<Week>,
}

#[derive(Debug, Deserialize)]
pub struct Stats {
    pub additions: u64,
    pub deletions: u64,
}

#[derive(Debug, Deserialize)]
pub struct CommitDetail {
    #[serde(default)]
    pub stats: Option<Stats>,
}

/// `GET /installation/repositories`: one page of the repositories an App installation sees.
#[derive(Debug, Deserialize, Serialize)]
pub struct InstallationRepos {
    #[serde(default)]
    pub repositories: Vec<Repo>,
}

#[derive(Debug, Deserialize)]
pub struct Installation {
    pub id: u64,
}

/// An installation access token as GitHub answers it. `Debug` never shows the token.
#[derive(Deserialize)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: String,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// GitHub's ISO 8601 timestamps (`2024-05-01T12:00:00Z`) as Unix seconds (1970 onwards).
pub fn parse_time(s: &str) -> Option<i64> {
    gse_actors::calendar::timestamp(s).filter(|secs| *secs >= 0)
}

/// Unix seconds in GitHub's ISO 8601 form, clamped to 1970..=9999 (a corrupt stored cursor
/// must not panic a scrape).
pub fn format_time(secs: i64) -> String {
    gse_actors::calendar::format_timestamp(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timestamps round-trip through GitHub's format.
    #[test]
    fn times_round_trip() {
        assert_eq!(format_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_time("not a time"), None);
    }

    /// The installation token never shows in a `Debug` print.
    #[test]
    fn access_token_debug_is_redacted() {
        let token: AccessToken = serde_json::from_str(
            r#"{"token": "ghs_s3cr3tInstallationToken", "expires_at": "2030-01-01T00:00:00Z"}"#,
        )
        .expect("decodes");
        assert_eq!(token.token, "ghs_s3cr3tInstallationToken");
        let printed = format!("{token:?} {token:#?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("2030-01-01"), "{printed}");
    }
}
