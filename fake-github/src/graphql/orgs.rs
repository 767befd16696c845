//! Which organizations a GraphQL request names, for the org request log
//! ([`crate::counters::OrgRequest`], endpoint `POST /graphql`): the `owner` of
//! `repository(owner:, name:)`, the `login` of `organization(login:)`, `user(login:)` and
//! `repositoryOwner(login:)`, and the `org:X`, `user:X` and `repo:X/Y` qualifiers of
//! `search(query:)`, each written as a literal or passed through a variable (the value sent, or
//! the variable's declared default).
//!
//! The body is read as [`super::answer`] reads it: [`super::request::parse_body`], graphql-parser,
//! and the operation [`super::plan::select_operation`] picks (`operationName`, or the only
//! one). Named and inline fragments are expanded and `@skip` / `@include` honoured, like the
//! planner does. The schema is not consulted, so a query the fake then refuses (unknown
//! `organization` or `user` fields, a validation error, an exhausted budget) still names its
//! orgs: the log says what a client asked about, not what it got. A body that does not parse
//! (not a JSON object, no `query`, a GraphQL syntax error, no operation to run) names nothing.
//!
//! Orgs are listed once each, in query order, spelled as first written (duplicates are matched
//! ASCII case-insensitively, as GitHub matches logins).

use std::collections::HashMap;

use graphql_parser::query::{
    Definition, Directive, Field as AstField, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet, Value as Ast,
};
use serde_json::{Map, Value as J};

use super::plan::select_operation;
use super::request::parse_body;

/// The orgs a `POST /graphql` body names, once each, in query order; none if it does not parse.
pub fn named_orgs(body: &[u8]) -> Vec<String> {
    let Ok(req) = parse_body(body) else {
        return Vec::new();
    };
    let Ok(doc) = graphql_parser::parse_query::<String>(&req.query) else {
        return Vec::new();
    };
    let mut ops = Vec::new();
    let mut frags = HashMap::new();
    for d in &doc.definitions {
        match d {
            Definition::Operation(o) => ops.push(o),
            Definition::Fragment(f) => {
                frags.insert(f.name.as_str(), f);
            }
        }
    }
    let Ok(op) = select_operation(&ops, req.operation_name.as_deref()) else {
        return Vec::new();
    };
    let (defs, set) = match op {
        OperationDefinition::SelectionSet(s) => (&[][..], s),
        OperationDefinition::Query(q) => (&q.variable_definitions[..], &q.selection_set),
        OperationDefinition::Mutation(m) => (&m.variable_definitions[..], &m.selection_set),
        OperationDefinition::Subscription(s) => (&s.variable_definitions[..], &s.selection_set),
    };
    let mut vars = Map::new();
    for d in defs {
        let value = match (req.variables.get(&d.name), &d.default_value) {
            (Some(v), _) => v.clone(),
            (None, Some(default)) => literal(default, &Map::new()),
            (None, None) => continue,
        };
        vars.insert(d.name.clone(), value);
    }
    let mut walk = Walk {
        frags,
        vars,
        stack: Vec::new(),
        orgs: Vec::new(),
    };
    walk.selection_set(set);
    walk.orgs
}

struct Walk<'d, 'q> {
    frags: HashMap<&'d str, &'d FragmentDefinition<'q, String>>,
    vars: Map<String, J>,
    /// Fragments being expanded (a cycle is expanded once).
    stack: Vec<&'d str>,
    orgs: Vec<String>,
}

impl<'d> Walk<'d, '_> {
    fn selection_set(&mut self, set: &'d SelectionSet<'_, String>) {
        for sel in &set.items {
            match sel {
                Selection::Field(f) => {
                    if self.included(&f.directives) {
                        self.field(f);
                        self.selection_set(&f.selection_set);
                    }
                }
                Selection::InlineFragment(i) => {
                    if self.included(&i.directives) {
                        self.selection_set(&i.selection_set);
                    }
                }
                Selection::FragmentSpread(s) => {
                    let name = s.fragment_name.as_str();
                    if !self.included(&s.directives) || self.stack.contains(&name) {
                        continue;
                    }
                    if let Some(def) = self.frags.get(name).copied() {
                        self.stack.push(name);
                        self.selection_set(&def.selection_set);
                        self.stack.pop();
                    }
                }
            }
        }
    }

    fn field(&mut self, f: &AstField<'_, String>) {
        match f.name.as_str() {
            "repository" => {
                if let Some(owner) = self.arg_str(f, "owner") {
                    self.add(&owner);
                }
            }
            "organization" | "user" | "repositoryOwner" => {
                if let Some(login) = self.arg_str(f, "login") {
                    self.add(&login);
                }
            }
            "search" => {
                if let Some(q) = self.arg_str(f, "query") {
                    for org in search_qualifier_orgs(&q) {
                        self.add(org);
                    }
                }
            }
            _ => {}
        }
    }

    /// A string argument, literal or through a variable.
    fn arg_str(&self, f: &AstField<'_, String>, name: &str) -> Option<String> {
        let (_, v) = f.arguments.iter().find(|(k, _)| k == name)?;
        match literal(v, &self.vars) {
            J::String(s) => Some(s),
            _ => None,
        }
    }

    /// `@skip(if:)` / `@include(if:)` as the planner reads them (a missing or non-boolean `if`
    /// is false).
    fn included(&self, directives: &[Directive<'_, String>]) -> bool {
        directives.iter().all(|d| {
            let cond = d
                .arguments
                .iter()
                .find(|(k, _)| k == "if")
                .and_then(|(_, v)| literal(v, &self.vars).as_bool())
                .unwrap_or(false);
            match d.name.as_str() {
                "skip" => !cond,
                "include" => cond,
                _ => true,
            }
        })
    }

    fn add(&mut self, org: &str) {
        let org = org.trim();
        if !org.is_empty() && !self.orgs.iter().any(|o| o.eq_ignore_ascii_case(org)) {
            self.orgs.push(org.to_string());
        }
    }
}

