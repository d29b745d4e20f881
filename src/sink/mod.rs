//! Sinks of results: JSON Lines files (replay), and the encoders of the KPI record, breach event
//! and dead letter that every sink shares, and a writer that writes a file on a thread of its own.

pub mod background;
pub mod jsonl;
pub mod terminal;
