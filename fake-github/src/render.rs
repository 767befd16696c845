//! JSON shapes as GitHub's REST API returns them (the fields of the published OpenAPI schemas;
//! `files` of a commit and a few rarely used fields are omitted, as the issue allows).

use serde_json::{json, Map, Value};

use crate::activity::{Commit, Review};
use crate::snapshot::{CommentView, ContributorWeeks, IssueView, PullView, RepoSnapshot};
use crate::timefmt::iso;
use crate::world::{Repo, User, UserIdx, UserKind, World};

/// The web host used in `html_url` fields (the fake serves no HTML).
pub const WEB: &str = "https://github.com";

/// Context shared by all renderers: the world and the API base used in `url` fields.
pub struct Ctx<'a> {
    pub world: &'a World,
    pub api: &'a str,
}

impl Ctx<'_> {
    pub fn user(&self, idx: UserIdx) -> Value {
        user_json(self.api, self.world.user(idx))
    }

    fn full_name(&self, repo: &Repo) -> String {
        format!("{}/{}", self.world.orgs[repo.org].login, repo.name)
    }
}

pub fn user_json(api: &str, u: &User) -> Value {
    let l = &u.login;
    json!({
        "login": l,
        "id": u.id,
        "node_id": format!("MDQ6VXNlcn{}", u.id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", u.id),
        "gravatar_id": "",
        "url": format!("{api}/users/{l}"),
        "html_url": format!("{WEB}/{l}"),
        "followers_url": format!("{api}/users/{l}/followers"),
        "following_url": format!("{api}/users/{l}/following{{/other_user}}"),
        "gists_url": format!("{api}/users/{l}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/users/{l}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/users/{l}/subscriptions"),
        "organizations_url": format!("{api}/users/{l}/orgs"),
        "repos_url": format!("{api}/users/{l}/repos"),
        "events_url": format!("{api}/users/{l}/events{{/privacy}}"),
        "received_events_url": format!("{api}/users/{l}/received_events"),
        "type": if u.kind == UserKind::Bot { "Bot" } else { "User" },
        "user_view_type": "public",
        "site_admin": false
    })
}

pub fn org_owner_json(api: &str, login: &str, id: u64) -> Value {
    let mut v = user_json(
        api,
        &User {
            login: login.to_string(),
            id,
            name: login.to_string(),
            kind: UserKind::User,
            plain_email_local: String::new(),
        },
    );
    v["type"] = json!("Organization");
    v["url"] = json!(format!("{api}/orgs/{login}"));
    v
}

/// The `owner` of an owner's repositories: an organization, or a user account.
pub fn owner_json(api: &str, org: &crate::world::Org) -> Value {
    match org.kind {
        crate::world::OwnerKind::Organization => org_owner_json(api, &org.login, org.id),
        crate::world::OwnerKind::User => user_json(
            api,
            &User {
                login: org.login.clone(),
                id: org.id,
                name: org.login.clone(),
                kind: UserKind::User,
                plain_email_local: String::new(),
            },
        ),
    }
}

/// A full `repository` object (a superset of `minimal-repository`).
pub fn repo_json(c: &Ctx<'_>, repo: &Repo, snap: &RepoSnapshot) -> Value {
    let api = c.api;
    let org = &c.world.orgs[repo.org];
    let full = c.full_name(repo);
    let base = format!("{api}/repos/{full}");
    let mut m = Map::new();
    m.insert("id".into(), json!(repo.id));
    m.insert("node_id".into(), json!(format!("R_kgDO{}", repo.id)));
    m.insert("name".into(), json!(repo.name));
    m.insert("full_name".into(), json!(full));
    m.insert("private".into(), json!(false));
    m.insert("owner".into(), owner_json(api, org));
    m.insert("html_url".into(), json!(format!("{WEB}/{full}")));
    m.insert("description".into(), json!(repo.description));
    m.insert("fork".into(), json!(repo.fork));
    m.insert("url".into(), json!(base));
    for (key, suffix) in REPO_URLS {
        m.insert((*key).into(), json!(format!("{base}{suffix}")));
    }
    m.insert(
        "git_url".into(),
        json!(format!("git://github.com/{full}.git")),
    );
    m.insert(
        "ssh_url".into(),
        json!(format!("git@github.com:{full}.git")),
    );
    m.insert("clone_url".into(), json!(format!("{WEB}/{full}.git")));
    m.insert("svn_url".into(), json!(format!("{WEB}/{full}")));
    m.insert("mirror_url".into(), Value::Null);
    m.insert("homepage".into(), Value::Null);
    m.insert("language".into(), json!(repo.language));
    m.insert(
        "size".into(),
        json!(if snap.is_empty_repo() {
            0
        } else {
            100 + snap.commits.len() * 3
        }),
    );
    m.insert("stargazers_count".into(), json!(repo.stars));
    m.insert("watchers_count".into(), json!(repo.stars));
    m.insert("watchers".into(), json!(repo.stars));
    m.insert("forks_count".into(), json!(repo.stars / 10));
    m.insert("forks".into(), json!(repo.stars / 10));
    m.insert("open_issues_count".into(), json!(snap.open_issues));
    m.insert("open_issues".into(), json!(snap.open_issues));
    m.insert("has_issues".into(), json!(true));
    m.insert("has_projects".into(), json!(true));
    m.insert("has_downloads".into(), json!(true));
    m.insert("has_wiki".into(), json!(false));
    m.insert("has_pages".into(), json!(false));
    m.insert("has_discussions".into(), json!(false));
    m.insert("archived".into(), json!(repo.archived));
    m.insert("disabled".into(), json!(false));
    m.insert("visibility".into(), json!("public"));
    m.insert("is_template".into(), json!(false));
    m.insert("allow_forking".into(), json!(true));
    m.insert("web_commit_signoff_required".into(), json!(false));
    m.insert("topics".into(), json!([]));
    m.insert("license".into(), Value::Null);
    m.insert("default_branch".into(), json!(repo.default_branch));
    m.insert("pushed_at".into(), json!(iso(snap.pushed_at)));
    m.insert("created_at".into(), json!(iso(repo.created_at)));
    m.insert("updated_at".into(), json!(iso(snap.updated_at)));
    m.insert(
        "permissions".into(),
        json!({"admin": false, "maintain": false, "push": false, "triage": false, "pull": true}),
    );
    Value::Object(m)
}

const REPO_URLS: &[(&str, &str)] = &[
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("hooks_url", "/hooks"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    (
        "notifications_url",
        "/notifications{?since,all,participating}",
    ),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
];

/// A commit as listed by `GET …/commits`; `detail` adds `stats` (and an empty `files`).
pub fn commit_json(
    c: &Ctx<'_>,
    repo: &Repo,
    commit: &Commit,
    parent: Option<&Commit>,
    detail: bool,
) -> Value {
    let full = c.full_name(repo);
    let base = format!("{}/repos/{full}", c.api);
    let sha = &commit.sha;
    let person = |login: Option<UserIdx>| login.map(|u| c.user(u)).unwrap_or(Value::Null);
    let parents: Vec<Value> = parent
        .map(|p| json!({"sha": p.sha, "url": format!("{base}/commits/{}", p.sha), "html_url": format!("{WEB}/{full}/commit/{}", p.sha)}))
        .into_iter()
        .collect();
    let mut v = json!({
        "url": format!("{base}/commits/{sha}"),
        "sha": sha,
        "node_id": format!("C_kwDO{}", &sha[..12]),
        "html_url": format!("{WEB}/{full}/commit/{sha}"),
        "comments_url": format!("{base}/commits/{sha}/comments"),
        "commit": {
            "url": format!("{base}/git/commits/{sha}"),
            "author": {"name": commit.author.name, "email": commit.author.email, "date": iso(commit.author_date)},
            "committer": {"name": commit.committer.name, "email": commit.committer.email, "date": iso(commit.committer_date)},
            "message": commit.message,
            "comment_count": 0,
            "tree": {"sha": &sha[..40].chars().rev().collect::<String>(), "url": format!("{base}/git/trees/{sha}")},
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
        },
        "author": person(commit.author_login),
        "committer": person(commit.committer_login),
        "parents": parents
    });
    if detail {
        v["stats"] = json!({
            "additions": commit.additions,
            "deletions": commit.deletions,
            "total": commit.additions + commit.deletions
        });
        v["files"] = json!([]);
    }
    v
}

fn pull_ref(c: &Ctx<'_>, repo: &Repo, snap: &RepoSnapshot, r#ref: &str, sha: &str) -> Value {
    let org = &c.world.orgs[repo.org];
    json!({
        "label": format!("{}:{ref}", org.login, ref = r#ref),
        "ref": r#ref,
        "sha": sha,
        "user": owner_json(c.api, org),
        "repo": repo_json(c, repo, snap)
    })
}

/// A `pull-request-simple` object as listed by `GET …/pulls`.
pub fn pull_json(
    c: &Ctx<'_>,
    repo: &Repo,
    snap: &RepoSnapshot,
    pv: &PullView,
    base_sha: &str,
) -> Value {
    let p = &pv.pull;
    let full = c.full_name(repo);
    let base = format!("{}/repos/{full}", c.api);
    let n = p.number;
    let url = format!("{base}/pulls/{n}");
    let html = format!("{WEB}/{full}/pull/{n}");
    json!({
        "url": url,
        "id": p.id,
        "node_id": format!("PR_kwDO{}", p.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{base}/issues/{n}"),
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{base}/pulls/comments{{/number}}"),
        "comments_url": format!("{base}/issues/{n}/comments"),
        "statuses_url": format!("{base}/statuses/{}", p.head_sha),
        "number": n,
        "state": if pv.is_open() { "open" } else { "closed" },
        "locked": false,
        "title": p.title,
        "user": c.user(p.author),
        "body": null,
        "labels": [],
        "milestone": null,
        "active_lock_reason": null,
        "created_at": iso(p.created_at),
        "updated_at": iso(pv.updated_at),
        "closed_at": pv.closed_at.map(iso),
        "merged_at": pv.merged_at.map(iso),
        "merge_commit_sha": pv.merged_at.and(p.merge_commit.as_ref().map(|m| m.sha.clone())),
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": pull_ref(c, repo, snap, &p.head_ref, &p.head_sha),
        "base": pull_ref(c, repo, snap, &repo.default_branch, base_sha),
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "issue": {"href": format!("{base}/issues/{n}")},
            "comments": {"href": format!("{base}/issues/{n}/comments")},
            "review_comments": {"href": format!("{url}/comments")},
            "review_comment": {"href": format!("{base}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{url}/commits")},
            "statuses": {"href": format!("{base}/statuses/{}", p.head_sha)}
        },
        "author_association": association(c, p.author),
        "auto_merge": null,
        "draft": false
    })
}

fn association(c: &Ctx<'_>, user: UserIdx) -> &'static str {
    if c.world.user(user).kind == UserKind::Bot {
        "CONTRIBUTOR"
    } else {
        "MEMBER"
    }
}

pub fn review_json(c: &Ctx<'_>, repo: &Repo, pull: &PullView, r: &Review) -> Value {
    let full = c.full_name(repo);
    let n = pull.pull.number;
    let html = format!("{WEB}/{full}/pull/{n}#pullrequestreview-{}", r.id);
    let pr_url = format!("{}/repos/{full}/pulls/{n}", c.api);
    let mut v = json!({
        "id": r.id,
        "node_id": format!("PRR_kwDO{}", r.id),
        "user": c.user(r.user),
        "body": "",
        "state": r.state.as_str(),
        "html_url": html,
        "pull_request_url": pr_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
        "commit_id": pull.pull.head_sha,
        "author_association": association(c, r.user)
    });
    if let Some(t) = r.submitted_at {
        v["submitted_at"] = json!(iso(t));
    }
    v
}

pub fn comment_json(c: &Ctx<'_>, repo: &Repo, cv: &CommentView) -> Value {
    let full = c.full_name(repo);
    let cm = &cv.comment;
    let base = format!("{}/repos/{full}", c.api);
    let kind = if cm.is_pull { "pull" } else { "issues" };
    json!({
        "id": cm.id,
        "node_id": format!("IC_kwDO{}", cm.id),
        "url": format!("{base}/issues/comments/{}", cm.id),
        "html_url": format!("{WEB}/{full}/{kind}/{}#issuecomment-{}", cm.issue_number, cm.id),
        "body": "Looks good to me",
        "user": c.user(cm.user),
        "created_at": iso(cm.created_at),
        "updated_at": iso(cv.updated_at),
        "issue_url": format!("{base}/issues/{}", cm.issue_number),
        "author_association": association(c, cm.user)
    })
}

/// One `issue-search-result-item`, for an issue or a pull request.
pub struct SearchItem<'a> {
    pub repo: &'a Repo,
    pub number: u64,
    pub id: u64,
    pub title: &'a str,
    pub author: UserIdx,
    pub open: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub comments: usize,
    /// `Some(merged_at)` for pull requests.
    pub pull: Option<Option<i64>>,
}

pub fn search_item_json(c: &Ctx<'_>, it: &SearchItem<'_>) -> Value {
    let full = c.full_name(it.repo);
    let base = format!("{}/repos/{full}", c.api);
    let n = it.number;
    let kind = if it.pull.is_some() { "pull" } else { "issues" };
    let mut v = json!({
        "url": format!("{base}/issues/{n}"),
        "repository_url": base,
        "labels_url": format!("{base}/issues/{n}/labels{{/name}}"),
        "comments_url": format!("{base}/issues/{n}/comments"),
        "events_url": format!("{base}/issues/{n}/events"),
        "html_url": format!("{WEB}/{full}/{kind}/{n}"),
        "id": it.id,
        "node_id": format!("I_kwDO{}", it.id),
        "number": n,
        "title": it.title,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "user": c.user(it.author),
        "labels": [],
        "state": if it.open { "open" } else { "closed" },
        "milestone": null,
        "comments": it.comments,
        "created_at": iso(it.created_at),
        "updated_at": iso(it.updated_at),
        "closed_at": it.closed_at.map(iso),
        "author_association": association(c, it.author),
        "body": "",
        "score": 1.0
    });
    if let Some(merged_at) = it.pull {
        v["pull_request"] = json!({
            "url": format!("{base}/pulls/{n}"),
            "html_url": format!("{WEB}/{full}/pull/{n}"),
            "diff_url": format!("{WEB}/{full}/pull/{n}.diff"),
            "patch_url": format!("{WEB}/{full}/pull/{n}.patch"),
            "merged_at": merged_at.map(iso)
        });
    }
    v
}

pub fn search_item_for_pull<'a>(
    repo: &'a Repo,
    pv: &'a PullView,
    comments: usize,
) -> SearchItem<'a> {
    SearchItem {
        repo,
        number: pv.pull.number,
        id: pv.pull.id,
        title: &pv.pull.title,
        author: pv.pull.author,
        open: pv.is_open(),
        created_at: pv.pull.created_at,
        updated_at: pv.updated_at,
        closed_at: pv.closed_at,
        comments,
        pull: Some(pv.merged_at),
    }
}

pub fn search_item_for_issue<'a>(
    repo: &'a Repo,
    iv: &'a IssueView,
    comments: usize,
) -> SearchItem<'a> {
    SearchItem {
        repo,
        number: iv.issue.number,
        id: iv.issue.id,
        title: &iv.issue.title,
        author: iv.issue.author,
        open: iv.closed_at.is_none(),
        created_at: iv.issue.created_at,
        updated_at: iv.updated_at,
        closed_at: iv.closed_at,
        comments,
        pull: None,
    }
}

pub fn contributor_json(c: &Ctx<'_>, row: &ContributorWeeks) -> Value {
    let total: u64 = row.weeks.iter().map(|w| w.3).sum();
    json!({
        "author": c.user(row.user),
        "total": total,
        "weeks": row.weeks.iter().map(|(w, a, d, n)| json!({"w": w, "a": a, "d": d, "c": n})).collect::<Vec<_>>()
    })
}

/// GitHub's error body.
pub fn error_body(message: &str, status: u16) -> Value {
    json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.to_string()
    })
}
