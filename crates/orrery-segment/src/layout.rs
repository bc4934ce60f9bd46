//! The sizes every framed file shares (`docs/formats/framing.md`), apart from the code
//! that reads and writes frames, so that error messages can name them without the
//! error types and the frame code importing each other.

/// Bytes before the first record: magic, version, three reserved zero bytes.
pub const FILE_HEADER_LEN: usize = 8;
/// Bytes of a record frame header: body length (u32le), CRC32C (u32le), type (u8).
pub const RECORD_HEADER_LEN: usize = 9;
/// Largest payload a record of any format built on this crate carries (64 MiB). A
/// format whose body has a fixed prefix before the payload (the queue's entry) adds
/// the prefix to the limit it gives the reader.
pub const MAX_PAYLOAD_LEN: usize = 64 << 20;
