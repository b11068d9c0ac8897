//! `timestamptz` and `date` values read without a panic. sqlx's own decoding adds the stored
//! microseconds to 2000-01-01 with `+`, which panics on `infinity` (and on any instant
//! past chrono's range, the year 262143): a row changed by hand would take down what
//! read it (black-box testing found `ledger verify` panicking, and the service dropping
//! every connection that read the row). Read here, such a value is a decoding error
//! that says so.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueFormat, PgValueRef, Postgres};
use sqlx::{Decode, Type};

/// A stored `timestamptz`.
pub(crate) struct StoredTime(pub(crate) DateTime<Utc>);

/// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl Type<Postgres> for StoredTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for StoredTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let micros = i64::from_be_bytes(value.as_bytes()?.try_into()?);
                micros
                    .checked_add(PG_EPOCH_MICROS)
                    .and_then(DateTime::from_timestamp_micros)
                    .map(StoredTime)
                    .ok_or_else(|| {
                        format!(
                            "{micros} microseconds from 2000-01-01 (infinity, or past the \
                             year 262143)"
                        )
                        .into()
                    })
            }
            // Parsed, not added to: an unreadable text is an error already.
            PgValueFormat::Text => {
                <DateTime<Utc> as Decode<Postgres>>::decode(value).map(StoredTime)
            }
        }
    }
}

/// A stored `date`: sqlx adds its days to 2000-01-01 with `+` too (`infinity`, or a
/// year past chrono's range, panicked in `GET /analytics/daily` and `ledger verify`).
pub(crate) struct StoredDate(pub(crate) NaiveDate);

impl Type<Postgres> for StoredDate {
    fn type_info() -> PgTypeInfo {
        <NaiveDate as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <NaiveDate as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for StoredDate {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let days = i32::from_be_bytes(value.as_bytes()?.try_into()?);
                NaiveDate::from_ymd_opt(2000, 1, 1)
                    .and_then(|epoch| epoch.checked_add_signed(TimeDelta::try_days(days.into())?))
                    .map(StoredDate)
                    .ok_or_else(|| {
                        format!("{days} days from 2000-01-01 (infinity, or past the year 262143)")
                            .into()
                    })
            }
            PgValueFormat::Text => <NaiveDate as Decode<Postgres>>::decode(value).map(StoredDate),
        }
    }
}
