//! A VFS in front of SQLite's default one that writes a commit's WAL frames
//! to the file in one `pwrite` instead of two per frame.
//!
//! SQLite appends each WAL frame as two writes — its 24-byte header, then
//! the page — so a submission's commit of ~50 pages was ~100 `pwrite`
//! calls, the largest part of the kernel's share of a request (issue 7;
//! BENCHMARKS.md, "Order submission over HTTP", session 8). This VFS
//! passes every file but a WAL straight to the default VFS (its methods,
//! untouched); a WAL's writes are gathered in memory while they extend one
//! another, and go to the file in one write:
//!
//! - when the commit frame's page has been gathered — the frame whose
//!   header carries the database size after the commit (the WAL format's
//!   commit mark); its write answers the file's result, so a failed write
//!   fails the commit as before;
//! - before anything else touches the file: a read, a sync, a truncate, a
//!   size query, a lock, a file control, the close;
//! - when a write does not follow the gathered ones, or they pass
//!   [`LIMIT`].
//!
//! Nothing gathered is visible to another connection: SQLite publishes a
//! commit's frames in the WAL index only after writing its commit frame,
//! which is written (and its write answered) by then. Frames a transaction
//! spills before its commit are read back by its own connection only
//! through `xRead`, which writes what is gathered first.
//!
//! Registered as the default VFS by [`register`]; its name is
//! `sales-walbuf`.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// Gathered bytes past which they are written without waiting for the
/// commit (a long transaction's spill).
pub const LIMIT: usize = 1 << 20;

/// What a transaction's gathering starts with: a 50-frame commit fits, so
/// it grows once or not at all.
const START: usize = 256 << 10;

/// Bytes per write to the default VFS: under its 128 KiB - 1 bound, in
/// whole 4 KiB pages.
const CHUNK: usize = 0x1_f000;

/// The WAL format's frame header, in bytes (<https://sqlite.org/fileformat2.html#walformat>).
const FRAME_HEADER: usize = 24;

thread_local! {
    /// `write` calls this thread made to WAL files (statements run on the
    /// thread that calls them, so a test counts its own).
    static WAL_WRITES: Cell<u64> = const { Cell::new(0) };
}

/// `write` calls this thread has made to WAL files through the VFS.
#[cfg(test)]
pub fn wal_writes() -> u64 {
    WAL_WRITES.with(Cell::get)
}

/// What a WAL file gathers.
struct Gathered {
    data: Vec<u8>,
    /// The file offset of `data[0]`.
    start: i64,
    /// The last frame header gathered marks a commit: write once its page
    /// is gathered.
    commit: bool,
}

/// A WAL file: SQLite's handle (first, as SQLite reads it), the default
/// VFS's file right after it in the same allocation, and what is gathered.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    gathered: *mut Gathered,
}

impl WalFile {
    /// The default VFS's file, placed after this header.
    ///
    /// # Safety
    /// `f` is a `WalFile` this VFS opened.
    unsafe fn real(f: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
        // SAFETY: the allocation is `szOsFile` bytes: this header, then the
        // real file (see `open`).
        unsafe { (f as *mut u8).add(real_offset()) as *mut ffi::sqlite3_file }
    }

    /// Writes what is gathered; SQLite's result code.
    ///
    /// # Safety
    /// `f` is an open `WalFile`.
    unsafe fn flush(f: *mut ffi::sqlite3_file) -> c_int {
        // SAFETY: an open WalFile's `gathered` is live until `close`.
        let g = unsafe { &mut *(*(f as *mut WalFile)).gathered };
        g.commit = false;
        if g.data.is_empty() {
            return ffi::SQLITE_OK;
        }
        let real = unsafe { Self::real(f) };
        let mut rc = ffi::SQLITE_OK;
        let mut offset = g.start;
        // The unix VFS writes at most 128 KiB - 1 per call (it masks the
        // length to 17 bits): gathered bytes go in chunks below that.
        for chunk in g.data.chunks(CHUNK) {
            WAL_WRITES.with(|n| n.set(n.get() + 1));
            // SAFETY: the real file is open; the chunk outlives the call;
            // a chunk's length fits in a c_int.
            rc = unsafe {
                match (*(*real).pMethods).xWrite {
                    Some(write) => write(
                        real,
                        chunk.as_ptr() as *const c_void,
                        chunk.len() as c_int,
                        offset,
                    ),
                    None => ffi::SQLITE_IOERR_WRITE,
                }
            };
            if rc != ffi::SQLITE_OK {
                break;
            }
            offset += chunk.len() as i64;
        }
        // Released, not cleared: a pooled connection holds no buffer
        // between its transactions (128 of them would hold ~32 MiB).
        g.data = Vec::new();
        rc
    }
}

/// Where the real file sits in a `WalFile`'s allocation (pointer-aligned).
fn real_offset() -> usize {
    let align = std::mem::align_of::<usize>().max(8);
    std::mem::size_of::<WalFile>().div_ceil(align) * align
}

struct Vfs {
    vfs: ffi::sqlite3_vfs,
    real: *mut ffi::sqlite3_vfs,
}

