//! Ordered JSON for responses: GraphQL answers keep the query's field order (and GitHub's key
//! order in errors), which `serde_json::Value` (sorted maps in this build) would lose.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Out>),
    Obj(Vec<(String, Out)>),
    /// Any JSON value as is (echoed variables, coerced arguments).
    Json(serde_json::Value),
}

impl Out {
    pub fn str(s: impl Into<String>) -> Out {
        Out::Str(s.into())
    }

    /// An object from `(key, value)` pairs, in that order.
    pub fn obj<K: Into<String>>(pairs: Vec<(K, Out)>) -> Out {
        Out::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// `Some(v)` as `v`, `None` as `null`.
    pub fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Out) -> Out {
        v.map_or(Out::Null, f)
    }

    pub fn to_vec(&self) -> Vec<u8> {
        // Only string keys and finite numbers: serialisation cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Null => s.serialize_unit(),
            Out::Bool(b) => s.serialize_bool(*b),
            Out::Int(i) => s.serialize_i64(*i),
            Out::Str(v) => s.serialize_str(v),
            Out::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Out::Obj(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Out::Json(v) => v.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys come out in insertion order, not sorted.
    #[test]
    fn keeps_key_order() {
        let o = Out::obj(vec![
            ("z", Out::Int(1)),
            ("a", Out::List(vec![Out::Null, Out::Bool(true)])),
            ("m", Out::Json(serde_json::json!({"x": "y"}))),
        ]);
        assert_eq!(
            String::from_utf8(o.to_vec()).ok().as_deref(),
            Some(r#"{"z":1,"a":[null,true],"m":{"x":"y"}}"#)
        );
    }
}
