//! What the runner checks: any type that can say its URL (or why it has
//! none), handed back with its result, so the result model knows nothing of
//! where targets come from.

use url::Url;

use super::Profile;

/// A target of the runner: a URL, or a caller's record that holds one.
///
/// Targets may wait in memory by the hundred thousand (for a host held by
/// `per_host`, or for a duplicate's answer), so a target says how it
/// waits: [`Target::park`] may shrink it and [`Target::unpark`] restores it.
/// A type with nothing to shrink parks as itself:
///
/// ```
/// use url::Url;
///
/// struct Row { id: u32, url: Url }
///
/// impl statuscheck::Target for Row {
///     type Parked = Row;
///     fn url(&self) -> Result<&Url, &str> { Ok(&self.url) }
///     fn park(self) -> Row { self }
///     fn unpark(row: Row) -> Row { row }
/// }
/// ```
pub trait Target: Send + 'static {
    /// The form a waiting target is kept in.
    type Parked: Send + 'static;

    /// The URL to check, or why this target cannot be checked (it then
    /// gets an `invalid-url` result without any network traffic).
    fn url(&self) -> Result<&Url, &str>;

    /// The form to wait in.
    fn park(self) -> Self::Parked;

    /// Back from waiting, as it was.
    fn unpark(parked: Self::Parked) -> Self;

    /// This target's own request, deadline and expectations (a checks
    /// file's entry, say), instead of those of the [`crate::Options`].
    fn profile(&self) -> Option<&Profile> {
        None
    }
}

impl Target for Url {
    type Parked = Url;

    fn url(&self) -> Result<&Url, &str> {
        Ok(self)
    }

    fn park(self) -> Url {
        self
    }

    fn unpark(parked: Url) -> Url {
        parked
    }
}
