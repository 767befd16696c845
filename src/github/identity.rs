//! Who an account is, the same for the REST and the GraphQL adapters: its login and whether it
//! is a bot. An account GitHub no longer has (deleted: REST answers `null`, GraphQL no actor)
//! counts as [`DELETED_ACCOUNT`], the login GitHub itself shows for it. A bot is an account
//! GitHub types `Bot` or whose login ends in `[bot]`; GraphQL names bots without the suffix,
//! so it is added to match REST.

/// The login of a deleted account.
pub const DELETED_ACCOUNT: &str = "ghost";

/// Login and bot flag of an account: `typename` is GitHub's type (`User`, `Bot`, …) when known.
pub fn account(login: Option<&str>, typename: Option<&str>) -> (String, bool) {
    match login {
        None => (DELETED_ACCOUNT.to_string(), false),
        Some(login) if typename == Some("Bot") => {
            if login.ends_with("[bot]") {
                (login.to_string(), true)
            } else {
                (format!("{login}[bot]"), true)
            }
        }
        Some(login) => (login.to_string(), login.ends_with("[bot]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// REST and GraphQL shapes of the same accounts give the same identity.
    #[test]
    fn one_rule_for_both_adapters() {
        assert_eq!(account(None, None), ("ghost".to_string(), false));
        assert_eq!(
            account(Some("ana"), Some("User")),
            ("ana".to_string(), false)
        );
        let bot = ("renovate[bot]".to_string(), true);
        assert_eq!(account(Some("renovate"), Some("Bot")), bot, "GraphQL");
        assert_eq!(account(Some("renovate[bot]"), Some("Bot")), bot, "REST");
        assert_eq!(account(Some("renovate[bot]"), None), bot, "type unknown");
    }
}
