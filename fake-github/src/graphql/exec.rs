//! A small GraphQL executor over the plan: for each object, the fields whose fragment
//! conditions its type satisfies, merged by response key in query order (`__typename`
//! included), resolved and completed against their declared types. A field that fails is
//! `null` with an error at its response path; `null` in a non-null position propagates to the
//! nearest nullable parent, up to `data: null`, as the GraphQL spec says.

use super::error::{GqlError, Seg};
use super::out::Out;
use super::plan::Field;
use super::resolve::{resolve, Ctx, Obj, Val};
use super::schema::{Schema, TypeRef};

/// A `null` that must propagate to the parent (a non-null field could not be completed).
struct Propagate;

pub struct Exec<'a> {
    pub schema: &'a Schema,
    pub ctx: Ctx<'a>,
    pub errors: Vec<GqlError>,
}

impl Exec<'_> {
    /// Runs the root fields on `Query`: the `data` value (`Out::Null` if a root field that
    /// cannot be null failed).
    pub fn run(&mut self, fields: &[Field]) -> Out {
        let refs: Vec<&Field> = fields.iter().collect();
        self.object(&Obj::Query, &refs, &[]).unwrap_or(Out::Null)
    }

    fn object(&mut self, obj: &Obj, fields: &[&Field], path: &[Seg]) -> Result<Out, Propagate> {
        let type_name = obj.type_name(&self.ctx.state.world);
        let mut groups: Vec<(&Field, Vec<&Field>)> = Vec::new();
        for f in fields {
            if !f
                .conditions
                .iter()
                .all(|c| self.schema.satisfies(type_name, c))
            {
                continue;
            }
            match groups.iter_mut().find(|(first, _)| first.key == f.key) {
                Some((_, children)) => children.extend(f.children.iter()),
                None => groups.push((f, f.children.iter().collect())),
            }
        }
        let mut out = Vec::with_capacity(groups.len());
        for (f, children) in groups {
            let mut fpath = path.to_vec();
            fpath.push(Seg::Key(f.key.clone()));
            let value = if f.name == "__typename" {
                Out::str(type_name)
            } else {
                let val = match resolve(obj, f, &self.ctx) {
                    Ok(v) => v,
                    Err(e) => {
                        self.errors
                            .push(GqlError::typed(e.kind, e.message, &fpath, f.pos));
                        Val::Null
                    }
                };
                self.complete(val, &f.ty, &children, &fpath)?
            };
            out.push((f.key.clone(), value));
        }
        Ok(Out::Obj(out))
    }

    fn complete(
        &mut self,
        val: Val,
        ty: &TypeRef,
        children: &[&Field],
        path: &[Seg],
    ) -> Result<Out, Propagate> {
        match ty {
            TypeRef::NonNull(inner) => match self.complete_nullable(val, inner, children, path) {
                Out::Null => Err(Propagate),
                v => Ok(v),
            },
            _ => Ok(self.complete_nullable(val, ty, children, path)),
        }
    }

    fn complete_nullable(
        &mut self,
        val: Val,
        ty: &TypeRef,
        children: &[&Field],
        path: &[Seg],
    ) -> Out {
        match (val, ty) {
            (Val::Null, _) => Out::Null,
            (Val::Leaf(o), _) => o,
            (Val::List(items), TypeRef::List(inner)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let mut ipath = path.to_vec();
                    ipath.push(Seg::Index(i));
                    match self.complete(item, inner, children, &ipath) {
                        Ok(v) => out.push(v),
                        Err(Propagate) => return Out::Null,
                    }
                }
                Out::List(out)
            }
            (Val::Obj(o), _) => self.object(&o, children, path).unwrap_or(Out::Null),
            // A list where the schema has none (or the reverse) cannot come from the resolvers.
            (Val::List(_), _) => Out::Null,
        }
    }
}
