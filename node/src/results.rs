//! Answers kept for chunked retrieval.
//!
//! The original protocol answers a query with a uid and a chunk count; the client then reads
//! chunks one by one. An answer is freed when its last chunk has been read, when it has been
//! unread for longer than the TTL, or — oldest first — when keeping a new answer would push
//! the cache past its memory bound or its entry bound, so a flood of unread answers cannot
//! exhaust memory. Every answer costs at least [`ENTRY_COST_BYTES`], empty ones included.
//!
//! Uids carry 128 random bits, so one client cannot guess another's answer. Answers are kept
//! in a map by uid plus an index by storage order, so eviction and expiry take the oldest in
//! O(log n) without rescanning; the bytes held are a running total.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use overlay::aggregate::AggregateRow;
use overlay::batch::{self, BatchError};
use overlay::proto::{RecordBatch, RecordFormat};
use prost::bytes::Bytes;
use prost::Message;

/// One slice's records as received: the encoded bytes (passed on as they are when a typed
/// chunk spans the whole part), decoded and checked only when a JSON or cut chunk needs rows.
#[derive(Debug)]
pub struct RecordPart {
    /// The batch as encoded by the node that served the slice.
    pub encoded: Bytes,
    /// Rows in the batch, as the serving node reported them.
    pub rows: usize,
    decoded: OnceLock<Result<RecordBatch, BatchError>>,
}

impl RecordPart {
    /// A part from bytes received from a peer (or encoded here) holding `rows` rows.
    pub fn new(encoded: Bytes, rows: usize) -> Self {
        Self {
            encoded,
            rows,
            decoded: OnceLock::new(),
        }
    }

    /// A part from a batch built here.
    pub fn from_batch(batch: RecordBatch) -> Self {
        let rows = batch.num_rows as usize;
        let part = Self::new(Bytes::from(batch.encode_to_vec()), rows);
        let _ = part.decoded.set(Ok(batch));
        part
    }

    /// The decoded batch, decoding (and checking it, row count included) on first use.
    pub fn batch(&self) -> Result<&RecordBatch, &BatchError> {
        self.decoded
            .get_or_init(|| {
                let batch = batch::decode_batch(&self.encoded)?;
                if batch.num_rows as usize != self.rows {
                    return Err(BatchError::Decode(format!(
                        "batch holds {} rows but its slice reported {}",
                        batch.num_rows, self.rows
                    )));
                }
                Ok(batch)
            })
            .as_ref()
    }
}

/// The content of an answer.
#[derive(Debug)]
pub enum Answer {
    /// Records of a filter query, slice by slice, in answer order.
    Records(Vec<RecordPart>),
    /// Rows of an aggregate query.
    Aggregate(Vec<AggregateRow>),
}

impl Answer {
    /// Records or rows in the answer.
    pub fn len(&self) -> usize {
        match self {
            Answer::Records(parts) => parts.iter().map(|part| part.rows).sum(),
            Answer::Aggregate(rows) => rows.len(),
        }
    }

    /// True when the answer holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes, for the cache's memory bound.
    fn approximate_bytes(&self) -> u64 {
        match self {
            Answer::Records(parts) => parts
                .iter()
                .map(|part| part.encoded.len() as u64 * 3 + part.rows as u64 * 8)
                .sum(),
            Answer::Aggregate(rows) => rows.len() as u64 * 200,
        }
    }
}

/// One chunk, ready for the wire.
#[derive(Debug, PartialEq)]
pub enum ChunkContent {
    /// JSON array text (the original `data` field).
    Json(String),
    /// Encoded columnar batches, in order (the `batches` extension).
    Typed(Vec<Bytes>),
}

/// What a chunk read found.
#[derive(Debug, PartialEq)]
pub enum ChunkLookup {
    /// The chunk, the answer's chunk count, and whether it was the last (now freed).
    Found {
        /// The chunk's records.
        content: ChunkContent,
        /// Chunks in the answer.
        total_chunks: u32,
        /// True for the last chunk.
        is_last: bool,
    },
    /// No answer with that uid (never stored, already read to the end, expired or evicted).
    NotFound,
    /// The chunk's records cannot be read (a peer sent a corrupt batch).
    Unreadable {
        /// What is wrong.
        reason: String,
    },
    /// The answer exists but has no chunk with that index.
    OutOfRange {
        /// Chunks in the answer.
        total_chunks: u32,
    },
}

