//! The inbox journal: where a delivery becomes durable before agen answers 2xx.
//!
//! A directory of fixed-size segment files, filled with zeros once when created and reused
//! after that, so that appending a batch is an overwrite inside the file: its `fdatasync`
//! writes the batch and nothing else (no file size or extent changes to journal), which on
//! this kind of disk is several times cheaper than a SQLite commit. Deliveries are copied
//! into SQLite off the request path (see `copier.rs`); a segment is given back for reuse
//! only once every delivery in it is committed there.
//!
//! A segment starts with a header (magic, generation, in use or free) in its first block,
//! then records ([`super::record`]) of that generation. Each use of a segment has a new
//! generation, higher than any before it (a free segment keeps its last one, so the count
//! goes on after a restart), so what an earlier use left behind is never read as current.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::record;
use super::Stamped;

const MAGIC: &[u8; 8] = b"agenibx1";
/// Records start after the header's block.
const HEADER_BYTES: u64 = 4096;
/// Free segments kept for reuse; more are deleted.
const KEEP_FREE: usize = 3;
/// Segments ready when agen starts, so the first appends never wait for one to be made.
const READY_AT_START: usize = 2;

pub const DEFAULT_SEGMENT_BYTES: u64 = 16 << 20;

struct Segment {
    path: PathBuf,
    file: File,
    generation: u64,
    in_use: bool,
}

/// Segments the writer has filled, waiting for the copier, and free ones.
#[derive(Default)]
struct Segments {
    sealed: VecDeque<Segment>,
    free: Vec<Segment>,
}

/// The writing end, owned by the inbox writer.
pub struct Journal {
    dir: PathBuf,
    segment_bytes: u64,
    current: Option<(Segment, u64)>,
    next_generation: u64,
    next_file: u64,
    segments: Arc<Mutex<Segments>>,
}

/// The copier's handle: gives filled segments back once their deliveries are in SQLite.
#[derive(Clone)]
pub struct Recycler {
    segments: Arc<Mutex<Segments>>,
}

