//! GraphQL errors as GitHub writes them: static validation errors carry `path` (from
//! `"query"`), `extensions.code` and `locations`; pre-execution and execution errors carry a
//! `type` (`EXCESSIVE_PAGINATION`, `RATE_LIMITED`, …) and the response `path`.

use graphql_parser::Pos;

use super::out::Out;

/// One segment of an error path: a field or fragment label, or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Seg {
        Seg::Key(s.to_string())
    }
}

impl From<String> for Seg {
    fn from(s: String) -> Seg {
        Seg::Key(s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GqlError {
    pub kind: Option<&'static str>,
    pub path: Option<Vec<Seg>>,
    /// `code` first, then the code's details, as GitHub orders them.
    pub extensions: Option<Vec<(String, Out)>>,
    pub locations: Vec<Pos>,
    pub message: String,
}

impl GqlError {
    pub fn new(message: impl Into<String>) -> GqlError {
        GqlError {
            kind: None,
            path: None,
            extensions: None,
            locations: Vec::new(),
            message: message.into(),
        }
    }

    /// A static validation error: `extensions.code` and its details.
    pub fn validation(
        message: impl Into<String>,
        path: &[Seg],
        pos: Pos,
        code: &str,
        details: Vec<(&str, Out)>,
    ) -> GqlError {
        let mut ext = vec![("code".to_string(), Out::str(code))];
        ext.extend(details.into_iter().map(|(k, v)| (k.to_string(), v)));
        GqlError {
            kind: None,
            path: Some(path.to_vec()),
            extensions: Some(ext),
            locations: vec![pos],
            message: message.into(),
        }
    }

    /// An error with a GitHub `type`, at a response path.
    pub fn typed(
        kind: &'static str,
        message: impl Into<String>,
        path: &[Seg],
        pos: Pos,
    ) -> GqlError {
        GqlError {
            kind: Some(kind),
            path: Some(path.to_vec()),
            extensions: None,
            locations: vec![pos],
            message: message.into(),
        }
    }

    pub fn at(mut self, pos: Pos) -> GqlError {
        self.locations = vec![pos];
        self
    }

    pub fn to_out(&self) -> Out {
        let mut o: Vec<(String, Out)> = Vec::new();
        if let Some(k) = self.kind {
            o.push(("type".into(), Out::str(k)));
        }
        if let Some(p) = &self.path {
            let segs = p
                .iter()
                .map(|s| match s {
                    Seg::Key(k) => Out::str(k.clone()),
                    Seg::Index(i) => Out::Int(*i as i64),
                })
                .collect();
            o.push(("path".into(), Out::List(segs)));
        }
        if let Some(e) = &self.extensions {
            o.push(("extensions".into(), Out::Obj(e.clone())));
        }
        if !self.locations.is_empty() {
            let locs = self
                .locations
                .iter()
                .map(|p| {
                    Out::obj(vec![
                        ("line", Out::Int(p.line as i64)),
                        ("column", Out::Int(p.column as i64)),
                    ])
                })
                .collect();
            o.push(("locations".into(), Out::List(locs)));
        }
        o.push(("message".into(), Out::str(self.message.clone())));
        Out::Obj(o)
    }
}

/// `{"errors": [...]}` without `data` (errors found before execution).
pub fn errors_only(errors: &[GqlError]) -> Out {
    Out::obj(vec![(
        "errors",
        Out::List(errors.iter().map(GqlError::to_out).collect()),
    )])
}

/// graphql-ruby's message for a document that does not parse: `Parse error on "}" (RCURLY) at
/// [3, 1]`, or `Unexpected end of document`, with the location; built from graphql-parser's
/// `Parse error at L:C` / ``Unexpected `TOKEN[Kind]` `` text.
pub fn parse_error(text: &str) -> GqlError {
    let pos = text
        .split("Parse error at ")
        .nth(1)
        .and_then(|rest| {
            let lc = rest.split_whitespace().next()?;
            let (l, c) = lc.split_once(':')?;
            Some(Pos {
                line: l.parse().ok()?,
                column: c.parse().ok()?,
            })
        })
        .unwrap_or(Pos { line: 1, column: 1 });
    let token = text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Unexpected `")?;
        let (tok, kind) = rest.strip_suffix("]`")?.rsplit_once('[')?;
        Some((tok.to_string(), kind.to_string()))
    });
    let message = match token {
        Some((tok, kind)) => {
            let name = match kind.as_str() {
                "Name" => "IDENTIFIER",
                "IntValue" => "INT",
                "FloatValue" => "FLOAT",
                "StringValue" | "BlockString" => "STRING",
                _ => punctuator(&tok),
            };
            format!(
                "Parse error on {} ({name}) at [{}, {}]",
                serde_json::Value::String(tok),
                pos.line,
                pos.column
            )
        }
        None if text.contains("end of input") => "Unexpected end of document".to_string(),
        None => format!("Parse error at [{}, {}]", pos.line, pos.column),
    };
    GqlError {
        locations: vec![pos],
        ..GqlError::new(message)
    }
}

fn punctuator(tok: &str) -> &'static str {
    match tok {
        "{" => "LCURLY",
        "}" => "RCURLY",
        "(" => "LPAREN",
        ")" => "RPAREN",
        "[" => "LBRACKET",
        "]" => "RBRACKET",
        ":" => "COLON",
        "$" => "VAR_SIGN",
        "!" => "BANG",
        "=" => "EQUALS",
        "@" => "DIR_SIGN",
        "..." => "ELLIPSIS",
        "|" => "PIPE",
        "&" => "AMP",
        _ => "UNKNOWN_CHAR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// graphql-parser's error text becomes GitHub's parse error with its location.
    #[test]
    fn parse_errors_read_like_github() {
        let e = graphql_parser::parse_query::<String>("query {\n  search(\n}")
            .err()
            .map(|e| parse_error(&e.to_string()));
        let e = e.expect("does not parse");
        assert_eq!(e.message, "Parse error on \"}\" (RCURLY) at [3, 1]");
        assert_eq!(e.locations, vec![Pos { line: 3, column: 1 }]);
        let e = graphql_parser::parse_query::<String>("{ rateLimit { cost }")
            .err()
            .map(|e| parse_error(&e.to_string()))
            .expect("does not parse");
        assert_eq!(e.message, "Unexpected end of document");
    }
}