struct Stored {
    answer: Answer,
    chunk_size: usize,
    format: RecordFormat,
    stored_at: Instant,
    /// Breaks ties between answers stored in the same instant.
    seq: u64,
    bytes: u64,
}

impl Stored {
    fn total_chunks(&self) -> u32 {
        chunk_count(self.answer.len(), self.chunk_size)
    }
}

/// Chunks needed for `records` records; an empty answer still has one (empty) chunk so that
/// clients looping until `is_last` terminate.
pub fn chunk_count(records: usize, chunk_size: usize) -> u32 {
    records.div_ceil(chunk_size.max(1)).max(1) as u32
}

/// Least an answer counts against the memory bound, whatever it holds: the entry, its uid and
/// its place in the order index.
pub const ENTRY_COST_BYTES: u64 = 512;

/// How long an unread answer counts toward the node's queue measure: a reader that has not
/// read its answer by then is presumed gone, and its answer no longer makes the node look
/// busy (it stays readable until the TTL).
pub const QUEUE_WINDOW: Duration = Duration::from_secs(10);

/// The answers and their storage order, under one lock.
#[derive(Default)]
struct Entries {
    by_uid: HashMap<String, Arc<Stored>>,
    /// (stored at, sequence) → uid, oldest first.
    order: BTreeMap<(Instant, u64), String>,
    bytes: u64,
}

impl Entries {
    fn remove(&mut self, uid: &str) -> Option<Arc<Stored>> {
        let stored = self.by_uid.remove(uid)?;
        self.order.remove(&(stored.stored_at, stored.seq));
        self.bytes -= stored.bytes;
        Some(stored)
    }

    /// Removes the oldest answer when `pred` holds for it; returns whether it did.
    fn pop_oldest_if(&mut self, pred: impl FnOnce(&Stored) -> bool) -> bool {
        let Some((_, uid)) = self.order.first_key_value() else {
            return false;
        };
        let uid = uid.clone();
        match self.by_uid.get(&uid) {
            Some(stored) if pred(stored) => {
                self.remove(&uid);
                true
            }
            Some(_) => false,
            None => {
                // Never happens: both maps change together. Repair rather than loop.
                self.order.pop_first();
                true
            }
        }
    }
}

/// The cache of answers of one node.
pub struct ResultStore {
    entries: Mutex<Entries>,
    ttl: Duration,
    max_bytes: u64,
    max_entries: usize,
    next_seq: AtomicU64,
    uid_prefix: String,
    evicted: AtomicU64,
}