impl Journal {
    /// Opens the journal in `dir` (created if missing) and returns, in the order they were
    /// written, the deliveries its segments hold. Call [`Journal::forget_recovered`] once
    /// they are committed elsewhere.
    pub fn open(dir: &Path, segment_bytes: u64) -> io::Result<(Journal, Vec<Stamped>)> {
        fs::create_dir_all(dir)?;
        let mut found = Vec::new();
        let mut next_file = 0;
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(number) = segment_number(&path) else {
                continue;
            };
            next_file = next_file.max(number + 1);
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let (generation, in_use) = read_header(&file)?;
            found.push(Segment {
                path,
                file,
                generation,
                in_use,
            });
        }
        found.sort_by_key(|s| s.generation);
        let mut recovered = Vec::new();
        for segment in found.iter().filter(|s| s.in_use) {
            let log = fs::read(&segment.path)?;
            let records = log.get(HEADER_BYTES as usize..).unwrap_or_default();
            recovered.extend(record::decode_all(records, segment.generation));
        }
        let journal = Journal {
            dir: dir.to_path_buf(),
            segment_bytes,
            current: None,
            next_generation: found.last().map_or(0, |s| s.generation) + 1,
            next_file,
            segments: Arc::new(Mutex::new(Segments {
                sealed: found.into(),
                free: Vec::new(),
            })),
        };
        Ok((journal, recovered))
    }

    /// Marks every segment free, once what [`Journal::open`] returned is stored elsewhere,
    /// and makes sure some are ready for writing.
    pub fn forget_recovered(&mut self) -> io::Result<()> {
        self.recycler().recycle_before(u64::MAX)?;
        let segment_bytes = self.segment_bytes;
        lock(&self.segments).free.retain(|s| {
            let whole = s.file.metadata().is_ok_and(|m| m.len() == segment_bytes);
            if !whole {
                let _ = fs::remove_file(&s.path); // made by a crash, or another segment size
            }
            whole
        });
        while lock(&self.segments).free.len() < READY_AT_START {
            let made = self.make_segment()?;
            lock(&self.segments).free.push(made);
        }
        Ok(())
    }

    pub fn recycler(&self) -> Recycler {
        Recycler {
            segments: self.segments.clone(),
        }
    }

    /// The most record bytes one append may carry.
    pub fn capacity(&self) -> u64 {
        self.segment_bytes - HEADER_BYTES
    }

    /// Writes `deliveries` (together at most [`Journal::capacity`] bytes as records) and
    /// returns, once they are on disk, the generation they were written with.
    pub fn append(&mut self, deliveries: &[Stamped]) -> io::Result<u64> {
        let len = deliveries.iter().map(record::encoded_len).sum::<usize>();
        let generation = self.generation_for(len as u64)?;
        let mut records = Vec::with_capacity(len);
        for delivery in deliveries {
            record::encode(delivery, generation, &mut records);
        }
        let (segment, end) = self.current.as_mut().expect("generation_for set it");
        segment.file.write_all_at(&records, *end)?;
        *end += records.len() as u64;
        segment.file.sync_data()?;
        Ok(generation)
    }

    /// The generation the next `len` bytes of records are written with: the current
    /// segment's, or a fresh one's when they do not fit.
    fn generation_for(&mut self, len: u64) -> io::Result<u64> {
        if let Some((segment, end)) = &self.current {
            if end + len <= self.segment_bytes {
                return Ok(segment.generation);
            }
        }
        if let Some((full, _)) = self.current.take() {
            lock(&self.segments).sealed.push_back(full);
        }
        let reused = lock(&self.segments).free.pop();
        let mut segment = match reused {
            Some(segment) => segment,
            None => self.make_segment()?,
        };
        segment.generation = self.next_generation;
        segment.in_use = true;
        self.next_generation += 1;
        // Synced with the first append: until then the records after it do not count.
        write_header(&segment.file, segment.generation, true)?;
        let generation = segment.generation;
        self.current = Some((segment, HEADER_BYTES));
        Ok(generation)
    }

    /// A new segment, zero-filled and synced, so later writes into it are overwrites.
    fn make_segment(&mut self) -> io::Result<Segment> {
        let path = self.dir.join(format!("{:08}.seg", self.next_file));
        self.next_file += 1;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let zeros = vec![0; 1 << 20];
        let mut at = 0;
        while at < self.segment_bytes {
            let n = zeros.len().min((self.segment_bytes - at) as usize);
            file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        file.sync_all()?;
        File::open(&self.dir)?.sync_all()?;
        Ok(Segment {
            path,
            file,
            generation: 0,
            in_use: false,
        })
    }
}

impl Recycler {
    /// Frees every filled segment of a generation before `generation`: their deliveries
    /// are committed in SQLite.
    pub fn recycle_before(&self, generation: u64) -> io::Result<()> {
        loop {
            let next = {
                let mut segments = lock(&self.segments);
                match segments.sealed.front() {
                    Some(s) if s.generation < generation => segments.sealed.pop_front(),
                    _ => None,
                }
            };
            let Some(mut segment) = next else {
                return Ok(());
            };
            write_header(&segment.file, segment.generation, false)?;
            segment.file.sync_data()?;
            segment.in_use = false;
            let mut segments = lock(&self.segments);
            if segments.free.len() < KEEP_FREE {
                segments.free.push(segment);
            } else {
                drop(segments);
                fs::remove_file(&segment.path)?;
            }
        }
    }
}

fn lock(segments: &Mutex<Segments>) -> std::sync::MutexGuard<'_, Segments> {
    segments
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_header(file: &File, generation: u64, in_use: bool) -> io::Result<()> {
    let mut header = [0u8; 17];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&generation.to_le_bytes());
    header[16] = u8::from(in_use);
    file.write_all_at(&header, 0)
}

/// The segment's generation and whether it is in use; (0, free) for a file without a
/// whole header.
fn read_header(file: &File) -> io::Result<(u64, bool)> {
    let mut header = [0u8; 17];
    match file.read_exact_at(&mut header, 0) {
        Ok(()) if &header[..8] == MAGIC => {
            let generation = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
            Ok((generation, header[16] == 1))
        }
        Ok(()) => Ok((0, false)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok((0, false)),
        Err(e) => Err(e),
    }
}

fn segment_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".seg")?.parse().ok()
}

#[cfg(test)]
mod tests;
