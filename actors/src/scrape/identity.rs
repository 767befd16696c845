//! Who an event counts for: the commit author resolution chain, and bot detection
//! for `github.exclude_bots`.
//!
//! Chain: `author.login` → `committer.login` → login of a `…@users.noreply.github.com` address
//! (author, then committer; the part after `+`) → normalised email local part (author, then
//! committer) → `unlinked_git_author` when a name exists → `unattributed_commit`.

use super::port::CommitInfo;

pub const UNLINKED_GIT_AUTHOR: &str = "unlinked_git_author";
pub const UNATTRIBUTED_COMMIT: &str = "unattributed_commit";
const NOREPLY_SUFFIX: &str = "@users.noreply.github.com";

/// The `user` label of a commit.
pub fn commit_user(c: &CommitInfo) -> String {
    for login in [&c.author_login, &c.committer_login].into_iter().flatten() {
        if !login.is_empty() {
            return login.clone();
        }
    }
    for email in [&c.author_email, &c.committer_email] {
        if let Some(login) = noreply_login(email) {
            return login;
        }
    }
    for email in [&c.author_email, &c.committer_email] {
        let local = normalized_local_part(email);
        if !local.is_empty() {
            return local;
        }
    }
    if !c.author_name.trim().is_empty() || !c.committer_name.trim().is_empty() {
        return UNLINKED_GIT_AUTHOR.to_string();
    }
    UNATTRIBUTED_COMMIT.to_string()
}

/// Bot handling: an account is a bot when GitHub types it `Bot` or its login ends in `[bot]`
/// (git-only identities cannot be told apart and always count). With `github.exclude_bots`
/// their events are dropped entirely; by default they count like anyone.
pub fn is_bot_login(login: &str) -> bool {
    login.ends_with("[bot]")
}

fn noreply_login(email: &str) -> Option<String> {
    let lower = email.to_ascii_lowercase();
    if !lower.ends_with(NOREPLY_SUFFIX) {
        return None;
    }
    let local = &email[..email.len() - NOREPLY_SUFFIX.len()];
    let login = match local.rsplit_once('+') {
        Some((_, after)) => after,
        None => local,
    };
    (!login.is_empty()).then(|| login.to_string())
}

fn normalized_local_part(email: &str) -> String {
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    let mut out = String::with_capacity(local.len());
    let mut in_run = false;
    for ch in local.chars() {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-') {
            out.push(ch);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(al: Option<&str>, cl: Option<&str>, name: &str, ae: &str, ce: &str) -> CommitInfo {
        CommitInfo {
            author_login: al.map(str::to_string),
            committer_login: cl.map(str::to_string),
            author_name: name.to_string(),
            author_email: ae.to_string(),
            committer_email: ce.to_string(),
            ..CommitInfo::default()
        }
    }

    /// Each step of the resolution chain wins over later ones and falls through when empty.
    #[test]
    fn commit_user_follows_the_resolution_chain() {
        let cases = [
            (
                commit(Some("alice"), Some("bob"), "A", "x@y", "z@w"),
                "alice",
            ),
            (commit(None, Some("bob"), "A", "x@y", "z@w"), "bob"),
            (
                commit(None, None, "A", "1+carol@users.noreply.github.com", ""),
                "carol",
            ),
            (
                commit(
                    None,
                    None,
                    "A",
                    "Plain@corp",
                    "9+erin@Users.NoReply.GitHub.com",
                ),
                "erin",
            ),
            (
                commit(None, None, "A", "Jane.Doe+CI@corp", ""),
                "jane.doe-ci",
            ),
            (commit(None, None, "A", "+++@x", "Frank@corp"), "frank"),
            (commit(None, None, "A", "", ""), UNLINKED_GIT_AUTHOR),
            (commit(Some(""), None, "", "", ""), UNATTRIBUTED_COMMIT),
        ];
        for (c, want) in cases {
            assert_eq!(commit_user(&c), want, "{c:?}");
        }
    }
}
