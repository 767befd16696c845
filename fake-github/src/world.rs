//! The static part of the fake: organizations, members, bots and repositories, all derived from
//! the seed and the configured sizes. Activity over time lives in [`crate::activity`].

use crate::config::FakeConfig;
use crate::hash::{hash, Rng};
use crate::timefmt::{DAY, HOUR};

/// Index into [`World::users`].
pub type UserIdx = u32;

const ORG_PREFIXES: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "stark",
    "wayne",
    "hooli",
    "vandelay",
    "wonka",
    "tyrell",
    "cyberdyne",
    "soylent",
    "aperture",
    "monarch",
    "oscorp",
    "gringotts",
];
const ORG_SUFFIXES: &[&str] = &[
    "labs", "corp", "dev", "io", "systems", "works", "cloud", "hq",
];
const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yara", "zoe",
    "amir", "bea", "chen", "dana", "emeka", "fatima", "goran", "hana", "ines", "jonas", "kenji",
];
const LAST: &[&str] = &[
    "smith",
    "ng",
    "garcia",
    "okafor",
    "muller",
    "rossi",
    "kim",
    "silva",
    "novak",
    "haddad",
    "ivanova",
    "berg",
    "tanaka",
    "dubois",
    "kowalski",
    "murphy",
    "santos",
    "lindqvist",
];
const REPO_A: &[&str] = &[
    "api", "web", "billing", "auth", "search", "infra", "docs", "mobile", "data", "ml", "cli",
    "sdk", "gateway", "metrics", "ledger", "notify", "catalog", "checkout", "kernel", "ui",
];
const REPO_B: &[&str] = &[
    "service",
    "core",
    "server",
    "client",
    "tools",
    "pipeline",
    "worker",
    "proxy",
    "lib",
    "dashboard",
    "operator",
    "engine",
    "sync",
    "store",
    "config",
    "router",
];
const LANGUAGES: &[&str] = &[
    "Rust",
    "Go",
    "TypeScript",
    "Python",
    "Java",
    "Kotlin",
    "Ruby",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    User,
    Bot,
}

#[derive(Debug, Clone)]
pub struct User {
    pub login: String,
    pub id: u64,
    pub name: String,
    pub kind: UserKind,
    /// Local part of the user's non-GitHub email (`First.Last+tag` style), used by unlinked commits.
    pub plain_email_local: String,
}

impl User {
    /// The `ID+login@users.noreply.github.com` address GitHub assigns.
    pub fn noreply_email(&self) -> String {
        format!("{}+{}@users.noreply.github.com", self.id, self.login)
    }
}

/// How active a repository is; drives the hourly rates in [`crate::activity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Busy,
    Medium,
    Quiet,
    /// Reviews and comments but no pushes: no shortcut on one signal finds all activity.
    Chatty,
    /// Archived: nothing happens any more.
    Dormant,
    /// No git data at all: 409 on commits, 204 from stats; issues and comments still happen.
    Empty,
}

#[derive(Debug, Clone)]
pub struct Repo {
    /// Index into [`World::repos`].
    pub gid: usize,
    pub org: usize,
    pub name: String,
    pub id: u64,
    pub profile: Profile,
    pub archived: bool,
    pub fork: bool,
    /// `stats/contributors` reports zero additions/deletions (non-zero commits) for large repos.
    pub large: bool,
    pub created_at: i64,
    pub default_branch: String,
    pub language: &'static str,
    pub description: String,
    pub stars: u64,
    /// Members (and bots) who act in this repository.
    pub contributors: Vec<UserIdx>,
    /// Time of the last change to repository settings (feeds `updated_at`).
    pub settings_updated_at: i64,
}

/// What kind of account owns a world's repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Organization,
    /// A personal account: no `/orgs/{login}/…` endpoint exists for it, search takes `user:`
    /// only, and it has no Copilot reports.
    User,
}

