//! Alert inputs: files, directories (sorted, recursive), tar and tar.gz archives,
//! each file an Avro container or a Confluent-framed message. Damaged inputs are
//! reported as items of their own and reading goes on.

use crate::container::{BlockSource, ContainerReader, InMemory, Streamed};
use crate::decode_confluent_as;
use crate::registry::SchemaRegistry;
use crate::source::FileReader;
use crate::value::{Payload, Projection, Value};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Keep `bytes` fields (cutouts); by default only their length is kept.
    pub keep_bytes: bool,
    /// Decoded alerts that may wait for the consumer (bounds memory).
    pub capacity: usize,
    /// Decode straight into JSON ([`Payload::Json`]) instead of Avro values.
    pub json: bool,
    /// With Avro values: also build each record's JSON with its nested records
    /// reduced to these fields ([`Packet::preview`], see [`Projection`]), on the
    /// reading thread, so a consumer filtering on them need not.
    pub preview_fields: Option<std::sync::Arc<std::collections::BTreeSet<String>>>,
    /// The largest container block read, compressed or decompressed (default
    /// [`crate::container::DEFAULT_MAX_BLOCK_BYTES`], 64 MiB); a larger one is a
    /// damaged input, so a small file cannot make the reader exhaust memory.
    pub max_block_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            keep_bytes: false,
            capacity: 1024,
            json: false,
            preview_fields: None,
            max_block_bytes: crate::container::DEFAULT_MAX_BLOCK_BYTES,
        }
    }
}

/// One decoded alert packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// File (or `archive:member`) it came from.
    pub origin: String,
    /// Index of the packet in that file.
    pub index: usize,
    /// The decoded packet (a record for alerts).
    pub payload: Payload,
    /// The record's projected JSON, if [`ReadOptions::preview_fields`] asked for it.
    pub preview: Option<Preview>,
}

/// A record's JSON with nested records reduced to `fields` (see [`Projection`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The fields kept (the set given in [`ReadOptions::preview_fields`]).
    pub fields: std::sync::Arc<std::collections::BTreeSet<String>>,
    /// The projected JSON.
    pub json: serde_json::Value,
}

/// An input that could not be read, entirely or from some alert on.
#[derive(Debug, Clone, PartialEq)]
pub struct Damaged {
    /// File (or `archive:member`).
    pub origin: String,
    /// Index of the first alert lost, if the damage is inside a file.
    pub index: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "{} (alert {i}): {}", self.origin, self.reason),
            None => write!(f, "{}: {}", self.origin, self.reason),
        }
    }
}

/// What the reader yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A decoded packet.
    Packet(Packet),
    /// A damaged input.
    Damaged(Damaged),
}

/// Counts of a finished read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Files (archive members included) opened.
    pub files: usize,
    /// Schemas parsed (cache misses).
    pub schemas_parsed: usize,
    /// Paths skipped because they name a file or directory already read through
    /// another path (a symbolic link, or a source given twice): each file is read
    /// once.
    pub already_read: usize,
}

/// A file's identity on its filesystem (device, inode), so two paths to one file
/// (symbolic links, hard links, a source given twice) are read once.
type FileId = (u64, u64);

fn file_id(m: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// The paths in `paths` that do not exist, each with what went wrong, so a caller
/// can refuse a mistyped source before reading anything (a damaged file *inside* a
/// source is reported as a damaged item and skipped instead).
pub fn missing_sources(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| match std::fs::metadata(p) {
            Ok(_) => None,
            Err(e) => Some(format!("source {}: {e}", p.display())),
        })
        .collect()
}

/// Items handed from the reader thread to the consumer in chunks of this many, so
/// the two threads wake each other once per chunk, not once per alert.
const CHUNK: usize = 32;

/// The items of [`read_inputs`], in order. Dropping it stops the reader.
pub struct Items {
    rx: Receiver<Vec<Item>>,
    chunk: std::vec::IntoIter<Item>,
}

impl Iterator for Items {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.chunk.next() {
                return Some(item);
            }
            self.chunk = self.rx.recv().ok()?.into_iter();
        }
    }
}

/// Read `paths` on a background thread; items arrive in a deterministic order
/// (paths as given, directories sorted, archives in member order). At most about
/// `opts.capacity` decoded items wait for the consumer.
pub fn read_inputs(paths: Vec<PathBuf>, opts: ReadOptions) -> (Items, JoinHandle<ReadStats>) {
    let (tx, rx) = sync_channel::<Vec<Item>>((opts.capacity / CHUNK).max(1));
    let handle = std::thread::spawn(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        let stats = walk(&paths, &opts, &mut |item| {
            chunk.push(item);
            chunk.len() < CHUNK
                || tx
                    .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                    .is_ok()
        });
        if !chunk.is_empty() {
            let _ = tx.send(chunk);
        }
        stats
    });
    let items = Items {
        rx,
        chunk: Vec::new().into_iter(),
    };
    (items, handle)
}

