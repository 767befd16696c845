//! Static validation of a query against the schema, as GitHub (graphql-ruby) does before running
//! anything, producing the plan the executor runs: every selected field with its response key,
//! coerced arguments (variables substituted), return type, the fragment type conditions it sits
//! under, and its children. Fragments are expanded; `@skip` / `@include` are applied.
//!
//! Any error (unknown field, type or fragment, bad argument, variable problems, selections on a
//! scalar or missing on an object, unused variable or fragment) stops the query: the answer is
//! `{"errors": [...]}` without `data`, with GitHub's `extensions.code`.

use std::collections::{HashMap, HashSet};

use graphql_parser::query::{
    Definition, Directive, Document, Field as AstField, FragmentDefinition, OperationDefinition,
    Selection, SelectionSet, TypeCondition, Value as Ast, VariableDefinition,
};
use graphql_parser::Pos;
use serde_json::{Map, Value as J};

use super::error::{GqlError, Seg};
use super::out::Out;
use super::schema::{FieldDef, Kind, Schema, TypeRef};

/// One selected field, ready to execute.
#[derive(Debug, Clone)]
pub struct Field {
    /// The response key (alias or name).
    pub key: String,
    pub name: String,
    /// Coerced arguments; absent when neither given nor provided through a variable.
    pub args: Map<String, J>,
    pub pos: Pos,
    /// Type conditions of the enclosing fragments: the field applies to an object of a type
    /// satisfying all of them.
    pub conditions: Vec<String>,
    pub ty: TypeRef,
    pub children: Vec<Field>,
    /// Response keys from the root, for errors found before execution.
    pub key_path: Vec<Seg>,
}

impl Field {
    pub fn arg_i64(&self, name: &str) -> Option<i64> {
        self.args.get(name).and_then(J::as_i64)
    }

    pub fn arg_str(&self, name: &str) -> Option<&str> {
        self.args.get(name).and_then(J::as_str)
    }
}

/// Validates `doc` and plans its operation (`operation_name`, or the only one).
pub fn plan<'d, 'q>(
    schema: &Schema,
    doc: &'d Document<'q, String>,
    operation_name: Option<&str>,
    variables: &Map<String, J>,
) -> Result<Vec<Field>, Vec<GqlError>> {
    let mut ops = Vec::new();
    let mut frags: HashMap<String, &'d FragmentDefinition<'q, String>> = HashMap::new();
    for d in &doc.definitions {
        match d {
            Definition::Operation(o) => ops.push(o),
            Definition::Fragment(f) => {
                frags.insert(f.name.clone(), f);
            }
        }
    }
    let op = select_operation(&ops, operation_name).map_err(|e| vec![e])?;
    let (var_defs, set) = match op {
        OperationDefinition::SelectionSet(s) => (&[][..], s),
        OperationDefinition::Query(q) => (&q.variable_definitions[..], &q.selection_set),
        OperationDefinition::Mutation(_) => {
            return Err(vec![GqlError::new(
                "Schema is not configured for mutations",
            )])
        }
        OperationDefinition::Subscription(_) => {
            return Err(vec![GqlError::new(
                "Schema is not configured for subscriptions",
            )])
        }
    };
    let (label, who) = match op_name(op) {
        Some(n) => (format!("query {n}"), n.to_string()),
        None => ("query".to_string(), "anonymous query".to_string()),
    };
    let mut w = Walker {
        schema,
        frags,
        vars: Map::new(),
        var_types: HashMap::new(),
        who,
        used_vars: HashSet::new(),
        used_frags: HashSet::new(),
        frag_stack: Vec::new(),
        errors: Vec::new(),
    };
    w.variables(var_defs, variables, &label);
    if !w.errors.is_empty() {
        return Err(w.errors);
    }
    let mut fields = Vec::new();
    let root = [Seg::Key(label.clone())];
    w.selection_set(set, "Query", &[], &root, &[], &mut fields);
    w.unused(var_defs, &label);
    if w.errors.is_empty() {
        Ok(fields)
    } else {
        let mut unique: Vec<GqlError> = Vec::new();
        for e in w.errors {
            if !unique.contains(&e) {
                unique.push(e);
            }
        }
        Err(unique)
    }
}

