//! The body of `POST /graphql`: `{"query": "...", "variables": {...}, "operationName": "..."}`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct GqlRequest {
    pub query: String,
    pub variables: Map<String, Value>,
    pub operation_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not a JSON object: GitHub's 400 `Problems parsing JSON`.
    #[error("Problems parsing JSON")]
    NotJson,
    /// A JSON object without a string `query`: a 200 with this GraphQL error.
    #[error("A query attribute must be specified and must be a string.")]
    NoQuery,
    /// `variables` is neither an object, null, nor a string holding a JSON object.
    #[error("Variables are invalid JSON.")]
    BadVariables,
}

pub fn parse_body(body: &[u8]) -> Result<GqlRequest, BodyError> {
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(body) else {
        return Err(BodyError::NotJson);
    };
    let Some(Value::String(query)) = obj.remove("query") else {
        return Err(BodyError::NoQuery);
    };
    let variables = match obj.remove("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        // Some clients send the variables JSON-encoded.
        Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => Map::new(),
            _ => return Err(BodyError::BadVariables),
        },
        Some(_) => return Err(BodyError::BadVariables),
    };
    let operation_name = match obj.remove("operationName") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    Ok(GqlRequest {
        query,
        variables,
        operation_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bodies are read like GitHub reads them.
    #[test]
    fn bodies_parse_or_fail_like_github() {
        assert_eq!(parse_body(b""), Err(BodyError::NotJson));
        assert_eq!(parse_body(b"[1]"), Err(BodyError::NotJson));
        assert_eq!(parse_body(br#"{"query": 1}"#), Err(BodyError::NoQuery));
        assert_eq!(
            parse_body(br#"{"query": "{a}", "variables": 3}"#),
            Err(BodyError::BadVariables)
        );
        let r = parse_body(br#"{"query": "{a}", "variables": "{\"x\": 1}", "operationName": "Q"}"#)
            .expect("parses");
        assert_eq!(r.variables.get("x"), Some(&Value::from(1)));
        assert_eq!(r.operation_name.as_deref(), Some("Q"));
    }
}
