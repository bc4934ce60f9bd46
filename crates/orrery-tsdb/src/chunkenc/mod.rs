//! Sample codecs: Gorilla/XOR (appendable, for the head) and pco (for sealed blocks).
//!
//! Pure code: no I/O, no locks. Decoders never panic on bad bytes; they return
//! [`crate::TsdbError::Decode`], which callers that know the file and offset wrap into
//! [`crate::TsdbError::Corruption`].

pub mod pco;
pub mod varint;
pub mod xor;

pub use xor::{XorChunk, XorIter};
