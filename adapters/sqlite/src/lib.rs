//! SQLite adapter. Empty until the store issue lands: it implements nothing yet.
#![forbid(unsafe_code)]
