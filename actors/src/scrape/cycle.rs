//! One org cycle as a plain async function over the ports: list repositories, ask the org-wide
//! search which repositories had pull-request, review or comment activity, fetch only what is
//! new for each repository (bounded by `per_org_concurrency`), recompute every window from the
//! event logs at **one** `now`, and save the logs.
//!
//! Economy without changing a value: commits are fetched only when `pushed_at` moved past the
//! commit cursor (the whole window, `until` now: see `commits_since`), first for all such
//! repositories at once ([`GithubApi::commits_many`]), then one by one for what that left
//! unanswered; pull requests,
//! reviews and comments only for repositories the `updated:>=cursor` search names. When the
//! search carried an item's reviews and comments (GraphQL), they are used as they are;
//! otherwise reviews are listed per named pull request and comments per repository. When the
//! search is unavailable or incomplete, each repository falls back to listing its pull
//! requests by `updated` (stopping early) and its comments `since` the cursor.
//!
//! Failures: a failed repository listing fails the whole cycle (the caller keeps serving the
//! previous cycle's series); a failed endpoint of one repository keeps everything that
//! succeeded, leaves that endpoint's cursor in place (the next cycle catches up) and reports a
//! [`Missing`] window for backfill.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::filter::RepoFilter;
use super::identity::{commit_user, is_bot_login};
use super::loc::LocSettings;
use super::loc_round::loc_work_due;
use super::log::{state_key, Ev, OrgState, RepoLog};
use super::port::{
    ApiError, CommentInfo, CommitInfo, GithubApi, IssueItem, RepoInfo, ScrapeStateStore,
};
use super::window::{activity_samples, until_secs, window_start_secs, WINDOW_SECS};
use crate::backfill::Reason;
use crate::ports::Sample;

/// What a cycle needs besides the org and `now`.
#[derive(Debug, Clone)]
pub struct CycleSettings {
    pub filter: RepoFilter,
    pub concurrency: usize,
    pub exclude_bots: bool,
    pub loc: LocSettings,
}

impl Default for CycleSettings {
    fn default() -> Self {
        CycleSettings {
            filter: RepoFilter::default(),
            concurrency: 4,
            exclude_bots: false,
            loc: LocSettings::default(),
        }
    }
}

/// A window that could not be scraped, for backfill.
#[derive(Debug, Clone, PartialEq)]
pub struct Missing {
    /// Repository name, or `*` for the whole org.
    pub repo: String,
    pub window_start: f64,
    pub window_end: f64,
    pub reason: Reason,
}

/// How a cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleResult {
    Success,
    /// Some endpoints failed; what succeeded is served and the gaps go to backfill.
    Partial,
    /// Nothing could be scraped (the repository listing failed).
    Failure,
}

impl CycleResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CycleResult::Success => "success",
            CycleResult::Partial => "partial",
            CycleResult::Failure => "failure",
        }
    }
}

/// The result of [`run_cycle`].
#[derive(Debug, Clone)]
pub struct CycleOutcome {
    pub now: f64,
    pub result: CycleResult,
    /// Activity and LOC samples at `now` (empty on failure).
    pub samples: Vec<Sample>,
    pub missing: Vec<Missing>,
    /// The first error seen, for logs and `/healthz`.
    pub error: Option<String>,
    pub repos: usize,
    /// Repositories with LOC work for the next LOC round (see [`super::loc_round`]).
    pub loc_due: usize,
}

/// The org's search answer as one repository sees it.
#[derive(Debug, Clone)]
enum IssueSignal {
    /// The search is complete: these are all items of this repository updated since its cursor.
    Items(Vec<IssueItem>),
    /// No trustworthy signal: list pull requests and comments directly.
    Unknown,
}