/// The org of each `org:X`, `user:X` and `repo:X/Y` qualifier of a search query (the qualifiers
/// the fake's search reads; surrounding double quotes are dropped).
fn search_qualifier_orgs(q: &str) -> impl Iterator<Item = &str> {
    q.split_whitespace().filter_map(|term| {
        let (k, v) = term.split_once(':')?;
        let v = v.trim_matches('"');
        match k {
            "org" | "user" => Some(v),
            "repo" => v.split_once('/').map(|(owner, _)| owner),
            _ => None,
        }
    })
}

/// A GraphQL value as JSON, variables replaced by their values (`null` when unset).
fn literal(v: &Ast<'_, String>, vars: &Map<String, J>) -> J {
    match v {
        Ast::Variable(n) => vars.get(n).cloned().unwrap_or(J::Null),
        Ast::Int(i) => i.as_i64().map_or(J::Null, J::from),
        Ast::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Ast::String(s) | Ast::Enum(s) => J::String(s.clone()),
        Ast::Boolean(b) => J::Bool(*b),
        Ast::Null => J::Null,
        Ast::List(items) => J::Array(items.iter().map(|i| literal(i, vars)).collect()),
        Ast::Object(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), literal(v, vars)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn orgs(body: J) -> Vec<String> {
        named_orgs(body.to_string().as_bytes())
    }

    /// Literals of every kind, once per org (case-insensitively), in query order.
    #[test]
    fn literals_name_their_orgs_once() {
        let q = r#"{
            a: repository(owner: "acme", name: "x") { name }
            b: repository(owner: "ACME", name: "y") { name }
            organization(login: "globex") { login }
            user(login:"initech") { login }
            repositoryOwner(login: "umbrella") { login }
            search(query: "is:pr org:hooli user:acme repo:stark/tower updated:>=2023-01-01", type: ISSUE, first: 1) { issueCount }
        }"#;
        assert_eq!(
            orgs(json!({ "query": q })),
            ["acme", "globex", "initech", "umbrella", "hooli", "stark"]
        );
    }

    /// Variables: values sent (also JSON-encoded), declared defaults, and a search string.
    #[test]
    fn variables_and_defaults_are_resolved() {
        let q = r#"query Q($o: String!, $n: String = "x", $l: String = "globex", $q: String!) {
            repository(owner: $o, name: $n) { name }
            organization(login: $l) { login }
            search(query: $q, type: ISSUE, first: 10) { issueCount }
        }"#;
        assert_eq!(
            orgs(json!({"query": q, "variables": {"o": "acme", "q": "repo:hooli/r is:issue"}})),
            ["acme", "globex", "hooli"]
        );
        let vars = json!({"o": "acme", "l": "initech", "q": "org:stark"}).to_string();
        assert_eq!(
            orgs(json!({"query": q, "variables": vars})),
            ["acme", "initech", "stark"]
        );
    }

    /// Fragments are expanded (a cycle once); `@skip` / `@include` and `operationName` decide
    /// what would run.
    #[test]
    fn fragments_directives_and_operations() {
        let q = r#"
            query A($skip: Boolean!) {
                ...F
                ... on Query { organization(login: "inline") { login } }
                organization(login: "skipped") @skip(if: $skip) { login }
                user(login: "kept") @include(if: true) { login }
            }
            query B { repository(owner: "other-op", name: "r") { name } }
            fragment F on Query { repository(owner: "frag", name: "r") { name } ...G }
            fragment G on Query { ...F }
        "#;
        assert_eq!(
            orgs(json!({"query": q, "variables": {"skip": true}, "operationName": "A"})),
            ["frag", "inline", "kept"]
        );
        assert_eq!(
            orgs(json!({"query": q, "operationName": "B"})),
            ["other-op"]
        );
        // Two operations and no name: nothing would run.
        assert!(orgs(json!({ "query": q })).is_empty());
    }

    /// Nothing is named by bodies that do not parse, nor by fields that name no org.
    #[test]
    fn unparsable_bodies_name_nothing() {
        assert!(named_orgs(b"not json").is_empty());
        assert!(orgs(json!({"variables": {}})).is_empty());
        assert!(orgs(json!({"query": "{ repository(owner: \"acme\""})).is_empty());
        assert!(orgs(json!({"query": "{ rateLimit { cost } viewer { login } }"})).is_empty());
        assert!(orgs(json!({"query": "{ search(query: \"is:pr sort:updated\", type: ISSUE, first: 1) { issueCount } }"})).is_empty());
    }
}
