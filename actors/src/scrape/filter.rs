//! Which repositories of an org are scraped: allowlist and denylist globs, archived repos
//! (skipped unless `include_archived`) and forks (kept unless `include_forks` is false).

use super::port::RepoInfo;

/// The per-org repository filter.
#[derive(Debug, Clone)]
pub struct RepoFilter {
    pub allow: Vec<glob::Pattern>,
    pub deny: Vec<glob::Pattern>,
    pub include_archived: bool,
    pub include_forks: bool,
}

impl Default for RepoFilter {
    /// Everything except archived repositories (the configuration defaults).
    fn default() -> Self {
        RepoFilter {
            allow: vec![glob::Pattern::new("*").expect("`*` is a valid glob")],
            deny: Vec::new(),
            include_archived: false,
            include_forks: true,
        }
    }
}

impl RepoFilter {
    /// Whether `repo` is scraped. Globs match the repository name without the owner.
    pub fn accepts(&self, repo: &RepoInfo) -> bool {
        (self.include_archived || !repo.archived)
            && (self.include_forks || !repo.fork)
            && self.allow.iter().any(|p| p.matches(&repo.name))
            && !self.deny.iter().any(|p| p.matches(&repo.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str, archived: bool, fork: bool) -> RepoInfo {
        RepoInfo {
            name: name.into(),
            archived,
            fork,
            pushed_at: None,
        }
    }

    /// Deny beats allow; archived and fork switches apply.
    #[test]
    fn filter_applies_globs_archived_and_forks() {
        let f = RepoFilter {
            allow: vec![
                glob::Pattern::new("api-*").unwrap(),
                glob::Pattern::new("web").unwrap(),
            ],
            deny: vec![glob::Pattern::new("*-old").unwrap()],
            include_archived: false,
            include_forks: false,
        };
        assert!(f.accepts(&repo("api-core", false, false)));
        assert!(f.accepts(&repo("web", false, false)));
        assert!(!f.accepts(&repo("api-old", false, false)));
        assert!(!f.accepts(&repo("docs", false, false)));
        assert!(!f.accepts(&repo("api-x", true, false)));
        assert!(!f.accepts(&repo("api-y", false, true)));
        assert!(RepoFilter::default().accepts(&repo("fork", false, true)));
        assert!(!RepoFilter::default().accepts(&repo("arch", true, false)));
    }
}
