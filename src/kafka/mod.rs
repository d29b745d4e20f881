//! Kafka edges of the pipeline: client configuration, the Avro codec of every topic, and topic
//! administration.

pub mod client;
pub mod codec;
pub mod datum;
pub mod high_watermark;
pub mod produce;
pub mod registry;
pub mod tail;