// SAFETY: both are set once at registration and only read afterwards;
// SQLite's VFS objects are shared by all threads by design.
unsafe impl Send for Vfs {}
unsafe impl Sync for Vfs {}

static VFS: OnceLock<Option<Box<Vfs>>> = OnceLock::new();

fn real_vfs() -> *mut ffi::sqlite3_vfs {
    VFS.get()
        .and_then(|v| v.as_ref())
        .map_or(std::ptr::null_mut(), |v| v.real)
}

/// Makes this VFS SQLite's default, in front of the default it finds.
/// Once per process; `false` if SQLite has no default VFS to wrap.
pub fn register() -> bool {
    VFS.get_or_init(|| {
        // SAFETY: a null name finds the default VFS, which lives as long as
        // the process.
        let real = unsafe { ffi::sqlite3_vfs_find(std::ptr::null()) };
        if real.is_null() {
            return None;
        }
        // SAFETY: `real` is a live VFS; its fields are read once.
        let (sz, path_max, version) =
            unsafe { ((*real).szOsFile, (*real).mxPathname, (*real).iVersion) };
        let Ok(header) = c_int::try_from(real_offset()) else {
            return None;
        };
        let mut boxed = Box::new(Vfs {
            // SAFETY: a copy of the default VFS: every method but `xOpen`
            // is the default's own, and `pAppData` with it.
            vfs: unsafe { std::ptr::read(real) },
            real,
        });
        boxed.vfs.iVersion = version;
        boxed.vfs.szOsFile = header + sz;
        boxed.vfs.mxPathname = path_max;
        boxed.vfs.pNext = std::ptr::null_mut();
        boxed.vfs.zName = c"sales-walbuf".as_ptr();
        boxed.vfs.xOpen = Some(open);
        // SAFETY: the box never moves or drops (a static's), so the
        // pointer SQLite keeps stays valid.
        let rc = unsafe { ffi::sqlite3_vfs_register(&mut boxed.vfs, 1) };
        (rc == ffi::SQLITE_OK).then_some(boxed)
    })
    .is_some()
}

/// `xOpen`: a WAL gets the gathering methods around the default VFS's
/// file; any other file is the default VFS's file itself.
unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real = real_vfs();
    // SAFETY: registered before any open; SQLite hands `szOsFile` bytes.
    unsafe {
        let Some(real_open) = (*real).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            return real_open(real, name, file, flags, out_flags);
        }
        (*file).pMethods = std::ptr::null();
        let inner = WalFile::real(file);
        let rc = real_open(real, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            // SQLite calls no method of a file whose open failed with a
            // null `pMethods`; the real one closes itself then.
            return rc;
        }
        let gathered = Box::into_raw(Box::new(Gathered {
            data: Vec::new(),
            start: 0,
            commit: false,
        }));
        (*(file as *mut WalFile)).gathered = gathered;
        (*file).pMethods = &WAL_METHODS;
        ffi::SQLITE_OK
    }
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// Calls the real file's method `$m` after writing what is gathered (a
/// failed write is the call's result).
macro_rules! flushed {
    ($f:expr, $m:ident $(, $arg:expr)*) => {{
        // SAFETY: SQLite calls methods only on a file it opened here.
        unsafe {
            let rc = WalFile::flush($f);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            let real = WalFile::real($f);
            match (*(*real).pMethods).$m {
                Some(m) => m(real $(, $arg)*),
                None => ffi::SQLITE_IOERR,
            }
        }
    }};
}

unsafe extern "C" fn close(f: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file once; `gathered` is dropped with it.
    unsafe {
        let written = WalFile::flush(f);
        let real = WalFile::real(f);
        let closed = match (*(*real).pMethods).xClose {
            Some(m) => m(real),
            None => ffi::SQLITE_OK,
        };
        let wal = f as *mut WalFile;
        drop(Box::from_raw((*wal).gathered));
        (*wal).gathered = std::ptr::null_mut();
        if written != ffi::SQLITE_OK {
            written
        } else {
            closed
        }
    }
}

unsafe extern "C" fn read(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    flushed!(f, xRead, buf, amount, offset)
}

unsafe extern "C" fn write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let Ok(len) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: SQLite passes `amount` readable bytes; `gathered` is live.
    unsafe {
        let bytes = std::slice::from_raw_parts(buf as *const u8, len);
        let g = &mut *(*(f as *mut WalFile)).gathered;
        let end = g.start + g.data.len() as i64;
        if !g.data.is_empty() && end != offset {
            let rc = WalFile::flush(f);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let g = &mut *(*(f as *mut WalFile)).gathered;
        if g.data.is_empty() {
            g.start = offset;
            g.data.reserve(START.max(len));
        }
        g.data.extend_from_slice(bytes);
        if len == FRAME_HEADER {
            // Bytes 4..8: the database size after a commit, 0 otherwise.
            g.commit = bytes[4..8] != [0, 0, 0, 0];
            ffi::SQLITE_OK
        } else if g.commit || g.data.len() >= LIMIT {
            WalFile::flush(f)
        } else {
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    flushed!(f, xTruncate, size)
}

unsafe extern "C" fn sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    flushed!(f, xSync, flags)
}

unsafe extern "C" fn file_size(f: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    flushed!(f, xFileSize, size)
}

unsafe extern "C" fn lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    flushed!(f, xLock, level)
}

