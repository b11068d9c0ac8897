//! Turns at writing one SQLite file, between the processes that share it.
//!
//! SQLite's own wait for its write lock polls: it sleeps 1, 2, 5 … then 100 ms between
//! tries, so a process that commits back to back keeps the lock from another one that
//! happens to poll while it is held (two `ledger serve` on one file, deposits spread over
//! 16 accounts, release builds: p99 115-117 ms, the slowest 743-750 ms; BENCHMARKS.md).
//! Writers take turns through two locks (`flock`) on files beside the database instead,
//! where a waiter sleeps in the kernel until the lock is let go: the queue lock first,
//! then the write lock, then the queue lock is let go. A writer that has just finished
//! and wants to write again queues behind the one already waiting, so two busy processes
//! alternate (the same runs: p99 23-24 ms, the slowest 41-42 ms). SQLite's lock and its
//! busy timeout stay as they were: the turn only decides who asks for it, and the few
//! writes made outside it (migrations under their own lock at start, then the hash
//! backfill of a file from before the chain, the fold of the write-ahead log at a clean
//! stop) meet SQLite's wait as before.
//!
//! A turn is this process's, not one connection's: while one is held (a write
//! transaction, or a command holding it across its read and its append, see
//! `EventStore::hold_appends`), this process's other writers of the file share it.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use crate::claim::lock_file;

/// How long a writer waits for its turn, in all, before the write is answered as
/// unavailable (SQLite's own busy timeout, which the turn stands in front of).
const WAIT: Duration = Duration::from_secs(5);

/// A turn at writing the file: held until dropped (closing its lock file lets the next
/// writer in, as the process ending does).
pub(crate) struct WriteTurn {
    _write: File,
}

/// This process's turn at each file it writes: the one held now (if any), behind a lock
/// that one taker at a time holds while it waits for a new one.
type Slot = Arc<tokio::sync::Mutex<Weak<WriteTurn>>>;
static TURNS: Mutex<Vec<(PathBuf, Slot)>> = Mutex::new(Vec::new());

/// This process's turn at writing `database`: the one it holds, or a new one waited for
/// (at most [`WAIT`]). Held until every clone is dropped.
///
/// One taker of the process at a time waits for a new turn, and the others share what
/// it gets: two waiting on their own could deadlock, one holding the turn while its
/// append waits behind the other's wait for that same turn.
pub(crate) async fn take(database: &Path) -> io::Result<Arc<WriteTurn>> {
    let deadline = Instant::now() + WAIT;
    let slot = {
        let mut all = TURNS.lock().unwrap_or_else(PoisonError::into_inner);
        // Files no taker waits for and no turn is held on (a test binary opens many).
        all.retain(|(_, slot)| {
            Arc::strong_count(slot) > 1 || slot.try_lock().map_or(true, |t| t.strong_count() > 0)
        });
        match all.iter().find(|(file, _)| file == database) {
            Some((_, slot)) => slot.clone(),
            None => {
                let slot = Slot::default();
                all.push((database.to_owned(), slot.clone()));
                slot
            }
        }
    };
    let mut held = timeout_at(deadline, slot.lock())
        .await
        .map_err(|_| timed_out())?;
    if let Some(turn) = held.upgrade() {
        return Ok(turn);
    }
    let turn = Arc::new(wait_for_turn(database, deadline).await?);
    *held = Arc::downgrade(&turn);
    Ok(turn)
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the turn at writing the SQLite file was not free within {} s (another \
             process kept it, or a write of this one waited for it)",
            WAIT.as_secs()
        ),
    )
}

