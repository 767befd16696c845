//! Commit-author resolution, the exporter's rule: which `user` label a commit counts for.
//!
//! First non-empty of: `author.login` → `committer.login` → the login in a
//! `…@users.noreply.github.com` author email, then committer email (the part after `+` when there
//! is one) → the author email's local part, then the committer's, lowercased, with every run of
//! characters outside `[a-z0-9._-]` replaced by one `-` and `-` trimmed from both ends →
//! `unlinked_git_author` when a name exists → `unattributed_commit`.

/// What resolution reads from one commit of the REST payload.
#[derive(Debug, Clone, Copy)]
pub struct CommitPeople<'a> {
    pub author_login: Option<&'a str>,
    pub committer_login: Option<&'a str>,
    pub author_name: &'a str,
    pub author_email: &'a str,
    pub committer_name: &'a str,
    pub committer_email: &'a str,
}

pub const UNLINKED_GIT_AUTHOR: &str = "unlinked_git_author";
pub const UNATTRIBUTED_COMMIT: &str = "unattributed_commit";
const NOREPLY_SUFFIX: &str = "@users.noreply.github.com";

/// Resolves the user label of a commit.
pub fn resolve_commit_user(p: &CommitPeople<'_>) -> String {
    for login in [p.author_login, p.committer_login].into_iter().flatten() {
        if !login.is_empty() {
            return login.to_string();
        }
    }
    for email in [p.author_email, p.committer_email] {
        if let Some(login) = noreply_login(email) {
            return login;
        }
    }
    for email in [p.author_email, p.committer_email] {
        let local = normalized_local_part(email);
        if !local.is_empty() {
            return local;
        }
    }
    if !p.author_name.trim().is_empty() || !p.committer_name.trim().is_empty() {
        return UNLINKED_GIT_AUTHOR.to_string();
    }
    UNATTRIBUTED_COMMIT.to_string()
}

/// The login inside a noreply address (`ID+login@…` or `login@…`); the suffix is matched
/// case-insensitively.
pub fn noreply_login(email: &str) -> Option<String> {
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

/// The text before the first `@` (all of it when there is none), lowercased, runs outside
/// `[a-z0-9._-]` replaced by `-`, then `-` trimmed from both ends.
pub fn normalized_local_part(email: &str) -> String {
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

    fn people<'a>(
        al: Option<&'a str>,
        cl: Option<&'a str>,
        an: &'a str,
        ae: &'a str,
        ce: &'a str,
    ) -> CommitPeople<'a> {
        CommitPeople {
            author_login: al,
            committer_login: cl,
            author_name: an,
            author_email: ae,
            committer_name: "",
            committer_email: ce,
        }
    }

    /// Each step of the chain wins over the later ones, and falls through when empty.
    #[test]
    fn resolution_follows_the_documented_chain() {
        let cases = [
            (
                people(Some("alice"), Some("bob"), "A", "x@y", "z@w"),
                "alice",
            ),
            (people(None, Some("bob"), "A", "x@y", "z@w"), "bob"),
            (
                people(None, None, "A", "1+carol@users.noreply.github.com", "z@w"),
                "carol",
            ),
            (
                people(None, None, "A", "dave@users.noreply.github.com", ""),
                "dave",
            ),
            (
                people(
                    None,
                    None,
                    "A",
                    "Plain.Person@corp",
                    "9+erin@Users.NoReply.GitHub.com",
                ),
                "erin",
            ),
            (
                people(None, None, "A", "Jane.Doe+CI@corp", "z@w"),
                "jane.doe-ci",
            ),
            (people(None, None, "A", "--a  b!!Dev--@x", ""), "a-b-dev"),
            (people(None, None, "A", "+++@x", "Frank@corp"), "frank"),
            (people(None, None, "A", "", ""), UNLINKED_GIT_AUTHOR),
            (people(None, None, "", "", ""), UNATTRIBUTED_COMMIT),
            (people(Some(""), None, "", "", ""), UNATTRIBUTED_COMMIT),
        ];
        for (p, want) in cases {
            assert_eq!(resolve_commit_user(&p), want, "{p:?}");
        }
    }
}
