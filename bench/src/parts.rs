//! The runs of one part alone (`--only-*`): each measures one issue's scenario and
//! prints its own table; the full run is `main`'s.

use std::time::Duration;

use crate::args::Args;
use crate::{access, cold, console, feed, integrity, long, scale, sqlite, stores, writes};

/// Runs the part `args` asks for alone; `None` when it asks for the full run.
pub(crate) async fn run_one(args: &Args) -> Option<anyhow::Result<()>> {
    if args.only_rebuild {
        println!("## rebuild");
        return Some(stores::rebuild(args.rebuild_events).await);
    }
    let secs = Duration::from_secs(args.seconds);
    let binary = args.ledger_binary();
    if args.only_sqlite {
        println!("## the embedded default (SQLite)");
        return Some(sqlite::measure(&binary, args.clients, secs, args.rounds).await);
    }
    if args.only_integrity {
        println!("## tamper evidence");
        if let Some(baseline) = &args.baseline {
            if let Err(e) = integrity::hashing_cost(
                &binary,
                baseline,
                args.clients,
                secs,
                args.rounds,
                args.pad_baseline,
            )
            .await
            {
                return Some(Err(e));
            }
        }
        return Some(integrity::verify(&binary, args.verify_events).await);
    }
    if args.only_cold {
        println!("## cold loads");
        let (k, n) = (args.cold_accounts, args.cold_events);
        return Some(cold::measure(&binary, k, n, args.rounds).await);
    }
    if args.only_scale {
        println!("## scale");
        let plan = scale::Plan {
            marks: args.scale_marks.clone(),
            clients: args.clients,
            secs,
            rounds: args.rounds,
            plot: args.plot.clone(),
        };
        return Some(scale::measure(&binary, plan).await);
    }
    if args.only_console {
        println!("## the console");
        return Some(console::measure(&binary, args.rounds).await);
    }
    if args.only_long {
        println!("## a long stream written directly");
        return Some(long::measure(&binary, args.long_stream, secs, args.rounds).await);
    }
    if args.only_writes {
        println!("## writes: pairs and batches");
        return Some(writes::measure(&binary, args.clients, secs).await);
    }
    if args.only_access {
        println!("## access (API keys)");
        return Some(access::owner_keys_cost(&binary, args.clients, secs, args.rounds).await);
    }
    if args.only_feed {
        println!("## the feed for outside consumers");
        return Some(
            feed::measure(&binary, args.clients, secs, args.rounds, args.feed_events).await,
        );
    }
    None
}
