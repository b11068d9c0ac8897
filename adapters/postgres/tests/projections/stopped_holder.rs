//! A lease holder that stops without dying (a SIGSTOP, a paused VM: here its runtime
//! blocked, so no keepalive runs) loses its lease within PostgreSQL's idle limit, and
//! another instance takes it over. Black-box testing found a stopped holder keeping
//! every lease for ever: expiries, projections and the relay stood still.

use std::sync::mpsc;
use std::time::Duration;

use ledger_application::ports::readmodel::{Lease, ProjectionStore};
use ledger_postgres::testing::TestDatabase;
use ledger_postgres::PgProjectionStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_holder_loses_its_lease_to_another_instance() {
    let (db, pool) = TestDatabase::migrated(5).await;
    let (taken_tx, taken_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let holder_pool = pool.clone();
    let holder = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let store = PgProjectionStore::new(holder_pool);
            let led = store.try_lead(Lease::Expirer).await.expect("asked");
            taken_tx.send(led).expect("told");
            // Stopped: this runtime runs nothing (its keepalive included) until resumed.
            let _ = resume_rx.recv();
            drop(store);
        });
    });
    assert!(
        taken_rx.recv().expect("the holder answers"),
        "it took the lease"
    );
    let other = PgProjectionStore::new(pool);
    assert!(
        !other.try_lead(Lease::Expirer).await.expect("asked"),
        "held while its holder is alive"
    );
    let mut took_over = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if other.try_lead(Lease::Expirer).await.expect("asked") {
            took_over = true;
            break;
        }
    }
    resume_tx.send(()).expect("resumed");
    holder.join().expect("the holder ends");
    assert!(took_over, "taken over from the stopped holder");
    drop(db);
}
