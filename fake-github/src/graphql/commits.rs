//! Git data over GraphQL: `Repository.defaultBranchRef`, `Ref.target`, `Commit` with its
//! `author` / `committer` (`GitActor`) and `Commit.history`. All are views of the snapshot REST's
//! `GET …/commits` lists, and `history(since:, until:)` selects with the very function REST's
//! `since`/`until` use ([`crate::snapshot::RepoSnapshot::commits_between`]: committer date,
//! both bounds inclusive), so the two APIs cannot disagree.
//!
//! GitHub difference reproduced: `GitActor.user` is typed `User`, so a commit linked to a bot
//! account (REST `author: {"login": "dependabot[bot]", "type": "Bot"}`) has `user: null`.

use std::sync::Arc;

use super::out::Out;
use super::paging::window;
use super::plan::Field;
use super::resolve::{full_name, page, ConnKind, ConnPage, Ctx, FieldError, Obj, Val};
use crate::activity::Commit;
use crate::render::WEB;
use crate::store::CachedRepo;
use crate::timefmt::{iso, parse_iso};
use crate::world::UserKind;

/// Which side of a commit a `GitActor` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitRole {
    Author,
    Committer,
}

fn text(s: impl Into<String>) -> Val {
    Val::Leaf(Out::Str(s.into()))
}

fn int(n: u32) -> Val {
    Val::Leaf(Out::Int(i64::from(n)))
}

/// `Repository.defaultBranchRef` at the query's instant: `null` for an empty repository (where
/// REST's commit listing answers 409).
pub fn default_branch_ref(gid: usize, ctx: &Ctx<'_>) -> Val {
    let c = ctx.state.store.repo(gid, ctx.now);
    if c.snap.is_empty_repo() {
        Val::Null
    } else {
        Val::Obj(Obj::Ref(c))
    }
}

/// A field of `Ref` (the default branch); `None` if the fake does not serve it.
pub fn ref_field(c: &Arc<CachedRepo>, f: &Field, ctx: &Ctx<'_>) -> Option<Val> {
    let repo = &ctx.state.world.repos[c.snap.repo];
    let v = match f.name.as_str() {
        "id" => text(format!("REF_kwDO{}", repo.id)),
        "name" => text(repo.default_branch.clone()),
        "prefix" => text("refs/heads/"),
        "repository" => Val::Obj(Obj::Repository(c.snap.repo)),
        // The head of the default branch: the newest commit REST lists.
        "target" => Val::Obj(Obj::Commit(c.clone(), 0)),
        _ => return None,
    };
    Some(v)
}

/// A field of the commit at index `i` of the snapshot; `None` if the fake does not serve it.
pub fn commit_field(
    c: &Arc<CachedRepo>,
    i: usize,
    f: &Field,
    ctx: &Ctx<'_>,
) -> Option<Result<Val, FieldError>> {
    let commit = &c.snap.commits[i];
    let sha = commit.sha.as_str();
    let commit_url = || {
        text(format!(
            "{WEB}/{}/commit/{sha}",
            full_name(&ctx.state.world, c.snap.repo)
        ))
    };
    let (headline, body) = split_message(&commit.message);
    let v = match f.name.as_str() {
        "abbreviatedOid" => text(sha.get(..7).unwrap_or(sha)),
        "additions" => int(commit.additions),
        "author" => Val::Obj(Obj::GitActor(c.clone(), i, GitRole::Author)),
        "authoredDate" => text(iso(commit.author_date)),
        "commitUrl" | "url" => commit_url(),
        "committedDate" => text(iso(commit.committer_date)),
        "committer" => Val::Obj(Obj::GitActor(c.clone(), i, GitRole::Committer)),
        "deletions" => int(commit.deletions),
        "history" => {
            return Some(history_page(c, i, f).map(|p| Val::Obj(Obj::Conn(Arc::new(p)))));
        }
        // The REST `node_id`.
        "id" => text(format!("C_kwDO{}", sha.get(..12).unwrap_or(sha))),
        "message" => text(commit.message.clone()),
        "messageBody" => text(body),
        "messageHeadline" => text(headline),
        "oid" => text(sha),
        "repository" => Val::Obj(Obj::Repository(c.snap.repo)),
        _ => return None,
    };
    Some(Ok(v))
}

/// The first line of a commit message, and the rest without its leading blank lines.
fn split_message(message: &str) -> (&str, &str) {
    match message.split_once('\n') {
        Some((head, rest)) => (
            head.trim_end_matches('\r'),
            rest.trim_start_matches(['\r', '\n']),
        ),
        None => (message, ""),
    }
}

/// A field of a commit's author or committer; `None` if the fake does not serve it.
pub fn git_actor_field(
    c: &Arc<CachedRepo>,
    i: usize,
    role: GitRole,
    f: &Field,
    ctx: &Ctx<'_>,
) -> Option<Val> {
    let commit: &Commit = &c.snap.commits[i];
    let (ident, date, login) = match role {
        GitRole::Author => (&commit.author, commit.author_date, commit.author_login),
        GitRole::Committer => (
            &commit.committer,
            commit.committer_date,
            commit.committer_login,
        ),
    };
    let v = match f.name.as_str() {
        "date" => text(iso(date)),
        "email" => text(ident.email.clone()),
        "name" => text(ident.name.clone()),
        // Typed `User`: the linked account only when it is one (bots give `null`).
        "user" => login
            .filter(|u| ctx.state.world.user(*u).kind == UserKind::User)
            .map_or(Val::Null, |u| Val::Obj(Obj::Actor(u))),
        _ => return None,
    };
    Some(v)
}

/// `Commit.history`: the commits from commit `i` down the default branch, newest first,
/// restricted to committer dates in `[since, until]` exactly as REST's `since`/`until`.
fn history_page(c: &Arc<CachedRepo>, i: usize, f: &Field) -> Result<ConnPage, FieldError> {
    // Arguments were coerced by the planner: a present `GitTimestamp` parses.
    let bound = |name: &str| f.arg_str(name).and_then(parse_iso);
    let idx = c.snap.commits_between(i, bound("since"), bound("until"));
    let w = window(idx.len(), f)?;
    Ok(page(ConnKind::History, idx.len(), w, |k| {
        Obj::Commit(c.clone(), idx[k])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The headline is the first line; the body follows without the separating blank line.
    #[test]
    fn messages_split_into_headline_and_body() {
        assert_eq!(
            split_message("Fix flaky retry #3"),
            ("Fix flaky retry #3", "")
        );
        assert_eq!(
            split_message("Bump x (#12)\r\n\r\nSigned-off-by: a"),
            ("Bump x (#12)", "Signed-off-by: a")
        );
    }
}
