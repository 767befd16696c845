//! The served schema: `schema.graphql` (GitHub's names and nullability) parsed once into lookup
//! tables of types, fields, arguments, enum values and the possible types of interfaces and
//! unions.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use graphql_parser::schema::{self as sdl, Definition, TypeDefinition};

const SDL: &str = include_str!("schema.graphql");

/// A field's or argument's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    Named(String),
    List(Box<TypeRef>),
    NonNull(Box<TypeRef>),
}

impl TypeRef {
    /// The innermost named type.
    pub fn named(&self) -> &str {
        match self {
            TypeRef::Named(n) => n,
            TypeRef::List(t) | TypeRef::NonNull(t) => t.named(),
        }
    }

    pub fn is_non_null(&self) -> bool {
        matches!(self, TypeRef::NonNull(_))
    }

    pub fn from_ast(t: &sdl::Type<'_, String>) -> TypeRef {
        match t {
            sdl::Type::NamedType(n) => TypeRef::Named(n.clone()),
            sdl::Type::ListType(t) => TypeRef::List(Box::new(TypeRef::from_ast(t))),
            sdl::Type::NonNullType(t) => TypeRef::NonNull(Box::new(TypeRef::from_ast(t))),
        }
    }
}

/// GraphQL notation: `String!`, `[PullRequestReviewState!]`.
impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Named(n) => write!(f, "{n}"),
            TypeRef::List(t) => write!(f, "[{t}]"),
            TypeRef::NonNull(t) => write!(f, "{t}!"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ArgDef {
    pub name: String,
    pub ty: TypeRef,
}

#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: String,
    pub args: Vec<ArgDef>,
    pub ty: TypeRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    Enum(Vec<String>),
    Object,
    Interface,
    Union,
}

#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub kind: Kind,
    pub fields: Vec<FieldDef>,
    /// Object types this type can be at run time: itself for an object, the implementors of an
    /// interface, the members of a union.
    pub possible: Vec<String>,
}

impl TypeDef {
    pub fn is_leaf(&self) -> bool {
        matches!(self.kind, Kind::Scalar | Kind::Enum(_))
    }
}

#[derive(Debug)]
pub struct Schema {
    types: HashMap<String, TypeDef>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the embedded GraphQL schema does not parse: {0}")]
    Parse(String),
}

impl Schema {
    /// The served schema, parsed on first use.
    pub fn get() -> Result<&'static Schema, &'static SchemaError> {
        static SCHEMA: OnceLock<Result<Schema, SchemaError>> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::parse(SDL)).as_ref()
    }

    pub fn parse(text: &str) -> Result<Schema, SchemaError> {
        let doc =
            sdl::parse_schema::<String>(text).map_err(|e| SchemaError::Parse(e.to_string()))?;
        let mut types: HashMap<String, TypeDef> = HashMap::new();
        for builtin in ["String", "Int", "Float", "Boolean", "ID"] {
            types.insert(builtin.to_string(), leaf(builtin, Kind::Scalar));
        }
        let mut implements: Vec<(String, String)> = Vec::new();
        for def in doc.definitions {
            let Definition::TypeDefinition(td) = def else {
                continue;
            };
            let t = match td {
                TypeDefinition::Scalar(s) => leaf(&s.name, Kind::Scalar),
                TypeDefinition::Enum(e) => leaf(
                    &e.name,
                    Kind::Enum(e.values.into_iter().map(|v| v.name).collect()),
                ),
                TypeDefinition::Object(o) => {
                    for i in &o.implements_interfaces {
                        implements.push((o.name.clone(), i.clone()));
                    }
                    TypeDef {
                        possible: vec![o.name.clone()],
                        name: o.name,
                        kind: Kind::Object,
                        fields: o.fields.iter().map(field_def).collect(),
                    }
                }
                TypeDefinition::Interface(i) => TypeDef {
                    name: i.name,
                    kind: Kind::Interface,
                    fields: i.fields.iter().map(field_def).collect(),
                    possible: Vec::new(),
                },
                TypeDefinition::Union(u) => TypeDef {
                    name: u.name,
                    kind: Kind::Union,
                    fields: Vec::new(),
                    possible: u.types,
                },
                TypeDefinition::InputObject(i) => leaf(&i.name, Kind::Scalar),
            };
            types.insert(t.name.clone(), t);
        }
        for (object, interface) in implements {
            if let Some(t) = types.get_mut(&interface) {
                t.possible.push(object);
            }
        }
        Ok(Schema { types })
    }

    pub fn ty(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    pub fn field(&self, type_name: &str, field: &str) -> Option<&FieldDef> {
        self.ty(type_name)?.fields.iter().find(|f| f.name == field)
    }

    /// Whether an object of type `object` matches the fragment condition `condition`.
    pub fn satisfies(&self, object: &str, condition: &str) -> bool {
        object == condition
            || self
                .ty(condition)
                .is_some_and(|t| t.possible.iter().any(|p| p == object))
    }

    /// Whether a fragment on `b` can apply inside a selection on `a` (their possible types meet).
    pub fn overlap(&self, a: &str, b: &str) -> bool {
        match (self.ty(a), self.ty(b)) {
            (Some(x), Some(y)) => x.possible.iter().any(|p| y.possible.contains(p)),
            _ => false,
        }
    }
}

fn leaf(name: &str, kind: Kind) -> TypeDef {
    TypeDef {
        name: name.to_string(),
        kind,
        fields: Vec::new(),
        possible: Vec::new(),
    }
}

fn field_def(f: &sdl::Field<'_, String>) -> FieldDef {
    FieldDef {
        name: f.name.clone(),
        args: f
            .arguments
            .iter()
            .map(|a| ArgDef {
                name: a.name.clone(),
                ty: TypeRef::from_ast(&a.value_type),
            })
            .collect(),
        ty: TypeRef::from_ast(&f.field_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded schema parses, every referenced type exists, and abstract types know their
    /// possible object types.
    #[test]
    fn embedded_schema_is_complete() {
        let s = Schema::parse(SDL).expect("schema parses");
        for t in s.types.values() {
            for f in &t.fields {
                assert!(s.ty(f.ty.named()).is_some(), "{}.{}", t.name, f.name);
                for a in &f.args {
                    assert!(
                        s.ty(a.ty.named()).is_some(),
                        "{}.{}({})",
                        t.name,
                        f.name,
                        a.name
                    );
                }
            }
        }
        assert!(s.satisfies("Bot", "Actor"));
        assert!(!s.satisfies("Bot", "RepositoryOwner"));
        assert!(s.satisfies("PullRequest", "SearchResultItem"));
        assert!(s.overlap("SearchResultItem", "Node"));
        assert!(!s.overlap("Issue", "User"));
        assert!(s.satisfies("Commit", "GitObject"));
        assert!(s.overlap("GitObject", "Commit"));
        assert_eq!(
            s.field("GitActor", "user").map(|f| f.ty.to_string()),
            Some("User".to_string())
        );
        assert_eq!(
            s.field("PullRequest", "reviews")
                .map(|f| f.args[5].ty.to_string()),
            Some("[PullRequestReviewState!]".to_string())
        );
    }
}