/// Runs one org cycle at `now`.
pub async fn run_cycle(
    org: String,
    now: f64,
    api: Arc<dyn GithubApi>,
    state_store: Arc<dyn ScrapeStateStore>,
    settings: Arc<CycleSettings>,
) -> CycleOutcome {
    let key = state_key(&org);
    let mut state = match state_store.get(&key).await {
        Ok(Some(stored)) => OrgState::decode(&stored).unwrap_or_default(),
        Ok(None) => OrgState::default(),
        Err(error) => {
            tracing::warn!(org = %org, error = %error, "cannot load scrape state; this cycle starts cold");
            OrgState::default()
        }
    };
    let repos = match api.list_repos().await {
        Ok(repos) => repos,
        Err(error) => {
            return CycleOutcome {
                now,
                result: CycleResult::Failure,
                samples: Vec::new(),
                missing: vec![Missing {
                    repo: "*".into(),
                    window_start: now - WINDOW_SECS,
                    window_end: now,
                    reason: Reason::ScrapeError,
                }],
                error: Some(error.to_string()),
                repos: 0,
                loc_due: 0,
            }
        }
    };
    let repos: Vec<RepoInfo> = repos
        .into_iter()
        .filter(|r| settings.filter.accepts(r))
        .collect();
    state
        .repos
        .retain(|name, _| repos.iter().any(|r| &r.name == name));

    let cursor = |log: Option<&RepoLog>| issues_since(log, now);
    let search_since = repos.iter().map(|r| cursor(state.repos.get(&r.name))).min();
    let mut search_error = None;
    let mut by_repo: Option<BTreeMap<String, Vec<IssueItem>>> = None;
    if let Some(since) = search_since {
        match api.search_updated_since(since).await {
            Ok(result) if result.complete => {
                let mut map: BTreeMap<String, Vec<IssueItem>> = BTreeMap::new();
                for item in result.items {
                    map.entry(item.repo.clone()).or_default().push(item);
                }
                by_repo = Some(map);
            }
            Ok(_) => {
                tracing::info!(org = %org, "search results incomplete; listing pull requests per repository")
            }
            Err(error) => {
                tracing::warn!(org = %org, error = %error, "org search failed; listing pull requests per repository");
                search_error = Some(error.to_string());
            }
        }
    }

    // Commits of every repository that needs them, in as few calls as the adapter can.
    let commit_needs: Vec<(String, i64)> = repos
        .iter()
        .filter_map(|info| {
            commits_since(state.repos.get(&info.name), info, now).map(|s| (info.name.clone(), s))
        })
        .collect();
    let mut prefetched = if commit_needs.is_empty() {
        BTreeMap::new()
    } else {
        match api.commits_many(commit_needs, until_secs(now)).await {
            Ok(found) => found,
            Err(error) => {
                tracing::info!(org = %org, error = %error, "batched commit listing failed; listing per repository");
                BTreeMap::new()
            }
        }
    };

    let jobs: Vec<_> = repos
        .iter()
        .map(|info| {
            let log = state.repos.remove(&info.name).unwrap_or_default();
            let since = cursor(Some(&log));
            let signal = match &by_repo {
                Some(map) => IssueSignal::Items(
                    map.get(&info.name)
                        .map(|items| {
                            items
                                .iter()
                                .filter(|i| i.updated_at >= since)
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                None => IssueSignal::Unknown,
            };
            RepoJob {
                org: org.clone(),
                info: info.clone(),
                prefetched_commits: prefetched.remove(&info.name).flatten(),
                log,
                signal,
                now,
                api: api.clone(),
            }
        })
        .collect();
    let results: Vec<RepoDone> = stream::iter(jobs.into_iter().map(RepoJob::run))
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;

    let mut missing = Vec::new();
    let mut error = search_error;
    for done in results {
        missing.extend(done.missing);
        if error.is_none() {
            error = done.error;
        }
        state.repos.insert(done.name, done.log);
    }
    state.last_now = Some(now);
    // Activity and the LOC values known so far; LOC work waits for the next LOC round.
    let samples = served_samples(&org, &state, now, settings.exclude_bots);
    let loc_due = state
        .repos
        .values()
        .filter(|log| loc_work_due(&log.loc, now, &settings))
        .count();
    let commit =
        tracing::info_span!("store.commit", org = %org, otel.status_code = tracing::field::Empty);
    let saved = state_store
        .put(&key, state.encode())
        .instrument(commit.clone())
        .await;
    if let Err(e) = saved {
        commit.record("otel.status_code", "ERROR");
        tracing::warn!(org = %org, error = %e, "cannot save scrape state; the next cycle refetches more");
    }
    CycleOutcome {
        now,
        result: if missing.is_empty() {
            CycleResult::Success
        } else {
            CycleResult::Partial
        },
        samples,
        missing,
        error,
        repos: repos.len(),
        loc_due,
    }
}

/// Every activity and LOC sample of `state` at `now`.
///
/// Each repository also gets `gh_exporter_activity_incomplete`: 1 when a listing of it failed
/// in the cycle of `now` (its cursor is behind `now`), so its activity series miss what that
/// listing would have added — never passed off as complete.
pub fn served_samples(org: &str, state: &OrgState, now: f64, exclude_bots: bool) -> Vec<Sample> {
    let mut samples = Vec::new();
    for (repo, log) in &state.repos {
        samples.extend(activity_samples(org, repo, log, now, exclude_bots));
        samples.extend(log.loc.samples(org, repo, now, exclude_bots));
        let behind = |through: Option<f64>| through.is_none_or(|t| t < now);
        let incomplete = behind(log.commits_through) || behind(log.issues_through);
        samples.push(Sample {
            metric: crate::metrics::scrape::ACTIVITY_INCOMPLETE.name.to_string(),
            labels: vec![
                ("org".to_string(), org.to_string()),
                ("repo".to_string(), repo.to_string()),
            ],
            value: if incomplete { 1.0 } else { 0.0 },
        });
    }
    samples
}

/// The series of the cycle that last saved the org's state, recomputed from its logs, so a
/// restarted ScrapeActor (or a new leader) serves them at once instead of nothing.
pub async fn restore_served(
    org: String,
    state_store: Arc<dyn ScrapeStateStore>,
    exclude_bots: bool,
) -> Option<(f64, Vec<Sample>)> {
    let stored = state_store.get(&state_key(&org)).await.ok()??;
    let state = OrgState::decode(&stored)?;
    let now = state.last_now?;
    Some((now, served_samples(&org, &state, now, exclude_bots)))
}

/// How far back a search of updated items reaches past the previous cycle: GitHub's search
/// index can lag behind an update, so an item updated just before the previous cycle may only
/// show up now. Items found again are harmless (events are keyed by id).
pub const SEARCH_INDEX_LAG_SECS: i64 = 300;

/// Where this cycle's search of updated pull requests, issues, reviews and comments starts.
fn issues_since(log: Option<&RepoLog>, now: f64) -> i64 {
    let wstart = window_start_secs(now);
    log.and_then(|l| l.issues_through).map_or(wstart, |t| {
        (t.floor() as i64 - SEARCH_INDEX_LAG_SECS).max(wstart)
    })
}

/// Where this cycle's commit listing of a repository starts, or `None` when nothing new can
/// be there: a repository not pushed since the cursor (cold: since the window start) has no
/// new commit. When it was pushed, the **whole window** is listed: `since` filters on the
/// committer date, and a commit pushed hours after it was committed would be missed by a
/// listing from the cursor. It costs no extra request while a window holds under 100 commits;
/// commits already known are skipped by sha.
fn commits_since(log: Option<&RepoLog>, info: &RepoInfo, now: f64) -> Option<i64> {
    let wstart = window_start_secs(now);
    let pushed_since = log
        .and_then(|l| l.commits_through)
        .map_or(wstart, |t| t.floor() as i64);
    info.pushed_at
        .filter(|p| *p >= pushed_since)
        .map(|_| wstart)
}

struct RepoJob {
    org: String,
    info: RepoInfo,
    /// This cycle's new commits when a batched listing already fetched them.
    prefetched_commits: Option<Vec<CommitInfo>>,
    log: RepoLog,
    signal: IssueSignal,
    now: f64,
    api: Arc<dyn GithubApi>,
}

struct RepoDone {
    name: String,
    log: RepoLog,
    missing: Vec<Missing>,
    error: Option<String>,
}

impl RepoJob {
    async fn run(mut self) -> RepoDone {
        let now = self.now;
        let day = (now - WINDOW_SECS, now);
        let mut failures: Vec<(Reason, (f64, f64), Option<ApiError>)> = Vec::new();
        match self.commits().await {
            // A new commit that changes what stats report: the next LOC round refreshes.
            Ok(signal) => self.log.loc.refresh_wanted |= signal,
            Err(e) => failures.push((Reason::ActivityCommitsFailed, day, Some(e))),
        }
        let issue_failures = self.issues().await;
        if issue_failures.is_empty() {
            self.log.issues_through = Some(now);
        }
        failures.extend(issue_failures.into_iter().map(|(r, e)| (r, day, Some(e))));
        self.log.prune(now);
        let mut error = None;
        let mut missing: Vec<Missing> = Vec::new();
        for (reason, (start, end), e) in failures {
            if let Some(e) = e {
                tracing::debug!(org = %self.org, repo = %self.info.name, error = %e, reason = %reason, "endpoint failed");
                error.get_or_insert_with(|| e.to_string());
            }
            let duplicate = missing.iter().any(|m| m.reason == reason);
            if !duplicate {
                missing.push(Missing {
                    repo: self.info.name.clone(),
                    window_start: start,
                    window_end: end,
                    reason,
                });
            }
        }
        RepoDone {
            name: self.info.name,
            log: self.log,
            missing,
            error,
        }
    }

    /// Fetches new commits; returns whether one of them changes what stats report.
    async fn commits(&mut self) -> Result<bool, ApiError> {
        let now = self.now;
        let wstart = window_start_secs(now);
        let Some(since) = commits_since(Some(&self.log), &self.info, now) else {
            self.log.commits_through = Some(now);
            return Ok(false);
        };
        let list = match self.prefetched_commits.take() {
            Some(list) => list,
            None => match self
                .api
                .commits(&self.info.name, since, until_secs(now))
                .await
            {
                Ok(list) => list,
                Err(e) if e.kind.is_absent() => Vec::new(),
                Err(e) => return Err(e),
            },
        };
        let mut signal = false;
        for c in list {
            if self.log.commits.contains_key(&c.sha) || self.log.seen_outside.contains_key(&c.sha) {
                continue;
            }
            signal |=
                self.log
                    .loc
                    .commit_changes_stats(c.author_login.as_deref(), c.author_date, now);
            if c.author_date >= wstart {
                let user = commit_user(&c);
                let bot = is_bot_login(&user)
                    || (c.author_is_bot && c.author_login.as_deref() == Some(user.as_str()));
                self.log.commits.insert(
                    c.sha,
                    Ev {
                        t: c.author_date,
                        user,
                        bot,
                    },
                );
            } else {
                self.log.seen_outside.insert(c.sha, c.committer_date);
            }
        }
        self.log.commits_through = Some(now);
        Ok(signal)
    }

    /// Fetches new pull requests, reviews and comments; returns the failures.
    async fn issues(&mut self) -> Vec<(Reason, ApiError)> {
        let now = self.now;
        let wstart = window_start_secs(now);
        let since = issues_since(Some(&self.log), now);
        let mut failures = Vec::new();
        let (items, need_comments) = match std::mem::replace(&mut self.signal, IssueSignal::Unknown)
        {
            IssueSignal::Items(items) => {
                // The search may have carried every comment we need (GraphQL): then the
                // repository's comment listing is skipped.
                let carried = items
                    .iter()
                    .all(|i| i.comments.as_ref().is_some_and(|c| c.covers(since)));
                let need = !items.is_empty() && !carried;
                if !need {
                    for item in &items {
                        for c in item.comments.iter().flat_map(|c| c.items.iter()) {
                            self.record_comment(c.clone(), wstart);
                        }
                    }
                }
                (items, need)
            }
            IssueSignal::Unknown => {
                match self.api.pulls_updated_since(&self.info.name, since).await {
                    Ok(items) => (items, true),
                    Err(e) if e.kind.is_absent() => (Vec::new(), true),
                    Err(e) => {
                        failures.push((Reason::ActivityPullsFailed, e));
                        (Vec::new(), true)
                    }
                }
            }
        };
        for item in items.iter().filter(|i| i.is_pull) {
            let bot = item.author_is_bot || is_bot_login(&item.author);
            if item.created_at >= wstart {
                self.log.opened.insert(
                    item.number,
                    Ev {
                        t: item.created_at,
                        user: item.author.clone(),
                        bot,
                    },
                );
            }
            if let Some(merged) = item.merged_at.filter(|m| *m >= wstart) {
                self.log.merged.insert(
                    item.number,
                    Ev {
                        t: merged,
                        user: item.author.clone(),
                        bot,
                    },
                );
            }
            if item.updated_at < wstart {
                continue;
            }
            let listed = match item.reviews.clone() {
                Some(reviews) => Ok(reviews),
                None => self.api.reviews(&self.info.name, item.number).await,
            };
            match listed {
                Ok(reviews) => {
                    for r in reviews {
                        if let Some(s) = r.submitted_at.filter(|s| *s >= wstart) {
                            let bot = r.user_is_bot || is_bot_login(&r.user);
                            self.log.reviews.insert(
                                r.id,
                                Ev {
                                    t: s,
                                    user: r.user,
                                    bot,
                                },
                            );
                        }
                    }
                }
                Err(e) if e.kind.is_absent() => {}
                Err(e) => failures.push((Reason::ActivityReviewsFailed, e)),
            }
        }
        if need_comments {
            match self.api.issue_comments_since(&self.info.name, since).await {
                Ok(comments) => {
                    for c in comments {
                        self.record_comment(c, wstart);
                    }
                }
                Err(e) if e.kind.is_absent() => {}
                Err(e) => failures.push((Reason::ActivityIssueCommentsFailed, e)),
            }
        }
        failures
    }

    /// Logs a conversation comment created in the window (ids make repeats harmless).
    fn record_comment(&mut self, c: CommentInfo, wstart: i64) {
        if c.created_at < wstart {
            return;
        }
        let bot = c.user_is_bot || is_bot_login(&c.user);
        self.log.comments.insert(
            c.id,
            Ev {
                t: c.created_at,
                user: c.user,
                bot,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::future::{self, BoxFuture, FutureExt};

    use super::*;
    use crate::scrape::memory_state::MemoryStateStore;
    use crate::scrape::port::{
        ApiErrorKind, ApiTelemetry, CommentInfo, CommitDetail, CommitInfo, Listed, ReviewInfo,
        SearchResult, StatsOutcome,
    };

    /// A scripted GitHub: one repository, calls recorded, comments failing on demand.
    #[derive(Default)]
    struct Scripted {
        pushed_at: Mutex<i64>,
        commits: Mutex<Vec<CommitInfo>>,
        comments: Mutex<Vec<CommentInfo>>,
        search: Mutex<Vec<IssueItem>>,
        fail_comments: Mutex<bool>,
        /// Answer `commits_many` (as GraphQL would) instead of leaving it to `commits`.
        batch: Mutex<bool>,
        /// Answers of `contributor_stats`, in order (then `Empty`).
        stats: Mutex<std::collections::VecDeque<StatsOutcome>>,
        calls: Mutex<Vec<String>>,
    }

    impl Scripted {
        fn call(&self, name: &str) {
            self.calls.lock().unwrap().push(name.to_string());
        }
        fn take_calls(&self) -> Vec<String> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }
    }

    fn ok<T: Send + 'static>(v: T) -> BoxFuture<'static, Result<T, ApiError>> {
        future::ready(Ok(v)).boxed()
    }

    impl GithubApi for Scripted {
        fn list_repos(&self) -> BoxFuture<'static, Result<Vec<RepoInfo>, ApiError>> {
            self.call("repos");
            ok(vec![RepoInfo {
                name: "r".into(),
                archived: false,
                fork: false,
                pushed_at: Some(*self.pushed_at.lock().unwrap()),
            }])
        }
        fn search_updated_since(
            &self,
            since: i64,
        ) -> BoxFuture<'static, Result<SearchResult, ApiError>> {
            self.call("search");
            let items = self
                .search
                .lock()
                .unwrap()
                .iter()
                .filter(|i| i.updated_at >= since)
                .cloned()
                .collect();
            ok(SearchResult {
                items,
                complete: true,
            })
        }
        fn commits(
            &self,
            _: &str,
            since: i64,
            until: i64,
        ) -> BoxFuture<'static, Result<Vec<CommitInfo>, ApiError>> {
            self.call("commits");
            let list = self
                .commits
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.committer_date >= since && c.committer_date <= until)
                .cloned()
                .collect();
            ok(list)
        }
        fn commits_many(
            &self,
            repos: Vec<(String, i64)>,
            until: i64,
        ) -> BoxFuture<'static, Result<crate::scrape::port::CommitsByRepo, ApiError>> {
            if !*self.batch.lock().unwrap() {
                return ok(Default::default());
            }
            self.call("commits_many");
            let all = self.commits.lock().unwrap().clone();
            let out = repos
                .into_iter()
                .map(|(name, since)| {
                    let list = all
                        .iter()
                        .filter(|c| c.committer_date >= since && c.committer_date <= until)
                        .cloned()
                        .collect();
                    (name, Some(list))
                })
                .collect();
            ok(out)
        }
        fn commits_capped(
            &self,
            _: &str,
            _: i64,
            _: i64,
            _: i64,
            _: usize,
        ) -> BoxFuture<'static, Result<(Vec<CommitInfo>, bool), ApiError>> {
            ok((Vec::new(), false))
        }
        fn pulls_updated_since(
            &self,
            _: &str,
            _: i64,
        ) -> BoxFuture<'static, Result<Vec<IssueItem>, ApiError>> {
            self.call("pulls");
            ok(Vec::new())
        }
        fn reviews(
            &self,
            _: &str,
            _: u64,
        ) -> BoxFuture<'static, Result<Vec<ReviewInfo>, ApiError>> {
            self.call("reviews");
            ok(Vec::new())
        }
        fn issue_comments_since(
            &self,
            _: &str,
            since: i64,
        ) -> BoxFuture<'static, Result<Vec<CommentInfo>, ApiError>> {
            self.call("comments");
            if *self.fail_comments.lock().unwrap() {
                let e = ApiError {
                    kind: ApiErrorKind::Server,
                    endpoint: "comments",
                    detail: "503".into(),
                };
                return future::ready(Err(e)).boxed();
            }
            let list = self
                .comments
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.created_at >= since)
                .cloned()
                .collect();
            ok(list)
        }
        fn contributor_stats(&self, _: &str) -> BoxFuture<'static, Result<StatsOutcome, ApiError>> {
            self.call("stats");
            let next = self.stats.lock().unwrap().pop_front();
            ok(next.unwrap_or(StatsOutcome::Empty))
        }
        fn commit_detail(
            &self,
            _: &str,
            _: &str,
        ) -> BoxFuture<'static, Result<CommitDetail, ApiError>> {
            ok(CommitDetail {
                additions: 0,
                deletions: 0,
            })
        }
        fn telemetry(&self) -> ApiTelemetry {
            ApiTelemetry::default()
        }
    }

    const T0: f64 = 1_700_000_000.5;

    fn cycle(api: &Arc<Scripted>, store: &Arc<MemoryStateStore>, now: f64) -> CycleOutcome {
        futures::executor::block_on(run_cycle(
            "o".into(),
            now,
            api.clone(),
            store.clone(),
            Arc::new(CycleSettings::default()),
        ))
    }

    fn value(outcome: &CycleOutcome, metric: &str, user: &str) -> Option<f64> {
        outcome
            .samples
            .iter()
            .find(|s| s.metric == metric && s.labels.iter().any(|(k, v)| k == "user" && v == user))
            .map(|s| s.value)
    }

    fn commit(sha: &str, t: i64, login: &str) -> CommitInfo {
        CommitInfo {
            sha: sha.into(),
            author_login: Some(login.into()),
            author_date: t,
            committer_date: t,
            ..CommitInfo::default()
        }
    }

    /// A cycle with nothing new makes no per-repository call; values are recomputed locally
    /// and events leaving the window disappear.
    #[test]
    fn unchanged_repository_costs_no_calls_and_windows_still_roll() {
        let api = Arc::new(Scripted::default());
        let store = Arc::new(MemoryStateStore::new());
        let t = T0 as i64;
        *api.pushed_at.lock().unwrap() = t - 100;
        api.commits
            .lock()
            .unwrap()
            .push(commit("a", t - 100, "ann"));
        let first = cycle(&api, &store, T0);
        assert_eq!(value(&first, "gh_activity_commits_24h", "ann"), Some(1.0));
        api.take_calls();
        let second = cycle(&api, &store, T0 + 60.0);
        assert_eq!(
            api.take_calls(),
            vec!["repos", "search"],
            "nothing fetched per repository"
        );
        assert_eq!(value(&second, "gh_activity_commits_24h", "ann"), Some(1.0));
        let later = cycle(&api, &store, T0 + 86_400.0);
        assert_eq!(
            value(&later, "gh_activity_commits_24h", "ann"),
            None,
            "left the window"
        );
        assert_eq!(
            value(&later, "gh_activity_last_event_unixtime", "ann"),
            None
        );
    }

    /// Commits a batched listing already fetched are not listed again per repository, and
    /// count like any others; a repository without new pushes is not even asked for.
    /// The cycle publishes activity without asking for stats; the LOC round asks once per
    /// round (a 202 costs one call, never a wait), keeps the repository waiting, and publishes
    /// the LOC series at the served cycle's `now` as soon as GitHub answers.
    #[test]
    fn loc_round_asks_once_per_round_and_publishes_when_ready() {
        use crate::scrape::loc_round::run_loc_round;
        use crate::scrape::port::{ContributorStats, WeekStats};
        let api = Arc::new(Scripted::default());
        let store = Arc::new(MemoryStateStore::new());
        let t = T0 as i64;
        *api.pushed_at.lock().unwrap() = t - 100;
        api.commits
            .lock()
            .unwrap()
            .push(commit("a", t - 100, "ann"));
        let week = crate::scrape::window::latest_complete_week(T0);
        let ready = StatsOutcome::Ready(vec![ContributorStats {
            login: "ann".into(),
            is_bot: false,
            weeks: vec![WeekStats {
                start: week,
                additions: 7,
                deletions: 3,
                commits: 1,
            }],
        }]);
        api.stats
            .lock()
            .unwrap()
            .extend([StatsOutcome::Computing, StatsOutcome::Computing, ready]);
        let first = cycle(&api, &store, T0);
        assert!(!api.take_calls().contains(&"stats".to_string()));
        assert_eq!(value(&first, "gh_activity_commits_24h", "ann"), Some(1.0));
        assert_eq!(value(&first, "gh_activity_loc_added_weekly", "ann"), None);
        assert_eq!(first.loc_due, 1);
        let round = |at: f64| {
            futures::executor::block_on(run_loc_round(
                "o".into(),
                at,
                api.clone(),
                store.clone(),
                Arc::new(CycleSettings::default()),
            ))
        };
        for attempt in 1..=2 {
            let r = round(T0 + attempt as f64);
            assert_eq!(api.take_calls(), vec!["stats"], "one call per round");
            assert_eq!(
                (r.asked, r.waiting),
                (1, 1),
                "round {attempt}: still computing"
            );
            assert!(r.served.is_none(), "nothing new to publish while computing");
        }
        let r = round(T0 + 3.0);
        assert_eq!(api.take_calls(), vec!["stats"]);
        assert_eq!((r.asked, r.waiting), (1, 0));
        let (at, samples) = r.served.expect("LOC answered: publish");
        assert_eq!(at, T0, "published for the served cycle's instant");
        let get = |metric: &str| {
            samples
                .iter()
                .find(|x| x.metric == metric && x.labels.iter().any(|l| l.1 == "ann"))
                .map(|x| x.value)
        };
        assert_eq!(get("gh_activity_loc_added_weekly"), Some(7.0));
        assert_eq!(get("gh_activity_loc_removed_weekly"), Some(3.0));
        assert_eq!(get("gh_activity_commits_24h"), Some(1.0), "activity kept");
        let r = round(T0 + 4.0);
        assert_eq!(r.asked, 0, "nothing due once answered");
        assert!(api.take_calls().is_empty());
    }

    #[test]
    fn batched_commits_replace_per_repository_listing() {
        let api = Arc::new(Scripted::default());
        let store = Arc::new(MemoryStateStore::new());
        let t = T0 as i64;
        *api.batch.lock().unwrap() = true;
        *api.pushed_at.lock().unwrap() = t - 100;
        api.commits
            .lock()
            .unwrap()
            .push(commit("a", t - 100, "ann"));
        let first = cycle(&api, &store, T0);
        assert_eq!(api.take_calls(), vec!["repos", "search", "commits_many"]);
        assert_eq!(first.loc_due, 1, "LOC is left to the LOC round");
        assert_eq!(value(&first, "gh_activity_commits_24h", "ann"), Some(1.0));
        cycle(&api, &store, T0 + 60.0);
        assert_eq!(
            api.take_calls(),
            vec!["repos", "search"],
            "nothing pushed since"
        );
    }

    /// A commit pushed after the previous cycle but committed before it is found (the window
    /// is listed again when the repository was pushed); a rebased commit authored before the
    /// window is listed but neither counted nor taken for new again (no stats refresh).
    #[test]
    fn late_pushed_commits_are_found_and_old_ones_remembered() {
        let api = Arc::new(Scripted::default());
        let store = Arc::new(MemoryStateStore::new());
        let t = T0 as i64;
        *api.pushed_at.lock().unwrap() = t - 100;
        api.commits
            .lock()
            .unwrap()
            .push(commit("a", t - 100, "ann"));
        let mut rebased = commit("old", t - 200_000, "ann");
        rebased.committer_date = t - 90;
        api.commits.lock().unwrap().push(rebased);
        cycle(&api, &store, T0);
        api.take_calls();
        let later = cycle(&api, &store, T0 + 60.0);
        assert_eq!(
            api.take_calls(),
            vec!["repos", "search"],
            "not pushed: no listing"
        );
        assert_eq!(value(&later, "gh_activity_commits_24h", "ann"), Some(1.0));

        // A push (to another branch, say) lists the window again; the known commit and the
        // remembered old one are not new, so they refresh no stats.
        *api.pushed_at.lock().unwrap() = t + 70;
        cycle(&api, &store, T0 + 90.0);
        assert_eq!(api.take_calls(), vec!["repos", "search", "commits"]);

        // Committed before the last cycle, pushed after it.
        api.commits
            .lock()
            .unwrap()
            .push(commit("late", t - 50, "bob"));
        *api.pushed_at.lock().unwrap() = t + 100;
        let pushed = cycle(&api, &store, T0 + 120.0);
        assert_eq!(value(&pushed, "gh_activity_commits_24h", "bob"), Some(1.0));
        assert_eq!(value(&pushed, "gh_activity_commits_24h", "ann"), Some(1.0));
    }

    fn carried_item(
        number: u64,
        t: i64,
        reviews: Option<Vec<ReviewInfo>>,
        complete_from: Option<i64>,
    ) -> IssueItem {
        IssueItem {
            repo: "r".into(),
            number,
            is_pull: true,
            author: "ann".into(),
            author_is_bot: false,
            created_at: t - 500,
            updated_at: t - 10,
            merged_at: None,
            reviews,
            comments: Some(Listed {
                items: vec![CommentInfo {
                    id: 100 + number,
                    user: "cy".into(),
                    user_is_bot: false,
                    created_at: t - 20,
                }],
                complete_from,
            }),
        }
    }

    /// Reviews and comments carried by the search (GraphQL) are counted without per-repository
    /// calls; a cut review list or a comment list that does not reach back to the cursor is
    /// completed over REST.
    #[test]
    fn carried_reviews_and_comments_save_calls_unless_cut() {
        let api = Arc::new(Scripted::default());
        let store = Arc::new(MemoryStateStore::new());
        let t = T0 as i64;
        *api.pushed_at.lock().unwrap() = t - 100_000;
        let review = ReviewInfo {
            id: 9,
            user: "bob".into(),
            user_is_bot: false,
            submitted_at: Some(t - 30),
        };
        let pending = ReviewInfo {
            id: 10,
            user: "dee".into(),
            user_is_bot: false,
            submitted_at: None,
        };
        api.search
            .lock()
            .unwrap()
            .push(carried_item(1, t, Some(vec![review, pending]), None));
        let first = cycle(&api, &store, T0);
        assert_eq!(api.take_calls(), vec!["repos", "search"]);
        assert_eq!(
            value(&first, "gh_activity_reviews_submitted_24h", "bob"),
            Some(1.0)
        );
        assert_eq!(
            value(&first, "gh_activity_reviews_submitted_24h", "dee"),
            None,
            "pending"
        );
        assert_eq!(
            value(&first, "gh_activity_issue_comments_24h", "cy"),
            Some(1.0)
        );
        assert_eq!(
            value(&first, "gh_activity_prs_opened_24h", "ann"),
            Some(1.0)
        );

        // A cut review list, and comments complete only after the repository's cursor.
        let later = T0 + 60.0;
        let lt = later as i64;
        api.search.lock().unwrap().clear();
        api.search
            .lock()
            .unwrap()
            .push(carried_item(2, lt, None, Some(lt - 20)));
        cycle(&api, &store, later);
        assert_eq!(
            api.take_calls(),
            vec!["repos", "search", "reviews", "comments"]
        );
    }

    /// A failed endpoint keeps what succeeded, reports the exact 24 h window, leaves its cursor
    /// so the next cycle catches up, and never stretches the window.
    #[test]
    fn failed_endpoint_is_reported_and_caught_up_next_cycle() {
        let api = Arc::new(Scripted::default());
        let store = Arc::new(MemoryStateStore::new());
        let t = T0 as i64;
        *api.pushed_at.lock().unwrap() = t - 50;
        api.commits.lock().unwrap().push(commit("a", t - 50, "ann"));
        api.comments.lock().unwrap().push(CommentInfo {
            id: 1,
            user: "bob".into(),
            user_is_bot: false,
            created_at: t - 40,
        });
        api.search.lock().unwrap().push(IssueItem {
            repo: "r".into(),
            number: 5,
            is_pull: false,
            author: "bob".into(),
            author_is_bot: false,
            created_at: t - 40,
            updated_at: t - 40,
            merged_at: None,
            reviews: None,
            comments: None,
        });
        *api.fail_comments.lock().unwrap() = true;
        let first = cycle(&api, &store, T0);
        assert_eq!(first.result, CycleResult::Partial);
        assert_eq!(
            value(&first, "gh_activity_commits_24h", "ann"),
            Some(1.0),
            "what succeeded is kept"
        );
        assert_eq!(value(&first, "gh_activity_issue_comments_24h", "bob"), None);
        assert_eq!(
            first.missing,
            vec![Missing {
                repo: "r".into(),
                window_start: T0 - WINDOW_SECS,
                window_end: T0,
                reason: Reason::ActivityIssueCommentsFailed
            }]
        );
        *api.fail_comments.lock().unwrap() = false;
        let second = cycle(&api, &store, T0 + 60.0);
        assert_eq!(second.result, CycleResult::Success);
        assert_eq!(
            value(&second, "gh_activity_issue_comments_24h", "bob"),
            Some(1.0),
            "caught up from the old cursor"
        );
    }
}