/// The operation a request runs: the one named `operation_name`, or the only one of `ops`.
pub fn select_operation<'d, 'q>(
    ops: &[&'d OperationDefinition<'q, String>],
    operation_name: Option<&str>,
) -> Result<&'d OperationDefinition<'q, String>, GqlError> {
    match operation_name {
        Some(n) => ops
            .iter()
            .find(|o| op_name(o) == Some(n))
            .copied()
            .ok_or_else(|| GqlError::new(format!("No operation named \"{n}\""))),
        None if ops.len() == 1 => Ok(ops[0]),
        None if ops.is_empty() => Err(GqlError::new("No operations in query string")),
        None => Err(GqlError::new("An operation name is required")),
    }
}

fn op_name<'a>(o: &'a OperationDefinition<'_, String>) -> Option<&'a str> {
    match o {
        OperationDefinition::SelectionSet(_) => None,
        OperationDefinition::Query(q) => q.name.as_deref(),
        OperationDefinition::Mutation(m) => m.name.as_deref(),
        OperationDefinition::Subscription(s) => s.name.as_deref(),
    }
}

struct Walker<'s, 'd, 'q> {
    schema: &'s Schema,
    frags: HashMap<String, &'d FragmentDefinition<'q, String>>,
    /// Coerced variable values (absent: not provided and no default).
    vars: Map<String, J>,
    /// Declared type and whether a default exists.
    var_types: HashMap<String, (TypeRef, bool)>,
    /// `anonymous query` or the operation name, as messages name it.
    who: String,
    used_vars: HashSet<String>,
    used_frags: HashSet<String>,
    frag_stack: Vec<String>,
    errors: Vec<GqlError>,
}

