//! What the scale run prints and draws: the bytes on disk at each size, the ratios
//! against the first size, and the curve as a PNG (plotters).

use std::path::Path;

use plotters::prelude::*;

use super::Mark;

/// The font the plot's text is drawn with (DejaVu Sans, Debian's `fonts-dejavu-core`).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Prints each table's bytes on disk (heap and indexes), per event.
pub(crate) async fn disk(pool: &sqlx::PgPool, events: u64) -> anyhow::Result<()> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT relname::text, pg_table_size(oid), pg_indexes_size(oid) FROM pg_class \
         WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace \
         AND pg_total_relation_size(oid) > 1048576 ORDER BY 2 + 3 DESC",
    )
    .fetch_all(pool)
    .await?;
    let per = |b: i64| b as f64 / events.max(1) as f64;
    let mut total = 0;
    for (table, heap, indexes) in rows {
        total += heap + indexes;
        println!(
            "| bytes per event: `{table}` | {:.0} (table {:.0}, indexes {:.0}) |",
            per(heap + indexes),
            per(heap),
            per(indexes)
        );
    }
    println!(
        "| bytes per event: all tables over 1 MB | {:.0} ({:.2} GB) |",
        per(total),
        total as f64 / 1e9
    );
    Ok(())
}

/// PostgreSQL's shared-buffer counters of this database: (blocks found in shared
/// buffers, blocks read from the kernel). Read after a pause, so that the server's
/// sessions have reported their counts.
pub(crate) async fn buffers(pool: &sqlx::PgPool) -> anyhow::Result<(i64, i64)> {
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    Ok(sqlx::query_as(
        "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await?)
}

/// The write-ahead log's position now, for [`wal_since`].
pub(crate) async fn wal_lsn(pool: &sqlx::PgPool) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(pool)
        .await?)
}

/// The WAL one spread round wrote (every session of the server, the projections'
/// included), read from the log itself (`pg_walinspect`, which needs a superuser).
#[derive(Default)]
pub(crate) struct RoundWal {
    /// Bytes of WAL.
    pub(crate) bytes: i64,
    /// Bytes of full-page images in it (as logged: compressed, if `wal_compression` is on).
    pub(crate) image_bytes: i64,
    /// Full-page images by relation of this database: (relation, images, bytes).
    pub(crate) images: Vec<(String, i64, i64)>,
}

/// The WAL written from `start` to the end flushed now, its images read in one pass
/// over the range's records. A page's first change after a checkpoint is logged whole (up to 8 kB), so a
/// table or index whose inserts land all over it pays a page per insert once it
/// outgrows the changes between checkpoints.
pub(crate) async fn wal_since(pool: &sqlx::PgPool, start: &str) -> anyhow::Result<RoundWal> {
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        .execute(pool)
        .await?;
    let (end, bytes): (String, i64) = sqlx::query_as(
        "SELECT lsn::text, (lsn - $1::pg_lsn)::bigint FROM pg_current_wal_flush_lsn() AS lsn",
    )
    .bind(start)
    .fetch_one(pool)
    .await?;
    // The function refuses an empty range.
    if bytes <= 0 {
        return Ok(RoundWal::default());
    }
    // One pass over the range's records: each block reference with an image, whether
    // it is this database's, its relation and the bytes logged (the page less its hole
    // and what compression saved).
    let rows: Vec<(bool, String, i64, i64)> = sqlx::query_as(
        "WITH images AS (SELECT \
                 m[1]::oid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                     AS here, \
                 m[2]::oid AS node, \
                 8192 - COALESCE(m[3]::int, 0) - COALESCE(m[4]::int, 0) AS bytes \
             FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) r, \
             regexp_matches(r.block_ref, \
                 'rel \\d+/(\\d+)/(\\d+) fork \\w+ blk \\d+ \\(FPW\\)(?:; hole: offset: \\d+, length: (\\d+))?(?:, compression saved: (\\d+))?', \
                 'g') m) \
         SELECT here, COALESCE(CASE WHEN here THEN pg_filenode_relation(0, node)::text END, \
                 node::text), count(*), sum(bytes)::bigint \
         FROM images GROUP BY here, node ORDER BY 4 DESC",
    )
    .bind(start)
    .bind(&end)
    .fetch_all(pool)
    .await?;
    Ok(RoundWal {
        bytes,
        image_bytes: rows.iter().map(|(_, _, _, b)| b).sum(),
        images: rows
            .into_iter()
            .filter(|(here, ..)| *here)
            .map(|(_, relation, n, b)| (relation, n, b))
            .collect(),
    })
}

