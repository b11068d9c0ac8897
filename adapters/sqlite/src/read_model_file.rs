//! The read models' own SQLite file, beside the events' file (`ledger.db` →
//! `ledger-read-models.db`): the projections write it through a writer connection of
//! its own, so that appends and projections never wait for each other's write lock.
//! Everything in it is made from the events: removed, it is created again and the
//! projections fill it from the start of the feed.

use std::path::{Path, PathBuf};

use sqlx::SqlitePool;

use crate::{pools, SqliteEventStore, READ_MODEL_MIGRATOR};

/// The pools of the read models' file: a writer of its own (one connection) and readers.
#[derive(Clone, Debug)]
pub struct ReadModelFile {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl ReadModelFile {
    /// The read models' writer (one connection).
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The read models' readers.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

/// `<stem>-read-models.<extension>` beside the events' file.
pub fn read_models_path(events: &Path) -> PathBuf {
    let stem = events.file_stem().unwrap_or_default().to_string_lossy();
    let name = match events.extension() {
        Some(ext) => format!("{stem}-read-models.{}", ext.to_string_lossy()),
        None => format!("{stem}-read-models"),
    };
    events.with_file_name(name)
}

/// The read models of `events`, their file created if needed and migrated.
pub async fn open_read_models(events: &SqliteEventStore) -> Result<ReadModelFile, sqlx::Error> {
    open_beside(events, true).await
}

/// The existing read models of `events`, unchanged: for `ledger verify`.
pub async fn open_read_models_existing(
    events: &SqliteEventStore,
) -> Result<ReadModelFile, sqlx::Error> {
    open_beside(events, false).await
}

async fn open_beside(
    events: &SqliteEventStore,
    create: bool,
) -> Result<ReadModelFile, sqlx::Error> {
    let options = events.writer().connect_options().as_ref().clone();
    let path = read_models_path(options.get_filename());
    if !create && !path.exists() {
        return Err(sqlx::Error::Configuration(
            format!(
                "the read models' file {} does not exist: `ledger serve` (or `ledger migrate`) \
                 makes it, and the projections fill it from the events",
                path.display()
            )
            .into(),
        ));
    }
    let options = options.create_if_missing(create).filename(&path);
    let migrator = create.then_some(&READ_MODEL_MIGRATOR);
    let (writer, reader) = pools(options, migrator).await?;
    let file = ReadModelFile { writer, reader };
    // `ledger verify` opens them as they are: a checkpoint past the events' end is one
    // of its findings (events removed), not a reason to stop before checking; another
    // ledger's file is refused there too (every row would differ). Another ledger's
    // file first: told it is ahead of these events, an operator would look for
    // deleted events instead.
    same_ledger(&file, events, &path, create).await?;
    if create {
        not_ahead(&file, events, &path).await?;
    }
    Ok(file)
}

/// Refuses read models made from another ledger's events (a file copied from
/// elsewhere, behind this ledger's end or ahead of it): they would show its accounts
/// and money as this one's. A ledger is known by the random id its
/// events' file is made with, recorded in the read models (when `record`) the first
/// time the two open together (a new ledger's first start included).
async fn same_ledger(
    file: &ReadModelFile,
    events: &SqliteEventStore,
    path: &Path,
    record: bool,
) -> Result<(), sqlx::Error> {
    let identities = async {
        let ledger: String = sqlx::query_scalar("SELECT ledger_id FROM ledger_identity")
            .fetch_one(events.reader())
            .await?;
        let known: Option<String> = sqlx::query_scalar("SELECT ledger_id FROM ledger_identity")
            .fetch_optional(&file.reader)
            .await?;
        Ok::<_, sqlx::Error>((ledger, known))
    };
    let (ledger, known) = match identities.await {
        Ok(found) => found,
        // Files as they are, of a version before the identity: nothing to compare.
        Err(sqlx::Error::Database(e)) if !record && e.message().starts_with("no such table") => {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    match known {
        Some(known) if known != ledger => Err(sqlx::Error::Configuration(
            format!(
                "the read models in {} were made from another ledger's events: remove \
                 that file and start again; the projections make it anew from these events",
                path.display()
            )
            .into(),
        )),
        Some(_) => Ok(()),
        None if !record => Ok(()),
        None => {
            sqlx::query(
                "INSERT INTO ledger_identity (ledger_id) SELECT ?1 \
                 WHERE NOT EXISTS (SELECT 1 FROM ledger_identity)",
            )
            .bind(ledger)
            .execute(&file.writer)
            .await?;
            Ok(())
        }
    }
}

/// Refuses read models that have seen events the events' file does not hold (events
/// removed from it, or the two files restored from different moments): new events
/// would take positions the projections believe they have applied, and the views would
/// silently miss them.
async fn not_ahead(
    file: &ReadModelFile,
    events: &SqliteEventStore,
    path: &Path,
) -> Result<(), sqlx::Error> {
    let applied: i64 = sqlx::query_scalar(
        "SELECT coalesce(max(max(position, coalesce(rebuild_position, 0))), 0) FROM projections",
    )
    .fetch_one(&file.reader)
    .await?;
    let stored: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
        .fetch_one(events.reader())
        .await?;
    if applied > stored {
        return Err(sqlx::Error::Configuration(
            format!(
                "the read models in {} have applied events up to position {applied}, but the \
                 events' file ends at {stored}: events were removed from it, or the two files \
                 were restored from different moments. Run `ledger verify` first (it names \
                 what differs); only if the files come from different moments, remove the \
                 read models' file and start again: the projections make it anew from the \
                 events",
                path.display()
            )
            .into(),
        ));
    }
    Ok(())
}