/// An owner of repositories: an organization or, with [`FakeConfig::user_owners`], a user
/// account (its activity, truth and every repository endpoint are the same).
#[derive(Debug, Clone)]
pub struct Org {
    pub idx: usize,
    pub login: String,
    pub kind: OwnerKind,
    pub id: u64,
    pub installation_id: u64,
    pub members: Vec<UserIdx>,
    /// Indexes into [`World::repos`].
    pub repos: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    pub orgs: Vec<Org>,
    pub users: Vec<User>,
    pub repos: Vec<Repo>,
    /// `web-flow`, the committer of merges made on github.com.
    pub web_flow: UserIdx,
    pub dependabot: UserIdx,
    pub actions_bot: UserIdx,
}

/// Repositories are created long before any history the fake keeps.
const REPO_EPOCH: i64 = 1_500_000_000;

impl World {
    pub fn generate(config: &FakeConfig) -> World {
        let seed = config.seed;
        let mut users = Vec::new();
        let web_flow = push_user(&mut users, "web-flow", 19_864_447, "GitHub", UserKind::User);
        let dependabot = push_user(
            &mut users,
            "dependabot[bot]",
            49_699_333,
            "dependabot[bot]",
            UserKind::Bot,
        );
        let actions_bot = push_user(
            &mut users,
            "github-actions[bot]",
            41_898_282,
            "github-actions[bot]",
            UserKind::Bot,
        );

        // Members: each org has `users` members; neighbouring orgs share a fifth of them so some
        // people are active in several orgs. User-owned accounts come after the orgs, with
        // collaborators drawn the same way.
        let owners = config.orgs + config.user_owners;
        let shared = config.users / 5;
        let stride = config.users.saturating_sub(shared).max(1);
        let pool = stride * owners.saturating_sub(1) + config.users;
        let mut pool_idx = Vec::with_capacity(pool);
        let mut taken = std::collections::HashSet::new();
        for i in 0..pool {
            let mut rng = Rng::new(&[seed, 1, i as u64]);
            let first = rng.pick(FIRST).copied().unwrap_or("user");
            let last = rng.pick(LAST).copied().unwrap_or("dev");
            let mut login = match rng.range(0, 2) {
                0 => format!("{first}-{last}"),
                1 => format!("{first}{}", rng.range(1, 99)),
                _ => format!("{}{last}", &first[..1]),
            };
            if !taken.insert(login.clone()) {
                login = format!("{login}-{i}");
                taken.insert(login.clone());
            }
            let name = format!(
                "{}{} {}{}",
                first[..1].to_uppercase(),
                &first[1..],
                last[..1].to_uppercase(),
                &last[1..]
            );
            let id = 1_000_000 + (hash(&[seed, 2, i as u64]) % 90_000_000);
            let idx = push_user(&mut users, &login, id, &name, UserKind::User);
            let u = &mut users[idx as usize];
            u.plain_email_local = match i % 4 {
                0 => format!("{}.{}", cap(first), cap(last)),
                1 => format!("{first}+{}", rng.pick(REPO_A).copied().unwrap_or("dev")),
                2 => format!("{}_{last}", &first[..1]),
                _ => format!("{first}.{last}"),
            };
            pool_idx.push(idx);
        }

        let mut orgs = Vec::with_capacity(owners);
        let mut repos = Vec::new();
        let mut org_names = std::collections::HashSet::new();
        for o in 0..owners {
            let mut rng = Rng::new(&[seed, 3, o as u64]);
            let kind = if o < config.orgs {
                OwnerKind::Organization
            } else {
                OwnerKind::User
            };
            let mut members: Vec<UserIdx> =
                pool_idx[o * stride..o * stride + config.users].to_vec();
            let mut login = match kind {
                OwnerKind::Organization => format!(
                    "{}-{}",
                    rng.pick(ORG_PREFIXES).copied().unwrap_or("org"),
                    rng.pick(ORG_SUFFIXES).copied().unwrap_or("hq")
                ),
                OwnerKind::User => format!(
                    "{}-{}-oss",
                    rng.pick(FIRST).copied().unwrap_or("user"),
                    rng.pick(LAST).copied().unwrap_or("dev")
                ),
            };
            if !org_names.insert(login.clone()) || taken.contains(&login) {
                login = format!("{login}-{o}");
                org_names.insert(login.clone());
            }
            let id = 9_000_000 + hash(&[seed, 4, o as u64]) % 1_000_000;
            if kind == OwnerKind::User {
                // The account's owner works in its repositories too.
                let name = format!("{} (personal)", login);
                members.insert(0, push_user(&mut users, &login, id, &name, UserKind::User));
            }
            let mut org = Org {
                idx: o,
                login,
                kind,
                id,
                installation_id: 40_000_000 + o as u64 * 1_000 + hash(&[seed, 5, o as u64]) % 1_000,
                members,
                repos: Vec::new(),
            };
            let mut repo_names = std::collections::HashSet::new();
            for r in 0..config.repos {
                let gid = repos.len();
                let repo = make_repo(
                    seed,
                    &org,
                    gid,
                    r,
                    config.repos,
                    &mut repo_names,
                    [dependabot, actions_bot],
                );
                org.repos.push(gid);
                repos.push(repo);
            }
            orgs.push(org);
        }
        World {
            seed,
            orgs,
            users,
            repos,
            web_flow,
            dependabot,
            actions_bot,
        }
    }

