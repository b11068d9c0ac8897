//! Clock and id-generator ports, with their system implementations.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// Fresh unique ids.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync + 'static {
    /// A new id, unique across processes.
    fn new_id(&self) -> Uuid;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until it is moved: for tests that drive time (expiries)
/// through the real service. Shared by reference; every holder sees each move.
#[derive(Debug)]
pub struct ManualClock {
    now: std::sync::Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: std::sync::Mutex::new(start),
        }
    }

    /// Sets the clock to `at`, earlier or later: a host clock stepped (by NTP, or a
    /// virtual machine restored), for tests of what the service does then.
    pub fn set(&self, at: DateTime<Utc>) {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Moves the clock forward by `by`. A negative `by`, or one past the end of the
    /// calendar, leaves it where it is (use [`Self::set`] to step it back).
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if by > chrono::Duration::zero() {
            if let Some(later) = now.checked_add_signed(by) {
                *now = later;
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Time-ordered random UUIDs (v7), ordered by their making within the process.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    /// `Uuid::now_v7` panics when the wall clock reads before 1970 (a host whose clock
    /// was never set); such a clock gives ids at 1970 here, still unique and ordered.
    fn new_id(&self) -> Uuid {
        let since = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap_or_default();
        v7_at(since)
    }
}

/// A v7 id at `since` the Unix epoch, after every id this process made before.
fn v7_at(since: std::time::Duration) -> Uuid {
    static CONTEXT: std::sync::Mutex<uuid::ContextV7> =
        std::sync::Mutex::new(uuid::ContextV7::new());
    let at = uuid::Timestamp::from_unix(&CONTEXT, since.as_secs(), since.subsec_nanos());
    Uuid::new_v7(at)
}

/// Runs background work off the request path (per-account command batches, snapshot
/// writes, a rebuild's read-ahead); `bootstrap` gives it `tokio::spawn`. Any `Fn(task)` closure is a spawner.
pub trait Spawner: Send + Sync + 'static {
    /// Starts the task and returns at once.
    fn spawn(&self, task: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>);
}

impl<F> Spawner for F
where
    F: Fn(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) + Send + Sync + 'static,
{
    fn spawn(&self, task: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) {
        self(task)
    }
}

#[cfg(test)]
mod tests {
    use super::{v7_at, IdGenerator, UuidV7Ids};

    #[test]
    fn ids_are_v7_and_ordered_by_their_making() {
        let ids: Vec<_> = (0..10_000).map(|_| UuidV7Ids.new_id()).collect();
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
        let now = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .unwrap()
            .as_secs();
        let (secs, _) = ids[0].get_timestamp().expect("v7").to_unix();
        assert!(
            now.abs_diff(secs) < 60,
            "the wall clock's time: {secs} vs {now}"
        );
    }

    /// What a clock before 1970 gives (`elapsed` fails, read as zero): ids at the
    /// epoch, v7, in order, none twice.
    #[test]
    fn ids_at_the_epoch_are_v7_and_ordered() {
        let ids: Vec<_> = (0..1_000)
            .map(|_| v7_at(std::time::Duration::ZERO))
            .collect();
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    }
}
