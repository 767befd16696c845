//! The line counts: a repository's contributor statistics (`202` while GitHub computes them,
//! asked again next round) and one commit's additions and deletions.

use gse_actors::scrape::port::{ApiError, CommitDetail, ContributorStats, StatsOutcome, WeekStats};

use super::{decode_error, OrgApi};
use crate::github::client::Answer;
use crate::github::wire;

impl OrgApi {
    pub(super) async fn stats(self, repo: String) -> Result<StatsOutcome, ApiError> {
        const EP: &str = "/repos/{owner}/{repo}/stats/contributors";
        let c = &self.client;
        let url = c.url(&format!("repos/{}/{repo}/stats/contributors", c.org), &[])?;
        match c.get::<Vec<wire::Contributor>>(EP, url, "core").await? {
            Answer::Page(page) => {
                let rows = page
                    .value
                    .into_iter()
                    .filter_map(|row| {
                        let author = row.author?;
                        Some(ContributorStats {
                            is_bot: author.is_bot(),
                            login: author.login,
                            weeks: row
                                .weeks
                                .iter()
                                .map(|w| WeekStats {
                                    start: w.w,
                                    additions: w.a,
                                    deletions: w.d,
                                    commits: w.c,
                                })
                                .collect(),
                        })
                    })
                    .collect();
                Ok(StatsOutcome::Ready(rows))
            }
            Answer::NoContent => Ok(StatsOutcome::Empty),
            // Computing: the scraper's next LOC round asks again; nothing waits here.
            Answer::Accepted => Ok(StatsOutcome::Computing),
        }
    }

    pub(super) async fn detail(self, repo: String, sha: String) -> Result<CommitDetail, ApiError> {
        const EP: &str = "/repos/{owner}/{repo}/commits/{ref}";
        let c = &self.client;
        let url = c.url(&format!("repos/{}/{repo}/commits/{sha}", c.org), &[])?;
        match c.get::<wire::CommitDetail>(EP, url, "core").await? {
            Answer::Page(p) => {
                let stats = p
                    .value
                    .stats
                    .ok_or_else(|| decode_error(EP, "commit stats"))?;
                Ok(CommitDetail {
                    additions: stats.additions,
                    deletions: stats.deletions,
                })
            }
            _ => Err(decode_error(EP, "commit detail status")),
        }
    }
}
