//! A child's dependency on a sibling started before it ([`StartedBefore`]), and the typed
//! failure when that sibling is not running ([`NotStarted`]).
//!
//! Under a `rest_for_one` supervisor a child listed earlier is running whenever a later one
//! starts (a restart of the earlier one restarts every later one). A later child's factory
//! therefore asks its [`StartedBefore`] for the address; should the order ever be broken (a
//! spec moved, a subtree rearranged), the start fails with [`NotStarted`] naming the missing
//! sibling, counted and retried by the supervisor like any failed start — never a panic.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, Recipient};

use super::ActorSlot;

/// A sibling started before this child could not be found: the start fails and is retried.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0} is not running; it must start before this child")]
pub struct NotStarted(pub &'static str);

type Lookup<M> = Arc<dyn Fn() -> Option<Recipient<M>> + Send + Sync>;

/// The current incarnation of a sibling started before this child, as a recipient of `M`.
pub struct StartedBefore<M>
where
    M: Message + Send + 'static,
    M::Result: Send,
{
    name: &'static str,
    lookup: Lookup<M>,
}

impl<M> Clone for StartedBefore<M>
where
    M: Message + Send + 'static,
    M::Result: Send,
{
    fn clone(&self) -> Self {
        StartedBefore {
            name: self.name,
            lookup: self.lookup.clone(),
        }
    }
}

impl<M> StartedBefore<M>
where
    M: Message + Send + 'static,
    M::Result: Send,
{
    /// The actor `slot` holds, named `name` in errors.
    pub fn slot<A>(name: &'static str, slot: &ActorSlot<A>) -> StartedBefore<M>
    where
        A: Actor<Context = Context<A>> + Handler<M>,
    {
        let slot = slot.clone();
        StartedBefore {
            name,
            lookup: Arc::new(move || slot.get().map(|a| a.recipient())),
        }
    }

    /// A recipient found by `lookup` (e.g. whichever of two actors a configuration starts).
    pub fn lookup(
        name: &'static str,
        lookup: impl Fn() -> Option<Recipient<M>> + Send + Sync + 'static,
    ) -> StartedBefore<M> {
        StartedBefore {
            name,
            lookup: Arc::new(lookup),
        }
    }

    /// The sibling's current incarnation.
    pub fn get(&self) -> Result<Recipient<M>, NotStarted> {
        (self.lookup)().ok_or(NotStarted(self.name))
    }

    /// The sibling's current incarnation, if any (for senders that may find it down).
    pub fn current(&self) -> Option<Recipient<M>> {
        (self.lookup)()
    }
}
