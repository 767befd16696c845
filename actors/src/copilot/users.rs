//! The per-user families of a Copilot users report: each user's latest row kept in bounded
//! memory ([`UserReduction`]) and the `user` label it is served under ([`UserLabelMode`],
//! [`hashed`]).

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::mapping::{add, MapSettings, Scope};
use super::model::UserRow;
use crate::calendar::day_start;
use crate::metrics::copilot as families;
use crate::ports::Sample;

/// How the `user` label of the per-user series is filled (`copilot.user_label_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserLabelMode {
    /// The login.
    Login,
    /// The numeric user id.
    Id,
    /// [`hashed`] of the login with `copilot.user_label_salt`.
    Hashed,
    /// No `user` label: one series of sums over every user.
    None,
}

/// Each user's latest row of a users report, in bounded memory: one entry per user.
#[derive(Debug, Default)]
pub struct UserReduction {
    /// Key (id, else login) → index into `users`.
    index: HashMap<String, usize>,
    users: Vec<UserRow>,
    max_users: usize,
    /// Rows of users past `max_users`.
    pub user_cap_skipped: u64,
}

impl UserReduction {
    /// `max_users` = 0: no cap.
    pub fn new(max_users: usize) -> UserReduction {
        UserReduction {
            max_users,
            ..UserReduction::default()
        }
    }

    /// Takes one row (keeps it when it is the user's latest day so far).
    pub fn add(&mut self, row: UserRow) {
        let key = match (&row.user_id, &row.user_login) {
            (Some(id), _) => id.to_string(),
            (None, Some(login)) => format!("login:{login}"),
            (None, None) => return,
        };
        match self.index.get(&key) {
            Some(&i) => {
                if row.day > self.users[i].day {
                    self.users[i] = row;
                }
            }
            None => {
                if self.max_users != 0 && self.users.len() >= self.max_users {
                    self.user_cap_skipped += 1;
                    return;
                }
                self.index.insert(key, self.users.len());
                self.users.push(row);
            }
        }
    }

    /// Users kept.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// No user kept.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The per-user families.
    pub fn series(&self, scope: &Scope, s: &MapSettings) -> Vec<Sample> {
        let mut out = Vec::new();
        if s.user_label_mode == UserLabelMode::None {
            let mut sums = [None; 7];
            let mut last: Option<&str> = None;
            for user in &self.users {
                add(&mut sums, user.counters().values());
                if let Some(day) = user.day.as_deref() {
                    if last.is_none_or(|l| day > l) {
                        last = Some(day);
                    }
                }
            }
            let day = last.filter(|_| s.emit_day_label);
            push_user(&mut out, scope, day, &[], sums, last);
            return out;
        }
        for user in &self.users {
            let label = match s.user_label_mode {
                UserLabelMode::Login => user.user_login.clone(),
                UserLabelMode::Id => user.user_id.map(|id| id.to_string()),
                UserLabelMode::Hashed => user
                    .user_login
                    .as_deref()
                    .map(|login| hashed(s.user_label_salt.as_ref(), login)),
                UserLabelMode::None => None,
            };
            let Some(label) = label else { continue };
            let day = user.day.as_deref().filter(|_| s.emit_day_label);
            push_user(
                &mut out,
                scope,
                day,
                &[("user", &label)],
                user.counters().values(),
                user.day.as_deref(),
            );
        }
        out
    }
}

fn push_user(
    out: &mut Vec<Sample>,
    scope: &Scope,
    day: Option<&str>,
    extra: &[(&str, &str)],
    values: [Option<f64>; 7],
    last_day: Option<&str>,
) {
    for (family, value) in families::USER.iter().zip(values) {
        if let Some(v) = value {
            out.push(scope.sample(family.name, day, extra, v));
        }
    }
    if let Some(ts) = last_day.and_then(day_start) {
        out.push(scope.sample(families::USER_LAST_ACTIVE_DAY.name, day, extra, ts as f64));
    }
}

/// First 16 hex digits of SHA-256(salt ‖ login).
pub fn hashed(salt: Option<&SecretString>, login: &str) -> String {
    let mut hasher = Sha256::new();
    if let Some(salt) = salt {
        hasher.update(salt.expose_secret().as_bytes());
    }
    hasher.update(login.as_bytes());
    let digest = hasher.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            scope: "organization",
            org: "acme".into(),
        }
    }

    fn find(samples: &[Sample], metric: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|s| {
                s.metric == metric
                    && pairs
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|s| s.value)
    }

    #[test]
    fn users_keep_their_latest_day_and_honour_the_cap_and_modes() {
        let rows = [
            r#"{"user_id":1,"user_login":"ann","day":"2026-11-29","loc_added_sum":1}"#,
            r#"{"user_id":2,"user_login":"bob","day":"2026-11-30","loc_added_sum":2}"#,
            r#"{"user_id":1,"user_login":"ann","day":"2026-11-30","loc_added_sum":3}"#,
            r#"{"user_id":3,"user_login":"cat","day":"2026-11-30","loc_added_sum":4}"#,
        ];
        let mut users = UserReduction::new(2);
        for row in rows {
            users.add(serde_json::from_str(row).unwrap());
        }
        assert_eq!(users.len(), 2);
        assert_eq!(users.user_cap_skipped, 1);
        let out = users.series(&scope(), &MapSettings::default());
        assert_eq!(
            find(&out, "gh_copilot_user_loc_added_sum", &[("user", "ann")]),
            Some(3.0)
        );
        let id = MapSettings {
            user_label_mode: UserLabelMode::Id,
            ..MapSettings::default()
        };
        let out = users.series(&scope(), &id);
        assert_eq!(
            find(&out, "gh_copilot_user_loc_added_sum", &[("user", "2")]),
            Some(2.0)
        );
        let none = MapSettings {
            user_label_mode: UserLabelMode::None,
            ..MapSettings::default()
        };
        let out = users.series(&scope(), &none);
        assert_eq!(find(&out, "gh_copilot_user_loc_added_sum", &[]), Some(5.0));
        assert!(out
            .iter()
            .all(|s| s.labels.iter().all(|(k, _)| k != "user")));
        let salt = SecretString::from("pepper");
        let h = hashed(Some(&salt), "ann");
        assert_eq!(h.len(), 16);
        assert_ne!(h, hashed(Some(&SecretString::from("salt")), "ann"));
        let hashed_mode = MapSettings {
            user_label_mode: UserLabelMode::Hashed,
            user_label_salt: Some(salt),
            ..MapSettings::default()
        };
        let out = users.series(&scope(), &hashed_mode);
        assert!(find(&out, "gh_copilot_user_loc_added_sum", &[("user", &h)]).is_some());
    }
}
