//! Rows in PostgreSQL's binary `COPY` format, for bulk inserts. `COPY ... FROM STDIN
//! (FORMAT binary)` takes rows about twice as fast as `INSERT ... SELECT FROM UNNEST`
//! of bound arrays (BENCHMARKS.md): no arrays to build and take apart, and the rows
//! go into the table's pages several at a time.
//!
//! Format: <https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The signature, then the flags and the header-extension length (both zero).
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A value that does not fit PostgreSQL's binary format.
#[derive(Debug, thiserror::Error)]
#[error("binary COPY: {0}")]
pub struct CopyEncodeError(&'static str);

/// Binary `COPY` data being written row by row, field by field in column order.
pub(crate) struct BinaryCopy {
    buf: Vec<u8>,
    fields: i16,
}

impl BinaryCopy {
    /// Data for rows of `fields` columns each.
    pub(crate) fn new(fields: i16) -> Self {
        let mut buf = Vec::with_capacity(64 * 1024);
        buf.extend_from_slice(HEADER);
        Self { buf, fields }
    }

    /// Starts a row; its `fields` values follow.
    pub(crate) fn row(&mut self) {
        self.buf.extend_from_slice(&self.fields.to_be_bytes());
    }

    fn field(&mut self, bytes: &[u8]) -> Result<(), CopyEncodeError> {
        let len = i32::try_from(bytes.len()).map_err(|_| CopyEncodeError("value too long"))?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// SQL NULL.
    pub(crate) fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// A `BIGINT`.
    pub(crate) fn int8(&mut self, v: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A `BIGINT` or NULL.
    pub(crate) fn opt_int8(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int8(v),
            None => self.null(),
        }
    }

    /// A `TEXT` (PostgreSQL refuses NUL characters in it, with an error).
    pub(crate) fn text(&mut self, s: &str) -> Result<(), CopyEncodeError> {
        self.field(s.as_bytes())
    }

    /// A `TEXT` or NULL.
    pub(crate) fn opt_text(&mut self, s: Option<&str>) -> Result<(), CopyEncodeError> {
        match s {
            Some(s) => self.text(s),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    /// A `UUID`.
    pub(crate) fn uuid(&mut self, u: &Uuid) {
        self.buf.extend_from_slice(&16i32.to_be_bytes());
        self.buf.extend_from_slice(u.as_bytes());
    }

    /// A `TIMESTAMPTZ` (microseconds; finer digits are dropped, as sqlx's own
    /// encoding does).
    pub(crate) fn timestamptz(&mut self, t: &DateTime<Utc>) -> Result<(), CopyEncodeError> {
        let micros = t
            .timestamp_micros()
            .checked_sub(PG_EPOCH_MICROS)
            .ok_or(CopyEncodeError("timestamp out of range"))?;
        self.int8(micros);
        Ok(())
    }

    /// Bytes written so far (not yet taken).
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Takes the data written so far, to be sent while more rows are written.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let capacity = self.buf.capacity();
        std::mem::replace(&mut self.buf, Vec::with_capacity(capacity))
    }

    /// The rest of the data, with the trailer.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_its_field_count_then_length_prefixed_values() {
        let mut c = BinaryCopy::new(3);
        c.row();
        c.int8(-2);
        c.null();
        c.text("é").unwrap();
        let data = c.finish();
        assert_eq!(&data[..19], HEADER);
        let row = &data[19..];
        let mut expected = vec![0, 3, 0, 0, 0, 8, 255, 255, 255, 255, 255, 255, 255, 254];
        expected.extend_from_slice(&[255, 255, 255, 255, 0, 0, 0, 2, 0xc3, 0xa9, 255, 255]);
        assert_eq!(row, expected.as_slice());
    }

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let mut c = BinaryCopy::new(1);
        let t = DateTime::parse_from_rfc3339("2000-01-01T00:00:01.000002Z")
            .unwrap()
            .with_timezone(&Utc);
        c.timestamptz(&t).unwrap();
        let before = DateTime::parse_from_rfc3339("1999-12-31T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        c.timestamptz(&before).unwrap();
        let data = c.finish();
        assert_eq!(
            &data[19..31],
            &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x42]
        );
        assert_eq!(
            &data[31..43],
            &[0, 0, 0, 8, 255, 255, 255, 255, 255, 0xf0, 0xbd, 0xc0]
        );
    }
}