impl std::fmt::Debug for ResultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStore")
            .field("ttl", &self.ttl)
            .field("max_bytes", &self.max_bytes)
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl ResultStore {
    /// An empty cache holding at most `max_bytes` (approximately) and `max_entries` answers;
    /// uids start with `node_id`.
    pub fn new(node_id: &str, ttl: Duration, max_bytes: u64, max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            ttl,
            max_bytes,
            max_entries: max_entries.max(1),
            next_seq: AtomicU64::new(1),
            uid_prefix: node_id.to_string(),
            evicted: AtomicU64::new(0),
        }
    }

    /// Keeps an answer and returns its uid and chunk count.
    pub fn insert(&self, answer: Answer, chunk_size: usize, format: RecordFormat) -> (String, u32) {
        let uid = format!("{}-{:032x}", self.uid_prefix, rand::random::<u128>());
        let stored = Stored {
            bytes: answer.approximate_bytes() + ENTRY_COST_BYTES,
            answer,
            chunk_size: chunk_size.max(1),
            format,
            stored_at: Instant::now(),
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
        };
        let total_chunks = stored.total_chunks();
        let mut entries = self.lock();
        self.make_room(&mut entries, stored.bytes);
        entries.bytes += stored.bytes;
        entries
            .order
            .insert((stored.stored_at, stored.seq), uid.clone());
        entries.by_uid.insert(uid.clone(), Arc::new(stored));
        (uid, total_chunks)
    }

    /// Reads one chunk; reading the last chunk frees the answer.
    pub fn chunk(&self, uid: &str, index: i32) -> ChunkLookup {
        let (stored, range, total_chunks, is_last) = {
            let mut entries = self.lock();
            let now = Instant::now();
            let Some(stored) = entries
                .by_uid
                .get(uid)
                .filter(|s| now.duration_since(s.stored_at) <= self.ttl)
                .cloned()
            else {
                entries.remove(uid);
                return ChunkLookup::NotFound;
            };
            let total_chunks = stored.total_chunks();
            let Some(index) = u32::try_from(index).ok().filter(|&i| i < total_chunks) else {
                return ChunkLookup::OutOfRange { total_chunks };
            };
            let start = index as usize * stored.chunk_size;
            let end = (start + stored.chunk_size).min(stored.answer.len());
            let is_last = index + 1 == total_chunks;
            if is_last {
                entries.remove(uid);
            }
            (stored, start..end, total_chunks, is_last)
        };
        // Rendering happens outside the lock, so concurrent readers do not queue behind it.
        match render(&stored, range) {
            Ok(content) => ChunkLookup::Found {
                content,
                total_chunks,
                is_last,
            },
            Err(reason) => ChunkLookup::Unreadable { reason },
        }
    }

    /// Answers held and their approximate bytes.
    pub fn usage(&self) -> (usize, u64) {
        let entries = self.lock();
        (entries.by_uid.len(), entries.bytes)
    }

    /// Answers held.
    pub fn len(&self) -> usize {
        self.lock().by_uid.len()
    }

    /// Whether no answer is held.
    pub fn is_empty(&self) -> bool {
        self.lock().by_uid.is_empty()
    }

    /// The state tracker's queue measure: answers stored within the last [`QUEUE_WINDOW`]
    /// and not yet read to the end. Older unread answers are presumed abandoned.
    pub fn pending(&self) -> usize {
        let Some(since) = Instant::now().checked_sub(QUEUE_WINDOW) else {
            return self.len();
        };
        self.lock().order.range((since, 0)..).count()
    }

    /// Answers dropped for the memory or entry bound since start.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Drops answers past their TTL, oldest first; returns how many.
    pub fn expire(&self) -> usize {
        let mut entries = self.lock();
        let ttl = self.ttl;
        let mut expired = 0;
        while entries.pop_oldest_if(|s| s.stored_at.elapsed() > ttl) {
            expired += 1;
        }
        expired
    }

    fn make_room(&self, entries: &mut Entries, incoming: u64) {
        let ttl = self.ttl;
        while entries.pop_oldest_if(|s| s.stored_at.elapsed() > ttl) {}
        while !entries.by_uid.is_empty()
            && (entries.bytes + incoming > self.max_bytes
                || entries.by_uid.len() >= self.max_entries)
        {
            if entries.pop_oldest_if(|_| true) {
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn render(stored: &Stored, range: std::ops::Range<usize>) -> Result<ChunkContent, String> {
    match (&stored.answer, stored.format) {
        (Answer::Records(parts), RecordFormat::Typed) => {
            typed_chunk(parts, range).map(ChunkContent::Typed)
        }
        (Answer::Records(parts), RecordFormat::Json) => {
            let mut out = Vec::with_capacity(range.len() * 320 + 2);
            out.push(b'[');
            for (part, rows) in overlapping(parts, &range) {
                let batch = part.batch().map_err(ToString::to_string)?;
                batch::write_json_rows(batch, rows, &mut out);
            }
            out.push(b']');
            Ok(ChunkContent::Json(
                String::from_utf8(out).unwrap_or_default(),
            ))
        }
        (Answer::Aggregate(rows), _) => Ok(ChunkContent::Json(
            serde_json::to_string(&rows[range]).unwrap_or_else(|_| "[]".to_string()),
        )),
    }
}

/// The parts overlapping `range`, each with the rows of it that fall inside (part-local).
fn overlapping<'a>(
    parts: &'a [RecordPart],
    range: &'a std::ops::Range<usize>,
) -> impl Iterator<Item = (&'a RecordPart, std::ops::Range<usize>)> + 'a {
    let mut start = 0;
    parts.iter().filter_map(move |part| {
        let begin = start;
        start += part.rows;
        let (from, to) = (range.start.max(begin), range.end.min(begin + part.rows));
        (from < to).then(|| (part, from - begin..to - begin))
    })
}

/// A typed chunk: whole parts are passed on as received; a part cut by the chunk boundary is
/// re-encoded for just the rows inside.
fn typed_chunk(parts: &[RecordPart], range: std::ops::Range<usize>) -> Result<Vec<Bytes>, String> {
    overlapping(parts, &range)
        .map(|(part, rows)| {
            if rows.len() == part.rows {
                return Ok(part.encoded.clone());
            }
            let batch = part.batch().map_err(ToString::to_string)?;
            Ok(Bytes::from(
                batch::slice_batches(std::slice::from_ref(batch), rows).encode_to_vec(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlay::batch::{BatchBuilder, RowRef};

    fn records(n: usize) -> Answer {
        let mut builder = BatchBuilder::default();
        for i in 0..n {
            builder.push(&RowRef {
                latitude: 1.0,
                longitude: 2.0,
                timestamp: "2020-08-10T01:00",
                parameter: "PM2.5",
                value: i as f64,
                unit: "UG/M3",
                raw_concentration: 0.0,
                aqi: 1,
                category: 1,
                site_name: "s",
                agency_name: "a",
                aqs_id: "1",
                full_aqs_id: "1",
                date: 20200810,
            });
        }
        Answer::Records(vec![RecordPart::from_batch(builder.finish())])
    }

    fn json_values(lookup: ChunkLookup) -> Vec<f64> {
        match lookup {
            ChunkLookup::Found {
                content: ChunkContent::Json(text),
                ..
            } => {
                let rows: Vec<overlay::record::Record> = serde_json::from_str(&text).unwrap();
                rows.iter().map(|r| r.value).collect()
            }
            other => panic!("expected a JSON chunk, got {other:?}"),
        }
    }

    #[test]
    fn chunks_follow_the_original_semantics() {
        let store = ResultStore::new("A", Duration::from_secs(60), 1 << 30, 1000);
        let (uid, total) = store.insert(records(450), 200, RecordFormat::Json);
        assert_eq!(total, 3);
        assert_eq!(
            store.chunk(&uid, -1),
            ChunkLookup::OutOfRange { total_chunks: 3 }
        );
        assert_eq!(
            store.chunk(&uid, 3),
            ChunkLookup::OutOfRange { total_chunks: 3 }
        );
        assert_eq!(json_values(store.chunk(&uid, 1)).len(), 200);
        let last = store.chunk(&uid, 2);
        assert!(matches!(
            last,
            ChunkLookup::Found {
                is_last: true,
                total_chunks: 3,
                ..
            }
        ));
        assert_eq!(json_values(last)[0], 400.0);
        assert_eq!(
            store.chunk(&uid, 0),
            ChunkLookup::NotFound,
            "freed after the last chunk"
        );
        assert_eq!(store.chunk("nope", 0), ChunkLookup::NotFound);
    }

    #[test]
    fn empty_answers_have_one_empty_chunk_and_typed_chunks_carry_batches() {
        let store = ResultStore::new("A", Duration::from_secs(60), 1 << 30, 1000);
        let (uid, total) = store.insert(records(0), 200, RecordFormat::Json);
        assert_eq!(total, 1);
        assert!(json_values(store.chunk(&uid, 0)).is_empty());
        let (uid, _) = store.insert(records(5), 2, RecordFormat::Typed);
        match store.chunk(&uid, 2) {
            ChunkLookup::Found {
                content: ChunkContent::Typed(parts),
                is_last: true,
                ..
            } => {
                assert_eq!(parts.len(), 1);
                assert_eq!(
                    overlay::batch::decode_batch(&parts[0]).unwrap().value,
                    vec![4.0]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn corrupt_parts_give_an_explicit_error_not_a_panic() {
        let store = ResultStore::new("A", Duration::from_secs(60), 1 << 30, 1000);
        let garbage = RecordPart::new(Bytes::from_static(&[0xff, 0xff, 0xff]), 5);
        let (uid, _) = store.insert(Answer::Records(vec![garbage]), 200, RecordFormat::Json);
        assert!(matches!(
            store.chunk(&uid, 0),
            ChunkLookup::Unreadable { .. }
        ));
        let good = match records(3) {
            Answer::Records(mut parts) => parts.remove(0),
            Answer::Aggregate(_) => unreachable!(),
        };
        let lying = RecordPart::new(good.encoded.clone(), 4);
        let (uid, _) = store.insert(Answer::Records(vec![lying]), 2, RecordFormat::Typed);
        match store.chunk(&uid, 0) {
            ChunkLookup::Unreadable { reason } => assert!(
                reason.contains("3 rows but its slice reported 4"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typed_chunks_pass_whole_parts_on_and_re_encode_cut_ones() {
        let part = |n| match records(n) {
            Answer::Records(mut parts) => parts.remove(0),
            Answer::Aggregate(_) => unreachable!(),
        };
        let (a, b, c) = (part(3), part(4), part(2));
        let whole_b = b.encoded.clone();
        let store = ResultStore::new("A", Duration::from_secs(60), 1 << 30, 1000);
        let (uid, total) = store.insert(Answer::Records(vec![a, b, c]), 8, RecordFormat::Typed);
        assert_eq!(total, 2);
        let ChunkLookup::Found {
            content: ChunkContent::Typed(first),
            ..
        } = store.chunk(&uid, 0)
        else {
            panic!("first chunk")
        };
        assert_eq!(first.len(), 3, "rows 0..8 span a, b and one row of c");
        assert_eq!(first[1], whole_b, "a whole part is passed on byte for byte");
        let values: Vec<f64> = first
            .iter()
            .flat_map(|bytes| overlay::batch::decode_batch(bytes).unwrap().value)
            .collect();
        assert_eq!(values, vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 3.0, 0.0]);
        let ChunkLookup::Found {
            content: ChunkContent::Typed(last),
            is_last: true,
            ..
        } = store.chunk(&uid, 1)
        else {
            panic!("last chunk")
        };
        assert_eq!(
            overlay::batch::decode_batch(&last[0]).unwrap().value,
            vec![1.0]
        );
    }

    #[test]
    fn empty_answers_count_against_the_entry_bound_and_uids_are_random() {
        let store = ResultStore::new("A", Duration::from_secs(60), 1 << 30, 100);
        let uids: Vec<String> = (0..250)
            .map(|_| store.insert(records(0), 200, RecordFormat::Json).0)
            .collect();
        assert_eq!(store.usage().0, 100);
        assert_eq!(store.usage().1, 100 * ENTRY_COST_BYTES);
        assert_eq!(store.evicted(), 150);
        assert_eq!(store.chunk(&uids[149], 0), ChunkLookup::NotFound);
        assert!(matches!(
            store.chunk(&uids[150], 0),
            ChunkLookup::Found { .. }
        ));
        assert_eq!(store.usage().0, 99);
        let suffix = |uid: &str| uid.rsplit('-').next().unwrap().to_string();
        assert_eq!(suffix(&uids[0]).len(), 32);
        assert_ne!(suffix(&uids[0]), suffix(&uids[1]));
        assert_eq!(store.pending(), 99, "fresh answers count toward the queue");
    }

    #[test]
    fn memory_bound_evicts_oldest_and_ttl_expires() {
        let one = records(100).approximate_bytes() + ENTRY_COST_BYTES;
        let store = ResultStore::new("A", Duration::from_secs(60), one * 3, 1000);
        let uids: Vec<String> = (0..5)
            .map(|_| store.insert(records(100), 200, RecordFormat::Json).0)
            .collect();
        assert_eq!(store.usage().0, 3);
        assert_eq!(store.evicted(), 2);
        assert_eq!(store.chunk(&uids[0], 0), ChunkLookup::NotFound);
        assert!(matches!(
            store.chunk(&uids[4], 0),
            ChunkLookup::Found { .. }
        ));
        let short = ResultStore::new("A", Duration::from_millis(0), 1 << 30, 1000);
        let (uid, _) = short.insert(records(1), 200, RecordFormat::Json);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.chunk(&uid, 0), ChunkLookup::NotFound);
    }
}
