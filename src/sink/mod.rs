//! Sinks of results: JSON Lines files (replay), and the encoders of the KPI record, breach event
//! and dead letter that every sink shares.

pub mod jsonl;
pub mod terminal;