/// The share of block reads shared buffers answered between two [`buffers`] readings.
pub(crate) fn hit_ratio(before: (i64, i64), after: (i64, i64)) -> f64 {
    let (hit, read) = (after.0 - before.0, after.1 - before.1);
    hit as f64 / (hit + read).max(1) as f64
}

/// Prints the curve and each target's ratio against the first size.
pub(crate) fn summary(marks: &[Mark]) {
    let Some(first) = marks.first() else { return };
    println!("\n## the growth of cost");
    println!("| events | spread req/s | rebuild events/s | verify events/s | floor, empty table, commits/s |");
    println!("|---|---|---|---|---|");
    for m in marks {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            m.events, m.spread, m.rebuild_rate, m.verify_rate, m.floor_empty
        );
    }
    println!("\n## against the first size ({} events)", first.events);
    for m in &marks[1..] {
        println!("| at {} events | ratio |", m.events);
        println!("|---|---|");
        println!(
            "| spread rate (target ≥ 0.9) | {:.2} |",
            m.spread / first.spread
        );
        println!(
            "| single-client p50 (target ≤ 1.1) | {:.2} ({:.2} / {:.2} ms) |",
            m.single_p50 / first.single_p50,
            m.single_p50,
            first.single_p50
        );
        for ((name, p50, _), (_, base, _)) in m.reads.iter().zip(&first.reads) {
            println!(
                "| {name} p50 (target ≤ 1.2) | {:.2} ({p50:.2} / {base:.2} ms) |",
                p50 / base
            );
        }
        println!(
            "| floor into an empty table (the machine's drift) | {:.2} |",
            m.floor_empty / first.floor_empty
        );
        println!(
            "| rebuild {:.0} events/s (target ≥ 150,000), server peak RSS {:.1} MB (target ≤ 256) | |",
            m.rebuild_rate, m.rebuild_rss
        );
        println!(
            "| verify {:.0} events/s (target ≥ 200,000), peak RSS {:.1} MB | |",
            m.verify_rate, m.verify_rss
        );
    }
}

/// What a panel plots of each size.
type Value = fn(&Mark) -> f64;

/// Two panels over the store's size in millions of events: the spread (requests/s)
/// and the rebuild (thousands of events/s).
pub(crate) fn draw(marks: &[Mark], path: &Path) -> anyhow::Result<()> {
    let font: &'static [u8] = Box::leak(
        std::fs::read(FONT)
            .map_err(|e| anyhow::anyhow!("{FONT}: {e} (apt-get install fonts-dejavu-core)"))?
            .into_boxed_slice(),
    );
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow::anyhow!("{FONT} is not a font"))?;
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let x_max = marks.iter().map(|m| m.events).max().unwrap_or(1) as f64 / 1e6;
    let series: [(&str, &str, Value); 2] = [
        ("Spread: deposits over 1,000 accounts", "requests/s", |m| {
            m.spread
        }),
        ("Rebuild of all projections", "thousand events/s", |m| {
            m.rebuild_rate / 1e3
        }),
    ];
    for (panel, (title, unit, value)) in panels.iter().zip(series) {
        let y_max = marks.iter().map(value).fold(0.0, f64::max) * 1.2;
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max * 1.05, 0.0..y_max.max(1.0))?;
        chart
            .configure_mesh()
            .x_desc("events in the store (millions)")
            .y_desc(unit)
            .draw()?;
        let points: Vec<(f64, f64)> = marks
            .iter()
            .map(|m| (m.events as f64 / 1e6, value(m)))
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), &BLUE))?;
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, BLUE.filled())))?;
    }
    root.present()?;
    Ok(())
}