/// Waits for, and takes, a turn at writing `database` of its own (until `deadline`), as
/// a process of its own would.
async fn wait_for_turn(database: &Path, deadline: Instant) -> io::Result<WriteTurn> {
    // Each wait opens its own lock files: a wait given up (past WAIT) goes on in its
    // thread until it has the turn and then lets it go, and a lock taken through the
    // same open file would count as this process's new turn.
    let queue = lock_file(database, "-queue.lock")?;
    let write = lock_file(database, "-write.lock")?;
    // Nobody queued and nobody writing (the usual case): no thread to wait in.
    let queued = match queue.try_lock() {
        Ok(()) => match write.try_lock() {
            Ok(()) => return Ok(WriteTurn { _write: write }),
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Error(e)) => return Err(e),
        },
        Err(TryLockError::WouldBlock) => false,
        Err(TryLockError::Error(e)) => return Err(e),
    };
    let (answer, turn) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let taken = if queued { Ok(()) } else { queue.lock() };
        let taken = taken.and_then(|()| write.lock());
        drop(queue);
        // A writer that stopped waiting is not there to take it: its turn, dropped
        // here, passes on.
        let _ = answer.send(taken.map(|()| WriteTurn { _write: write }));
    });
    match timeout_at(deadline, turn).await {
        Ok(Ok(taken)) => taken,
        Ok(Err(_)) => Err(io::Error::other(
            "the wait for the SQLite file's write turn stopped",
        )),
        Err(_) => Err(timed_out()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn soon() -> Instant {
        Instant::now() + WAIT
    }

    /// Takes the turn, notes `who`, and holds it a little.
    async fn write(database: PathBuf, who: &'static str, log: Arc<Mutex<Vec<&'static str>>>) {
        let _turn = wait_for_turn(&database, soon()).await.unwrap();
        log.lock().unwrap().push(who);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_waiting_goes_before_one_that_just_wrote() {
        let dir = std::env::temp_dir().join(format!("write-turn-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("ledger.db");
        let log = Arc::new(Mutex::new(Vec::new()));
        for _ in 0..20 {
            let first = wait_for_turn(&database, soon()).await.unwrap();
            // Another writer (as another process: its own lock files) waits meanwhile,
            // in the queue.
            let waiting = tokio::spawn(write(database.clone(), "waiting", log.clone()));
            while lock_file(&database, "-queue.lock")
                .unwrap()
                .try_lock()
                .is_ok()
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            assert!(
                log.lock().unwrap().is_empty(),
                "a turn was taken while held"
            );
            drop(first);
            // The writer that just wrote, back at once, queues behind the waiting one.
            write(database.clone(), "again", log.clone()).await;
            waiting.await.unwrap();
            assert_eq!(*log.lock().unwrap(), ["waiting", "again"]);
            log.lock().unwrap().clear();
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_held_turn_is_shared_by_the_process_and_let_go_with_its_last_holder() {
        let dir = std::env::temp_dir().join(format!("write-turn-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("ledger.db");
        let held = take(&database).await.unwrap();
        let shared = take(&database).await.unwrap();
        assert!(Arc::ptr_eq(&held, &shared), "a second turn was waited for");
        drop(held);
        let mut other = lock_file(&database, "-write.lock").unwrap();
        assert!(
            other.try_lock().is_err(),
            "the turn went with a holder left"
        );
        drop(shared);
        other = lock_file(&database, "-write.lock").unwrap();
        other
            .try_lock()
            .expect("the turn stayed after its last holder");
        drop(other);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_given_up_passes_the_turn_on_once_it_comes() {
        let dir = std::env::temp_dir().join(format!("write-turn-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("ledger.db");
        let holder = wait_for_turn(&database, soon()).await.unwrap();
        let short = Instant::now() + Duration::from_millis(100);
        let given_up = wait_for_turn(&database, short).await.err().unwrap();
        assert_eq!(given_up.kind(), io::ErrorKind::TimedOut);
        assert!(
            given_up.to_string().contains("not free within"),
            "{given_up}"
        );
        drop(holder);
        // The given-up wait's thread gets the turn and lets it go: the next one has it.
        let next = wait_for_turn(&database, soon()).await;
        assert!(next.is_ok(), "{:?}", next.err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