/// Read one in-memory payload (e.g. a Kafka message: a container file or a
/// Confluent-framed message), calling `emit` for each item until it returns false.
pub fn walk_bytes(
    origin: &str,
    bytes: &[u8],
    opts: &ReadOptions,
    emit: &mut dyn FnMut(Item) -> bool,
) -> ReadStats {
    Walker::run(opts, emit, |w| w.bytes(origin, bytes))
}

/// Decodes a stream of in-memory messages (Kafka: one Avro container file or one
/// Confluent-framed message each), keeping parsed schemas across messages — ZTF
/// repeats its whole schema in every message, and parsing it costs more than
/// decoding the alert.
pub struct MessageDecoder {
    registry: SchemaRegistry,
    opts: ReadOptions,
}

impl MessageDecoder {
    /// A decoder with an empty schema cache.
    pub fn new(opts: ReadOptions) -> Self {
        MessageDecoder {
            registry: SchemaRegistry::new(),
            opts,
        }
    }

    /// Decode one message, calling `emit` for each item (packets, or one damaged
    /// item for a message that cannot be read) until it returns false.
    pub fn decode(&mut self, origin: &str, bytes: &[u8], emit: &mut dyn FnMut(Item) -> bool) {
        let registry = std::mem::take(&mut self.registry);
        let mut w = Walker {
            registry,
            opts: self.opts.clone(),
            stats: ReadStats::default(),
            emit,
            go_on: true,
            projection: opts_projection(&self.opts),
            seen: Default::default(),
            open_dirs: Vec::new(),
        };
        w.bytes(origin, bytes);
        self.registry = w.registry;
    }

    /// Schemas parsed so far (cache misses).
    pub fn schemas_parsed(&self) -> usize {
        self.registry.parsed
    }
}

/// Read `paths` on this thread, calling `emit` for each item until it returns false.
pub fn walk(
    paths: &[PathBuf],
    opts: &ReadOptions,
    emit: &mut dyn FnMut(Item) -> bool,
) -> ReadStats {
    Walker::run(opts, emit, |w| {
        for p in paths {
            if !w.go_on {
                break;
            }
            w.path(p);
        }
    })
}

fn opts_projection(opts: &ReadOptions) -> Option<Projection> {
    let fields = opts.preview_fields.as_ref().filter(|_| !opts.json)?;
    Some(Projection::new(fields.iter().cloned()))
}

struct Walker<'a> {
    registry: SchemaRegistry,
    opts: ReadOptions,
    stats: ReadStats,
    emit: &'a mut dyn FnMut(Item) -> bool,
    go_on: bool,
    projection: Option<Projection>,
    /// Files and directories entered so far.
    seen: std::collections::HashSet<FileId>,
    /// The directories being read, outermost first: meeting one of them again
    /// is a symbolic-link loop.
    open_dirs: Vec<(FileId, String)>,
}

impl<'a> Walker<'a> {
    fn run(
        opts: &ReadOptions,
        emit: &'a mut dyn FnMut(Item) -> bool,
        f: impl FnOnce(&mut Self),
    ) -> ReadStats {
        let mut w = Walker {
            registry: SchemaRegistry::new(),
            opts: opts.clone(),
            stats: ReadStats::default(),
            emit,
            go_on: true,
            projection: opts_projection(opts),
            seen: Default::default(),
            open_dirs: Vec::new(),
        };
        f(&mut w);
        w.stats.schemas_parsed = w.registry.parsed;
        w.stats
    }

    fn packet(&mut self, origin: &str, index: usize, payload: Payload) {
        let preview = match (&mut self.projection, &payload, &self.opts.preview_fields) {
            (Some(p), Payload::Avro(Value::Record(r)), Some(fields)) => Some(Preview {
                fields: fields.clone(),
                json: p.to_json(r),
            }),
            _ => None,
        };
        self.send(Item::Packet(Packet {
            origin: origin.into(),
            index,
            payload,
            preview,
        }));
    }

    fn send(&mut self, item: Item) {
        if self.go_on {
            self.go_on = (self.emit)(item);
        }
    }

    fn damaged(&mut self, origin: &str, index: Option<usize>, reason: impl Into<String>) {
        self.send(Item::Damaged(Damaged {
            origin: origin.to_string(),
            index,
            reason: reason.into(),
        }));
    }