unsafe extern "C" fn unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    flushed!(f, xUnlock, level)
}

unsafe extern "C" fn check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    flushed!(f, xCheckReservedLock, out)
}

unsafe extern "C" fn file_control(f: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    flushed!(f, xFileControl, op, arg)
}

unsafe extern "C" fn sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: as in `flushed!`; a query that touches nothing.
    unsafe {
        let real = WalFile::real(f);
        (*(*real).pMethods).xSectorSize.map_or(4096, |m| m(real))
    }
}

unsafe extern "C" fn device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: as in `flushed!`; a query that touches nothing.
    unsafe {
        let real = WalFile::real(f);
        (*(*real).pMethods)
            .xDeviceCharacteristics
            .map_or(0, |m| m(real))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteDb;
    use rusqlite::Connection;

    fn opened(dir: &tempfile::TempDir) -> (SqliteDb, Connection, Connection) {
        let db = SqliteDb::file("default", &dir.path().join("db.sqlite")).unwrap();
        db.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, pad TEXT)")
            .unwrap();
        let (a, b) = (db.acquire().unwrap(), db.acquire().unwrap());
        (db, a, b)
    }

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    fn insert(c: &Connection, from: i64, rows: i64, pad: usize) {
        c.execute(
            "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 + ?2 - 1)
             INSERT INTO t SELECT i, substr(printf('%0*d', ?3, i), 1, ?3) FROM n",
            rusqlite::params![from, rows, pad as i64],
        )
        .unwrap();
    }

    #[test]
    fn it_is_the_default_vfs_once_the_runner_opened_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, a, _b) = opened(&dir);
        let name: String = a
            .query_row("SELECT ?", [c"sales-walbuf".to_str().unwrap()], |r| {
                r.get(0)
            })
            .unwrap();
        // SAFETY: the default VFS and its name live as long as the process.
        let default =
            unsafe { std::ffi::CStr::from_ptr((*ffi::sqlite3_vfs_find(std::ptr::null())).zName) };
        assert_eq!(default.to_str().unwrap(), name);
    }

    /// A commit of ~60 pages: one write to the WAL, not two per page; and
    /// the other connection sees each commit at once, whoever wrote it.
    #[test]
    fn a_commit_is_one_write_and_visible_to_the_next_reader() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, a, b) = opened(&dir);
        let mut expected = 0;
        for round in 0..20 {
            let (writer, reader) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
            let before = wal_writes();
            writer.execute_batch("BEGIN IMMEDIATE").unwrap();
            insert(writer, expected + 1, 1_000, 200);
            writer.execute_batch("COMMIT").unwrap();
            expected += 1_000;
            // ~52 pages, ~215 KB: two chunks (each frame alone would be
            // two writes); none would mean the VFS is not in the way.
            let writes = wal_writes() - before;
            assert!(
                (1..=2).contains(&writes),
                "round {round}: {writes} writes to the WAL"
            );
            assert_eq!(count(reader), expected, "round {round}");
        }
        let ok: String = a
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }

    /// What a commit wrote is in the files when the commit returns: a copy
    /// of the database and its WAL taken then (what a crash right after
    /// it leaves) opens with every committed row.
    #[test]
    fn a_committed_transaction_is_in_the_wal_file_when_commit_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, a, _b) = opened(&dir);
        a.execute_batch("BEGIN IMMEDIATE").unwrap();
        insert(&a, 1, 500, 300);
        a.execute_batch("COMMIT").unwrap();
        let copy = tempfile::tempdir().unwrap();
        for suffix in ["", "-wal"] {
            std::fs::copy(
                dir.path().join(format!("db.sqlite{suffix}")),
                copy.path().join(format!("db.sqlite{suffix}")),
            )
            .unwrap();
        }
        let c = Connection::open(copy.path().join("db.sqlite")).unwrap();
        assert_eq!(count(&c), 500);
    }

    /// A transaction larger than its cache spills frames before its commit
    /// and reads them back; one rolled back leaves nothing.
    #[test]
    fn spilled_and_rolled_back_transactions_stay_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, a, b) = opened(&dir);
        a.execute_batch("PRAGMA cache_size = 20").unwrap();
        a.execute_batch("BEGIN IMMEDIATE").unwrap();
        insert(&a, 1, 20_000, 300);
        let sum: i64 = a
            .query_row("SELECT sum(length(pad)) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sum, 20_000 * 300);
        a.execute_batch("ROLLBACK").unwrap();
        assert_eq!(count(&b), 0);
        a.execute_batch("BEGIN IMMEDIATE").unwrap();
        insert(&a, 1, 20_000, 300);
        a.execute_batch("COMMIT").unwrap();
        assert_eq!(count(&b), 20_000);
        let ok: String = b
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }
}
