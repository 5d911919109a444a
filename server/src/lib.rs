//! omicsdb-server: the Postgres wire protocol server ([`pg`]) and the
//! `omicsdb` command-line tool.

pub mod pg;