    fn path(&mut self, p: &Path) {
        let origin = p.display().to_string();
        // metadata follows symbolic links: the identity is the target's
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => return self.damaged(&origin, None, format!("cannot open: {e}")),
        };
        let id = file_id(&meta);
        if meta.is_dir() {
            if let Some((_, first)) = self.open_dirs.iter().find(|(d, _)| *d == id) {
                let reason = format!(
                    "symbolic link loop: this is the directory {first}, which is being \
                     read already; not followed"
                );
                return self.damaged(&origin, None, reason);
            }
        }
        if !self.seen.insert(id) {
            self.stats.already_read += 1;
            return;
        }
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    return self.damaged(&origin, None, format!("cannot list directory: {e}"))
                }
            };
            entries.sort();
            self.open_dirs.push((id, origin));
            for e in entries {
                if !self.go_on {
                    break;
                }
                self.path(&e);
            }
            self.open_dirs.pop();
            return;
        }
        let file = match std::fs::File::open(p) {
            Ok(f) => f,
            Err(e) => return self.damaged(&origin, None, format!("cannot open: {e}")),
        };
        // a container file is read piecewise (cutout bytes are stepped over, not
        // copied); anything else is streamed and dispatched on content
        let mut magic = [0u8; 4];
        if matches!(file.read_at(&mut magic, 0), Ok(4)) && &magic == b"Obj\x01" {
            match FileReader::new(file) {
                Ok(r) => {
                    self.stats.files += 1;
                    return self.container(&origin, r);
                }
                Err(e) => return self.damaged(&origin, None, format!("cannot read: {e}")),
            }
        }
        self.stream(&origin, Box::new(BufReader::with_capacity(1 << 16, file)));
    }

    /// Dispatch on content, for bytes in memory.
    fn bytes(&mut self, origin: &str, b: &[u8]) {
        if b.starts_with(&[0x1f, 0x8b]) || (b.len() >= 262 && &b[257..262] == b"ustar") {
            return self.stream(origin, Box::new(b));
        }
        self.stats.files += 1;
        match b.first() {
            Some(b'O') => self.container(origin, InMemory(b)),
            Some(0) => self.confluent(origin, b),
            None => self.damaged(origin, None, "empty file"),
            Some(x) => self.damaged(
                origin,
                None,
                format!("not an Avro container file or Confluent message (first byte 0x{x:02x})"),
            ),
        }
    }

    fn confluent(&mut self, origin: &str, bytes: &[u8]) {
        match decode_confluent_as(
            bytes,
            &mut self.registry,
            self.opts.keep_bytes,
            self.opts.json,
        ) {
            Ok(payload) => self.packet(origin, 0, payload),
            Err(e) => self.damaged(origin, Some(0), e.to_string()),
        }
    }

    fn tar(&mut self, origin: &str, reader: Box<dyn BufRead + '_>) {
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(e) => e,
            Err(e) => {
                return self.damaged(origin, None, format!("not a readable tar archive: {e}"))
            }
        };
        for entry in entries {
            if !self.go_on {
                return;
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    return self.damaged(
                        origin,
                        None,
                        format!("truncated or corrupt tar archive: {e}"),
                    )
                }
            };
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let member = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "?".into());
            self.stream(
                &format!("{origin}:{member}"),
                Box::new(BufReader::new(entry)),
            );
        }
    }

    /// Dispatch on content, not on file names: gzip → unpack and look again;
    /// `ustar` at byte 257 → tar archive; `Obj` → container; `0x00` → Confluent.
    fn stream(&mut self, origin: &str, mut reader: Box<dyn BufRead + '_>) {
        let (head, gzip, tar) = match reader.fill_buf() {
            Ok(b) => (
                b.first().copied(),
                b.starts_with(&[0x1f, 0x8b]),
                b.len() >= 262 && &b[257..262] == b"ustar",
            ),
            Err(e) => return self.damaged(origin, None, format!("read error: {e}")),
        };
        if gzip {
            return self.stream(
                origin,
                Box::new(BufReader::with_capacity(
                    1 << 16,
                    flate2::read::GzDecoder::new(reader),
                )),
            );
        }
        if tar {
            return self.tar(origin, reader);
        }
        self.stats.files += 1;
        match head {
            Some(b'O') => self.container(origin, Streamed(reader)),
            Some(0) => {
                let mut bytes = Vec::new();
                if let Err(e) = reader.take(64 << 20).read_to_end(&mut bytes) {
                    return self.damaged(origin, None, format!("read error: {e}"));
                }
                self.confluent(origin, &bytes)
            }
            None => self.damaged(origin, None, "empty file"),
            Some(b) => self.damaged(
                origin,
                None,
                format!("not an Avro container file or Confluent message (first byte 0x{b:02x})"),
            ),
        }
    }

    fn container<S: BlockSource>(&mut self, origin: &str, source: S) {
        let mut c = match ContainerReader::new(source, &mut self.registry) {
            Ok(c) => c.max_block(self.opts.max_block_bytes),
            Err(e) => return self.damaged(origin, None, e.to_string()),
        };
        let mut index = 0;
        let mut block = Vec::new();
        loop {
            block.clear();
            let r = c.next_block(&mut block, self.opts.keep_bytes, self.opts.json);
            for payload in block.drain(..) {
                self.packet(origin, index, payload);
                index += 1;
            }
            match r {
                Ok(true) => continue,
                Ok(false) => return,
                Err(e) => return self.damaged(origin, Some(index), e.to_string()),
            }
        }
    }
}