    pub fn user(&self, idx: UserIdx) -> &User {
        &self.users[idx as usize]
    }

    /// The organization `login` (a user-owned account is not one: `/orgs/{user}/…` is 404).
    pub fn org_by_login(&self, login: &str) -> Option<&Org> {
        self.owner_by_login(login)
            .filter(|o| o.kind == OwnerKind::Organization)
    }

    /// The owner `login`, organization or user account.
    pub fn owner_by_login(&self, login: &str) -> Option<&Org> {
        self.orgs
            .iter()
            .find(|o| o.login.eq_ignore_ascii_case(login))
    }

    /// An account by login: an owner or a user of the world.
    pub fn user_by_login(&self, login: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(login))
    }

    pub fn org_by_installation(&self, id: u64) -> Option<&Org> {
        self.orgs.iter().find(|o| o.installation_id == id)
    }

    pub fn repo_by_name(&self, owner: &str, name: &str) -> Option<&Repo> {
        let org = self.owner_by_login(owner)?;
        org.repos
            .iter()
            .map(|gid| &self.repos[*gid])
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn push_user(users: &mut Vec<User>, login: &str, id: u64, name: &str, kind: UserKind) -> UserIdx {
    users.push(User {
        login: login.to_string(),
        id,
        name: name.to_string(),
        kind,
        plain_email_local: login.to_string(),
    });
    (users.len() - 1) as UserIdx
}

/// Special repositories are placed at fixed indexes so every org of a useful size has one of
/// each: 1 empty, 2 large, 3 archived, 4 fork, 5 chatty. Index 0 is always busy.
fn make_repo(
    seed: u64,
    org: &Org,
    gid: usize,
    r: usize,
    count: usize,
    names: &mut std::collections::HashSet<String>,
    bots: [UserIdx; 2],
) -> Repo {
    let mut rng = Rng::new(&[seed, 6, org.idx as u64, r as u64]);
    let mut name = format!(
        "{}-{}",
        rng.pick(REPO_A).copied().unwrap_or("repo"),
        rng.pick(REPO_B).copied().unwrap_or("core")
    );
    if !names.insert(name.clone()) {
        name = format!("{name}-{r}");
        names.insert(name.clone());
    }
    let (profile, archived, fork, large) = match r {
        0 => (Profile::Busy, false, false, false),
        1 if count >= 3 => (Profile::Empty, false, false, false),
        2 if count >= 4 => (Profile::Medium, false, false, true),
        3 if count >= 5 => (Profile::Dormant, true, false, false),
        4 if count >= 6 => (Profile::Medium, false, true, false),
        5 if count >= 7 => (Profile::Chatty, false, false, false),
        _ => {
            let u = rng.unit();
            let p = if u < 0.12 {
                Profile::Busy
            } else if u < 0.40 {
                Profile::Medium
            } else if u < 0.50 {
                Profile::Chatty
            } else {
                Profile::Quiet
            };
            (p, false, rng.chance(0.08), false)
        }
    };
    // Contributors: a handful of members, more for busy repos; bots in some.
    let want = match profile {
        Profile::Busy => rng.range(6, 12),
        Profile::Medium | Profile::Chatty => rng.range(3, 7),
        _ => rng.range(2, 4),
    } as usize;
    let mut contributors: Vec<UserIdx> = Vec::new();
    let members = &org.members;
    for _ in 0..want.min(members.len()) * 3 {
        if contributors.len() >= want.min(members.len()) {
            break;
        }
        if let Some(u) = rng.pick(members) {
            if !contributors.contains(u) {
                contributors.push(*u);
            }
        }
    }
    if rng.chance(0.5) || r == 0 {
        contributors.push(bots[0]);
    }
    if rng.chance(0.25) {
        contributors.push(bots[1]);
    }
    let created_at = REPO_EPOCH + rng.range(0, 400) * DAY + rng.range(0, 23) * HOUR;
    Repo {
        gid,
        org: org.idx,
        id: 100_000_000
            + org.idx as u64 * 100_000
            + r as u64 * 7
            + hash(&[seed, 7, gid as u64]) % 7,
        name,
        profile,
        archived,
        fork,
        large,
        created_at,
        default_branch: if rng.chance(0.8) { "main" } else { "master" }.to_string(),
        language: rng.pick(LANGUAGES).copied().unwrap_or("Rust"),
        description: format!("The {} of {}", profile_word(profile), org.login),
        stars: rng.range(0, 500) as u64,
        contributors,
        settings_updated_at: created_at + rng.range(1, 1500) * DAY,
    }
}

fn profile_word(p: Profile) -> &'static str {
    match p {
        Profile::Busy => "busiest service",
        Profile::Medium => "steady component",
        Profile::Quiet => "quiet corner",
        Profile::Chatty => "design discussions",
        Profile::Dormant => "retired system",
        Profile::Empty => "new idea",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed and sizes give the same names; another seed gives other names.
    #[test]
    fn world_is_deterministic_for_a_seed() {
        let cfg = FakeConfig {
            orgs: 3,
            repos: 10,
            users: 8,
            ..FakeConfig::default()
        };
        let a = World::generate(&cfg);
        let b = World::generate(&cfg);
        let names = |w: &World| w.orgs.iter().map(|o| o.login.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        assert_eq!(
            a.repos.iter().map(|r| &r.name).collect::<Vec<_>>(),
            b.repos.iter().map(|r| &r.name).collect::<Vec<_>>()
        );
        let c = World::generate(&FakeConfig { seed: 8, ..cfg });
        assert_ne!(
            a.users.iter().map(|u| &u.login).collect::<Vec<_>>(),
            c.users.iter().map(|u| &u.login).collect::<Vec<_>>()
        );
    }

    /// Every org of ten repos has the special kinds the exporter must handle.
    #[test]
    fn special_repositories_exist() {
        let w = World::generate(&FakeConfig {
            orgs: 2,
            repos: 10,
            ..FakeConfig::default()
        });
        for org in &w.orgs {
            let repos: Vec<&Repo> = org.repos.iter().map(|g| &w.repos[*g]).collect();
            assert!(repos.iter().any(|r| r.profile == Profile::Empty));
            assert!(repos.iter().any(|r| r.large));
            assert!(repos.iter().any(|r| r.archived));
            assert!(repos.iter().any(|r| r.fork));
            let names: std::collections::HashSet<_> = repos.iter().map(|r| &r.name).collect();
            assert_eq!(names.len(), repos.len());
        }
    }
}