impl Walker<'_, '_, '_> {
    fn variables(
        &mut self,
        defs: &[VariableDefinition<'_, String>],
        given: &Map<String, J>,
        label: &str,
    ) {
        for d in defs {
            let ty = TypeRef::from_ast(&d.var_type);
            let named = ty.named();
            if !self.schema.ty(named).is_some_and(|t| t.is_leaf()) {
                self.errors.push(GqlError::validation(
                    format!("{named} isn't a defined input type (on ${})", d.name),
                    &[Seg::Key(label.to_string())],
                    d.position,
                    "variableRequiresValidType",
                    vec![
                        ("typeName", Out::str(named)),
                        ("variableName", Out::str(d.name.clone())),
                    ],
                ));
                continue;
            }
            self.var_types
                .insert(d.name.clone(), (ty.clone(), d.default_value.is_some()));
            let value = match (given.get(&d.name), &d.default_value) {
                (Some(v), _) => coerce_json(self.schema, v, &ty).map_err(|e| (v.clone(), e)),
                (None, Some(default)) => match self.literal(default, &ty) {
                    Ok(v) => Ok(v),
                    Err(()) => Err((J::Null, format!("Default value is not a valid {ty}"))),
                },
                (None, None) if ty.is_non_null() => {
                    Err((J::Null, "Expected value to not be null".to_string()))
                }
                (None, None) => continue,
            };
            match value {
                Ok(v) => {
                    self.vars.insert(d.name.clone(), v);
                }
                Err((v, explanation)) => {
                    let problem = Out::obj(vec![
                        ("path", Out::List(Vec::new())),
                        ("explanation", Out::str(explanation)),
                    ]);
                    self.errors.push(GqlError {
                        extensions: Some(vec![
                            ("value".to_string(), Out::Json(v)),
                            ("problems".to_string(), Out::List(vec![problem])),
                        ]),
                        locations: vec![d.position],
                        ..GqlError::new(format!(
                            "Variable ${} of type {ty} was provided invalid value",
                            d.name
                        ))
                    });
                }
            }
        }
    }

    fn unused(&mut self, defs: &[VariableDefinition<'_, String>], label: &str) {
        for d in defs {
            if !self.used_vars.contains(&d.name) {
                self.errors.push(GqlError::validation(
                    format!(
                        "Variable ${} is declared by {} but not used",
                        d.name, self.who
                    ),
                    &[Seg::Key(label.to_string())],
                    d.position,
                    "variableNotUsed",
                    vec![("variableName", Out::str(d.name.clone()))],
                ));
            }
        }
        let mut unused: Vec<_> = self
            .frags
            .values()
            .filter(|f| !self.used_frags.contains(&f.name))
            .map(|f| (f.position, f.name.clone()))
            .collect();
        unused.sort();
        for (pos, name) in unused {
            self.errors.push(GqlError::validation(
                format!("Fragment {name} was defined, but not used"),
                &[Seg::Key(format!("fragment {name}"))],
                pos,
                "useAndDefineFragment",
                vec![("fragmentName", Out::str(name.clone()))],
            ));
        }
    }

    fn selection_set(
        &mut self,
        set: &SelectionSet<'_, String>,
        parent: &str,
        conds: &[String],
        path: &[Seg],
        key_path: &[Seg],
        out: &mut Vec<Field>,
    ) {
        for sel in &set.items {
            match sel {
                Selection::Field(f) => {
                    if self.included(&f.directives, path) {
                        self.field(f, parent, conds, path, key_path, out);
                    }
                }
                Selection::InlineFragment(frag) => {
                    if !self.included(&frag.directives, path) {
                        continue;
                    }
                    let (t, label) = match &frag.type_condition {
                        Some(TypeCondition::On(t)) => (t.clone(), format!("... on {t}")),
                        None => (parent.to_string(), "...".to_string()),
                    };
                    if !self.fragment_fits(&t, parent, path, frag.position, None) {
                        continue;
                    }
                    let mut fpath = path.to_vec();
                    fpath.push(Seg::Key(label));
                    let c = with_condition(conds, &t, parent);
                    self.selection_set(&frag.selection_set, &t, &c, &fpath, key_path, out);
                }
                Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.directives, path) {
                        continue;
                    }
                    let name = spread.fragment_name.clone();
                    let Some(def) = self.frags.get(&name).copied() else {
                        self.errors.push(GqlError::validation(
                            format!("Fragment {name} was used, but not defined"),
                            path,
                            spread.position,
                            "useAndDefineFragment",
                            vec![("fragmentName", Out::str(name.clone()))],
                        ));
                        continue;
                    };
                    self.used_frags.insert(name.clone());
                    if self.frag_stack.contains(&name) {
                        self.errors.push(GqlError::validation(
                            format!("Fragment {name} contains an infinite loop"),
                            &[Seg::Key(format!("fragment {name}"))],
                            def.position,
                            "infiniteLoop",
                            vec![("fragmentName", Out::str(name.clone()))],
                        ));
                        continue;
                    }
                    let TypeCondition::On(t) = &def.type_condition;
                    if !self.fragment_fits(t, parent, path, spread.position, Some(&name)) {
                        continue;
                    }
                    let c = with_condition(conds, t, parent);
                    let fpath = [Seg::Key(format!("fragment {name}"))];
                    self.frag_stack.push(name);
                    self.selection_set(&def.selection_set, t, &c, &fpath, key_path, out);
                    self.frag_stack.pop();
                }
            }
        }
    }

    fn field(
        &mut self,
        f: &AstField<'_, String>,
        parent: &str,
        conds: &[String],
        path: &[Seg],
        key_path: &[Seg],
        out: &mut Vec<Field>,
    ) {
        let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
        let mut fpath = path.to_vec();
        fpath.push(Seg::Key(key.clone()));
        let mut kp = key_path.to_vec();
        kp.push(Seg::Key(key.clone()));
        if f.name == "__typename" {
            out.push(Field {
                key,
                name: f.name.clone(),
                args: Map::new(),
                pos: f.position,
                conditions: conds.to_vec(),
                ty: TypeRef::NonNull(Box::new(TypeRef::Named("String".into()))),
                children: Vec::new(),
                key_path: kp,
            });
            return;
        }
        if self
            .schema
            .ty(parent)
            .is_some_and(|t| t.kind == Kind::Union)
        {
            self.errors.push(GqlError::validation(
                format!("Selections can't be made directly on unions (see selections on {parent})"),
                &fpath,
                f.position,
                "selectionMismatch",
                vec![("nodeName", Out::str(parent))],
            ));
            return;
        }
        let Some(def) = self.schema.field(parent, &f.name) else {
            self.errors.push(GqlError::validation(
                format!("Field '{}' doesn't exist on type '{parent}'", f.name),
                &fpath,
                f.position,
                "undefinedField",
                vec![
                    ("typeName", Out::str(parent)),
                    ("fieldName", Out::str(f.name.clone())),
                ],
            ));
            return;
        };
        let args = self.arguments(f, def, &fpath);
        let inner = def.ty.named();
        let Some(inner_def) = self.schema.ty(inner) else {
            return;
        };
        let node_name = format!("field '{}'", f.name);
        let mut children = Vec::new();
        if inner_def.is_leaf() {
            if !f.selection_set.items.is_empty() {
                let what = if matches!(inner_def.kind, Kind::Enum(_)) {
                    "enums"
                } else {
                    "scalars"
                };
                let names: Vec<String> = f
                    .selection_set
                    .items
                    .iter()
                    .filter_map(|s| match s {
                        Selection::Field(x) => Some(x.name.clone()),
                        _ => None,
                    })
                    .collect();
                self.errors.push(GqlError::validation(
                    format!(
                        "Selections can't be made on {what} ({node_name} returns {inner} but has selections [{}])",
                        names.join(", ")
                    ),
                    &fpath,
                    f.position,
                    "selectionMismatch",
                    vec![("nodeName", Out::str(node_name)), ("typeName", Out::str(inner))],
                ));
            }
        } else if f.selection_set.items.is_empty() {
            self.errors.push(GqlError::validation(
                format!(
                    "Field must have selections ({node_name} returns {inner} but has no selections. Did you mean '{} {{ ... }}'?)",
                    f.name
                ),
                &fpath,
                f.position,
                "selectionMismatch",
                vec![("nodeName", Out::str(node_name)), ("typeName", Out::str(inner))],
            ));
        } else {
            self.selection_set(&f.selection_set, inner, &[], &fpath, &kp, &mut children);
        }
        out.push(Field {
            key,
            name: f.name.clone(),
            args,
            pos: f.position,
            conditions: conds.to_vec(),
            ty: def.ty.clone(),
            children,
            key_path: kp,
        });
    }

    /// Checks a fragment's type condition against where it is spread.
    fn fragment_fits(
        &mut self,
        t: &str,
        parent: &str,
        path: &[Seg],
        pos: Pos,
        name: Option<&str>,
    ) -> bool {
        let Some(def) = self.schema.ty(t) else {
            self.errors.push(GqlError::validation(
                format!("No such type {t}, so it can't be a fragment condition"),
                path,
                pos,
                "undefinedType",
                vec![("typeName", Out::str(t))],
            ));
            return false;
        };
        if def.is_leaf() {
            self.errors.push(GqlError::validation(
                format!("Invalid fragment on type {t} (must be Union, Interface or Object)"),
                path,
                pos,
                "fragmentOnNonCompositeType",
                vec![("typeName", Out::str(t))],
            ));
            return false;
        }
        if !self.schema.overlap(parent, t) {
            let message = match name {
                Some(n) => format!("Fragment {n} on {t} can't be spread inside {parent}"),
                None => format!("Fragment on {t} can't be spread inside {parent}"),
            };
            self.errors.push(GqlError::validation(
                message,
                path,
                pos,
                "cannotSpreadFragment",
                vec![
                    ("typeName", Out::str(t)),
                    ("fragmentName", Out::str(name.unwrap_or("unknown"))),
                    ("parentName", Out::str(parent)),
                ],
            ));
            return false;
        }
        true
    }

    /// `@skip(if:)` / `@include(if:)`; other directives are errors.
    fn included(&mut self, directives: &[Directive<'_, String>], path: &[Seg]) -> bool {
        let mut keep = true;
        for d in directives {
            let skip = match d.name.as_str() {
                "skip" => true,
                "include" => false,
                other => {
                    self.errors.push(GqlError::validation(
                        format!("Directive @{other} is not defined"),
                        path,
                        d.position,
                        "undefinedDirective",
                        vec![("directiveName", Out::str(other))],
                    ));
                    continue;
                }
            };
            let cond = d
                .arguments
                .iter()
                .find(|(k, _)| k == "if")
                .map(|(_, v)| match v {
                    Ast::Boolean(b) => *b,
                    Ast::Variable(name) => {
                        self.used_vars.insert(name.clone());
                        self.vars.get(name).and_then(J::as_bool).unwrap_or(false)
                    }
                    _ => false,
                })
                .unwrap_or(false);
            if cond == skip {
                keep = false;
            }
        }
        keep
    }

    fn arguments(
        &mut self,
        f: &AstField<'_, String>,
        def: &FieldDef,
        path: &[Seg],
    ) -> Map<String, J> {
        let mut out = Map::new();
        for (name, value) in &f.arguments {
            let Some(arg) = def.args.iter().find(|a| &a.name == name) else {
                self.errors.push(GqlError::validation(
                    format!("Field '{}' doesn't accept argument '{name}'", f.name),
                    path,
                    f.position,
                    "argumentNotAccepted",
                    vec![
                        ("name", Out::str(f.name.clone())),
                        ("typeName", Out::str("Field")),
                        ("argumentName", Out::str(name.clone())),
                    ],
                ));
                continue;
            };
            if let Ast::Variable(v) = value {
                self.used_vars.insert(v.clone());
                let Some((vt, has_default)) = self.var_types.get(v).cloned() else {
                    self.errors.push(GqlError::validation(
                        format!("Variable ${v} is used by {} but not declared", self.who),
                        path,
                        f.position,
                        "variableNotDefined",
                        vec![("variableName", Out::str(v.clone()))],
                    ));
                    continue;
                };
                if let Err(kind) = variable_fits(&vt, &arg.ty, has_default) {
                    self.errors.push(GqlError::validation(
                        format!(
                            "{kind} on variable ${v} and argument {name} ({vt} / {})",
                            arg.ty
                        ),
                        path,
                        f.position,
                        "variableMismatch",
                        vec![
                            ("variableName", Out::str(v.clone())),
                            ("typeName", Out::str(vt.to_string())),
                            ("argumentName", Out::str(name.clone())),
                            ("errorMessage", Out::str(kind)),
                        ],
                    ));
                    continue;
                }
                if let Some(j) = self.vars.get(v) {
                    out.insert(name.clone(), j.clone());
                }
                continue;
            }
            match self.literal(value, &arg.ty) {
                Ok(j) => {
                    out.insert(name.clone(), j);
                }
                Err(()) => self.errors.push(GqlError::validation(
                    format!(
                        "Argument '{name}' on Field '{}' has an invalid value ({}). Expected type '{}'.",
                        f.name,
                        print(value),
                        arg.ty
                    ),
                    path,
                    f.position,
                    "argumentLiteralsIncompatible",
                    vec![
                        ("typeName", Out::str("Field")),
                        ("argumentName", Out::str(name.clone())),
                    ],
                )),
            }
        }
        let missing: Vec<&str> = def
            .args
            .iter()
            .filter(|a| a.ty.is_non_null() && !f.arguments.iter().any(|(n, _)| *n == a.name))
            .map(|a| a.name.as_str())
            .collect();
        if !missing.is_empty() {
            let list = missing.join(", ");
            self.errors.push(GqlError::validation(
                format!("Field '{}' is missing required arguments: {list}", f.name),
                path,
                f.position,
                "missingRequiredArguments",
                vec![
                    ("className", Out::str("Field")),
                    ("name", Out::str(f.name.clone())),
                    ("arguments", Out::str(list)),
                ],
            ));
        }
        out
    }

    /// Coerces a literal (possibly holding variables) to `ty`.
    fn literal(&mut self, v: &Ast<'_, String>, ty: &TypeRef) -> Result<J, ()> {
        if let Ast::Variable(name) = v {
            self.used_vars.insert(name.clone());
            let j = self.vars.get(name).cloned().unwrap_or(J::Null);
            return coerce_json(self.schema, &j, ty).map_err(|_| ());
        }
        match ty {
            TypeRef::NonNull(inner) => match v {
                Ast::Null => Err(()),
                _ => self.literal(v, inner),
            },
            _ if matches!(v, Ast::Null) => Ok(J::Null),
            TypeRef::List(inner) => match v {
                Ast::List(items) => items
                    .iter()
                    .map(|i| self.literal(i, inner))
                    .collect::<Result<Vec<_>, _>>()
                    .map(J::Array),
                single => Ok(J::Array(vec![self.literal(single, inner)?])),
            },
            TypeRef::Named(n) => {
                let kind = self.schema.ty(n).map(|t| &t.kind);
                match (n.as_str(), kind, v) {
                    ("Int", _, Ast::Int(i)) => i
                        .as_i64()
                        .filter(|x| i32::try_from(*x).is_ok())
                        .map(J::from)
                        .ok_or(()),
                    ("Float", _, Ast::Int(i)) => i.as_i64().map(J::from).ok_or(()),
                    ("Float", _, Ast::Float(x)) => {
                        serde_json::Number::from_f64(*x).map(J::Number).ok_or(())
                    }
                    ("Boolean", _, Ast::Boolean(b)) => Ok(J::Bool(*b)),
                    ("GitTimestamp", _, Ast::String(s)) => git_timestamp(s).ok_or(()),
                    ("String" | "DateTime" | "URI" | "ID" | "GitObjectID", _, Ast::String(s)) => {
                        Ok(J::String(s.clone()))
                    }
                    ("ID", _, Ast::Int(i)) => {
                        i.as_i64().map(|x| J::String(x.to_string())).ok_or(())
                    }
                    (_, Some(Kind::Enum(values)), Ast::Enum(e)) if values.contains(e) => {
                        Ok(J::String(e.clone()))
                    }
                    _ => Err(()),
                }
            }
        }
    }
}

