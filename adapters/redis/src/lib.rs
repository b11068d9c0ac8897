//! Redis snapshot store. Empty until the snapshot issue lands: it implements nothing yet.
#![forbid(unsafe_code)]
