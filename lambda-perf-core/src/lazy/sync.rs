//! [`TimedLazy`]: a `LazyLock` that records how long its initializer took.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use super::record;

/// A lazily initialized value, like [`std::sync::LazyLock`], whose initialization is
/// recorded: its duration, and whether it ran at init or inside an invocation (which then
/// waited for it). Use it as a `static` for SDK clients, connection pools, parsed
/// configuration.
///
/// ```
/// use lambda_perf_core::lazy::TimedLazy;
///
/// struct Client;
/// fn connect() -> Client { Client }
///
/// static CLIENT: TimedLazy<Client> = TimedLazy::new("dynamodb", connect);
///
/// fn main() {
///     // Eagerly, before the runtime starts: recorded with phase `init` and reported on the
///     // first invocation. Without it, the first handler to use CLIENT pays, in phase
///     // `invocation`, inside a `## init dynamodb` subsegment.
///     CLIENT.init_now();
///     let _client: &Client = &CLIENT;
/// }
/// ```
///
/// Concurrent first uses initialize exactly once; the others wait. After that, a use costs
/// what `OnceLock::get` costs and records nothing.
///
/// Unlike `LazyLock`, it is not poisoned by an initializer that panics: the panic reaches the
/// caller, the initialization is recorded as panicked, and the next use runs `init` again.
/// As with `LazyLock`, an initializer must not use the value it is creating (that use waits
/// for itself).
pub struct TimedLazy<T, F = fn() -> T> {
    name: &'static str,
    cell: OnceLock<T>,
    init: F,
}

impl<T, F: Fn() -> T> TimedLazy<T, F> {
    /// A value named `name` (the `client` dimension) made by `init` on first use.
    pub const fn new(name: &'static str, init: F) -> Self {
        Self {
            name,
            cell: OnceLock::new(),
            init,
        }
    }

    /// The value, initializing it first if needed. Inlined: once initialized, a use is
    /// `OnceLock::get`'s check where it is made.
    #[inline]
    pub fn get(&self) -> &T {
        if let Some(value) = self.cell.get() {
            return value;
        }
        self.initialize()
    }

    /// [`TimedLazy::get`] before the value is there: initializes it (or waits for the thread
    /// that does), timed and recorded.
    #[cold]
    #[inline(never)]
    fn initialize(&self) -> &T {
        record::slow_path(self.name, || {
            let mut initialized = false;
            let value = self.cell.get_or_init(|| {
                initialized = true;
                record::time(self.name, || (self.init)())
            });
            (value, initialized)
        })
    }

    /// Initializes now (in `main`, before the runtime starts, for an eager client).
    pub fn init_now(&self) -> &T {
        self.get()
    }

    /// The value if it is initialized, without initializing it.
    pub fn get_if_initialized(&self) -> Option<&T> {
        self.cell.get()
    }

    /// The name given at creation.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<T, F: Fn() -> T> Deref for TimedLazy<T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        self.get()
    }
}

impl<T: fmt::Debug, F> fmt::Debug for TimedLazy<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedLazy")
            .field("name", &self.name)
            .field("value", &self.cell.get())
            .finish()
    }
}