fn with_condition(conds: &[String], t: &str, parent: &str) -> Vec<String> {
    let mut c = conds.to_vec();
    if t != parent {
        c.push(t.to_string());
    }
    c
}

/// Whether a variable of type `var` may be used where `arg` is expected (a default value lets a
/// nullable variable fill a non-null argument). `Err` is graphql-ruby's kind of mismatch.
fn variable_fits(var: &TypeRef, arg: &TypeRef, has_default: bool) -> Result<(), &'static str> {
    if var.named() != arg.named() {
        return Err("Type mismatch");
    }
    fn fits(v: &TypeRef, a: &TypeRef) -> Result<(), &'static str> {
        match (v, a) {
            (TypeRef::NonNull(vi), TypeRef::NonNull(ai)) => fits(vi, ai),
            (TypeRef::NonNull(vi), a) => fits(vi, a),
            (_, TypeRef::NonNull(_)) => Err("Nullability mismatch"),
            (TypeRef::List(vi), TypeRef::List(ai)) => fits(vi, ai),
            (TypeRef::Named(_), TypeRef::Named(_)) => Ok(()),
            _ => Err("List dimension mismatch"),
        }
    }
    match (var, arg) {
        (v, TypeRef::NonNull(ai)) if has_default && !v.is_non_null() => fits(v, ai),
        _ => fits(var, arg),
    }
}

/// Coerces a variable's JSON value to `ty`; `Err` is the explanation GitHub reports.
pub fn coerce_json(schema: &Schema, v: &J, ty: &TypeRef) -> Result<J, String> {
    match ty {
        TypeRef::NonNull(inner) => {
            if v.is_null() {
                Err("Expected value to not be null".to_string())
            } else {
                coerce_json(schema, v, inner)
            }
        }
        _ if v.is_null() => Ok(J::Null),
        TypeRef::List(inner) => match v {
            J::Array(items) => items
                .iter()
                .map(|i| coerce_json(schema, i, inner))
                .collect::<Result<Vec<_>, _>>()
                .map(J::Array),
            single => Ok(J::Array(vec![coerce_json(schema, single, inner)?])),
        },
        TypeRef::Named(n) => {
            let bad = || format!("Could not coerce value {v} to {n}");
            match (n.as_str(), schema.ty(n).map(|t| &t.kind)) {
                ("Int", _) => v
                    .as_i64()
                    .filter(|x| i32::try_from(*x).is_ok())
                    .map(J::from)
                    .ok_or_else(bad),
                ("Float", _) => v.is_number().then(|| v.clone()).ok_or_else(bad),
                ("Boolean", _) => v.as_bool().map(J::Bool).ok_or_else(bad),
                ("GitTimestamp", _) => v.as_str().and_then(git_timestamp).ok_or_else(bad),
                ("String" | "DateTime" | "URI" | "GitObjectID", _) => {
                    v.is_string().then(|| v.clone()).ok_or_else(bad)
                }
                ("ID", _) => match v {
                    J::String(_) => Ok(v.clone()),
                    J::Number(x) if x.is_i64() => Ok(J::String(x.to_string())),
                    _ => Err(bad()),
                },
                (_, Some(Kind::Enum(values))) => match v.as_str() {
                    Some(s) if values.iter().any(|x| x == s) => Ok(v.clone()),
                    _ => Err(format!("Expected {v} to be one of: {}", values.join(", "))),
                },
                _ => Err(bad()),
            }
        }
    }
}

/// A `GitTimestamp` input: an ISO-8601 timestamp (or date) as REST's `since`/`until` accept
/// it, kept as given; anything else is not a `GitTimestamp`.
fn git_timestamp(s: &str) -> Option<J> {
    crate::timefmt::parse_iso(s).map(|_| J::String(s.to_string()))
}

/// A literal as GraphQL writes it, for messages.
fn print(v: &Ast<'_, String>) -> String {
    match v {
        Ast::Variable(n) => format!("${n}"),
        Ast::Int(i) => i.as_i64().map(|x| x.to_string()).unwrap_or_default(),
        Ast::Float(x) => x.to_string(),
        Ast::String(s) => J::String(s.clone()).to_string(),
        Ast::Boolean(b) => b.to_string(),
        Ast::Null => "null".to_string(),
        Ast::Enum(e) => e.clone(),
        Ast::List(items) => format!(
            "[{}]",
            items.iter().map(print).collect::<Vec<_>>().join(", ")
        ),
        Ast::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", print(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
