//! The components' global allocator: free lists of small blocks in front
//! of the system allocator (wasi-libc's dlmalloc).
//!
//! A submission allocates and frees thousands of small objects — strings
//! of ids, decimals and dates, `Vec`s of lines, `BTreeMap` nodes, JSON
//! buffers — and dlmalloc's `malloc`/`free` (binning, coalescing, the
//! `__rust_alloc` → `malloc` shims) was the largest item of the guests'
//! profile after LTO (~3.5 % of the submission bench's samples, a quarter
//! of the guests'; BENCHMARKS.md, Order submission over HTTP, session 7).
//! Here a block of up to [`MAX_SMALL`] bytes (alignment ≤ 8) is rounded up
//! to a multiple of 8 and, when freed, pushed on its size class's list
//! instead of going back to dlmalloc; the next allocation of that class
//! pops it. Larger or more aligned blocks go straight to the system
//! allocator.
//!
//! What it costs: a freed small block is kept for its class and never
//! returned to dlmalloc, so an instance's memory is the sum of each
//! class's peak rather than the peak of the sum. A component instance
//! lives for one request (Spin's model and the runner's), so that is
//! bounded by what one request allocates.
//!
//! Installed as `#[global_allocator]` only on wasm32 without atomics (no
//! threads: the lists are unsynchronised); native builds keep the system
//! allocator, and the tests drive a [`SmallCache`] of their own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Blocks are sized in steps of this many bytes (also their alignment:
/// the system allocator aligns every block to at least 8).
const GRANULE: usize = 8;
/// The largest block kept in a free list.
pub const MAX_SMALL: usize = 512;
const CLASSES: usize = MAX_SMALL / GRANULE;

/// The small-block cache over [`System`]. Not thread-safe: see the module
/// docs for where it is `Sync`.
pub struct SmallCache {
    /// Head of each class's list; a free block's first word points at the
    /// next one.
    heads: UnsafeCell<[*mut u8; CLASSES]>,
}

impl SmallCache {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        SmallCache {
            heads: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }

    /// The class of a layout kept in the lists, or `None`.
    #[inline]
    fn class(layout: &Layout) -> Option<usize> {
        let size = layout.size();
        if size == 0 || size > MAX_SMALL || layout.align() > GRANULE {
            None
        } else {
            Some((size - 1) / GRANULE)
        }
    }

    /// The layout a class's blocks are allocated with from the system.
    #[inline]
    fn class_layout(class: usize) -> Layout {
        // (class + 1) * 8 ≤ 512 with alignment 8: always a valid layout.
        match Layout::from_size_align((class + 1) * GRANULE, GRANULE) {
            Ok(l) => l,
            Err(_) => unreachable!("a size class is a valid layout"),
        }
    }
}

// SAFETY: the lists are unsynchronised, so the cache is shared only where
// there are no threads: wasm32 without the atomics feature (wasm32-wasip2
// components).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for SmallCache {}

unsafe impl GlobalAlloc for SmallCache {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match Self::class(&layout) {
            Some(c) => {
                // SAFETY: single-threaded (see `Sync`); no reference to the
                // array outlives this call.
                let heads = unsafe { &mut *self.heads.get() };
                let head = heads[c];
                if head.is_null() {
                    unsafe { System.alloc(Self::class_layout(c)) }
                } else {
                    // SAFETY: a listed block is free, at least 8 bytes and
                    // 8-aligned; its first word is the next block.
                    heads[c] = unsafe { head.cast::<*mut u8>().read() };
                    head
                }
            }
            None => unsafe { System.alloc(layout) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match Self::class(&layout) {
            Some(c) => {
                // SAFETY: `ptr` came from `alloc` with a layout of the same
                // class, so it is a free block of that class now.
                let heads = unsafe { &mut *self.heads.get() };
                unsafe { ptr.cast::<*mut u8>().write(heads[c]) };
                heads[c] = ptr;
            }
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match Self::class(&layout) {
            Some(_) => {
                let p = unsafe { self.alloc(layout) };
                if !p.is_null() {
                    unsafe { ptr::write_bytes(p, 0, layout.size()) };
                }
                p
            }
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY (layout): the caller guarantees `new_size` with this
        // alignment is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (Self::class(&layout), Self::class(&new_layout)) {
            // Both from the system: let it grow or shrink in place.
            (None, None) => unsafe { System.realloc(ptr, layout, new_size) },
            // The same class: the block already fits.
            (Some(a), Some(b)) if a == b => ptr,
            _ => {
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    unsafe {
                        ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static GLOBAL: SmallCache = SmallCache::new();

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    /// Allocates, fills with `byte`, returns the pointer.
    unsafe fn filled(cache: &SmallCache, l: Layout, byte: u8) -> *mut u8 {
        let p = unsafe { cache.alloc(l) };
        assert!(!p.is_null());
        assert_eq!(p as usize % l.align(), 0, "aligned to {}", l.align());
        unsafe { ptr::write_bytes(p, byte, l.size()) };
        p
    }

    #[test]
    fn a_freed_small_block_is_handed_out_again_for_its_class_only() {
        let cache = SmallCache::new();
        unsafe {
            let a = filled(&cache, layout(24, 8), 1);
            cache.dealloc(a, layout(24, 8));
            // Another class does not get it.
            let b = filled(&cache, layout(40, 8), 2);
            assert_ne!(a, b);
            // The same class (17..=24 bytes) does.
            let c = filled(&cache, layout(17, 4), 3);
            assert_eq!(a, c, "the freed block of the class is reused");
            let d = filled(&cache, layout(20, 8), 4);
            assert_ne!(c, d, "a block is handed out once");
            for (p, l) in [(b, layout(40, 8)), (c, layout(17, 4)), (d, layout(20, 8))] {
                cache.dealloc(p, l);
            }
        }
    }

    #[test]
    fn blocks_in_use_never_overlap_and_keep_their_contents() {
        let cache = SmallCache::new();
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        unsafe {
            // Allocate, free every third, allocate again: reused blocks
            // must not overlap live ones.
            for round in 0..3u8 {
                for (i, size) in (1..=MAX_SMALL + 64).step_by(7).enumerate() {
                    let l = layout(size, if i % 2 == 0 { 8 } else { 1 });
                    let byte = round.wrapping_mul(31).wrapping_add(i as u8);
                    live.push((filled(&cache, l, byte), l, byte));
                }
                let mut kept = Vec::new();
                for (n, (p, l, byte)) in live.drain(..).enumerate() {
                    if n % 3 == 0 {
                        cache.dealloc(p, l);
                    } else {
                        kept.push((p, l, byte));
                    }
                }
                live = kept;
            }
            for (p, l, byte) in &live {
                let bytes = std::slice::from_raw_parts(*p, l.size());
                assert!(bytes.iter().all(|b| b == byte), "a block was overwritten");
            }
            for (p, l, _) in live {
                cache.dealloc(p, l);
            }
        }
    }

    #[test]
    fn large_or_over_aligned_blocks_go_to_the_system_allocator() {
        let cache = SmallCache::new();
        unsafe {
            for l in [layout(MAX_SMALL + 1, 8), layout(64, 16), layout(4096, 64)] {
                let p = filled(&cache, l, 7);
                cache.dealloc(p, l);
                // Not kept in a list: every list is still empty.
                assert!((*cache.heads.get()).iter().all(|h| h.is_null()));
            }
        }
    }

    #[test]
    fn realloc_keeps_the_contents_across_classes_and_into_the_system_allocator() {
        let cache = SmallCache::new();
        unsafe {
            let l = layout(10, 1);
            let mut p = filled(&cache, l, 0);
            for i in 0..10u8 {
                *p.add(usize::from(i)) = i;
            }
            let mut size = 10;
            for new_size in [12, 16, 100, 513, 2000, 300, 5] {
                // A block allocated after the old one (next to it in the
                // system allocator's heap, often) must survive the grown
                // block being written whole.
                let neighbour = filled(&cache, layout(size, 1), 0x5A);
                p = cache.realloc(p, layout(size, 1), new_size);
                assert!(!p.is_null());
                let kept = size.min(new_size).min(10);
                for i in 0..kept {
                    assert_eq!(*p.add(i), i as u8, "byte {i} after {size} -> {new_size}");
                }
                ptr::write_bytes(p.add(kept), 0xEE, new_size - kept);
                let n = std::slice::from_raw_parts(neighbour, size);
                assert!(
                    n.iter().all(|b| *b == 0x5A),
                    "the block grown {size} -> {new_size} overlaps another"
                );
                cache.dealloc(neighbour, layout(size, 1));
                size = new_size;
            }
            cache.dealloc(p, layout(size, 1));
        }
    }

    #[test]
    fn a_block_grown_past_its_class_overwrites_no_other_block() {
        let cache = SmallCache::new();
        unsafe {
            // Blocks allocated one after the other sit side by side in
            // the system allocator's heap: a grown block that stayed in
            // place would run into the next ones.
            let small = layout(16, 8);
            let blocks: Vec<*mut u8> = (0..64).map(|_| filled(&cache, small, 0x33)).collect();
            for (i, &b) in blocks.iter().enumerate().step_by(8) {
                let mut p = b;
                let mut size = 16;
                for new_size in [24, 100, 512, 600] {
                    p = cache.realloc(p, layout(size, 8), new_size);
                    assert!(!p.is_null());
                    ptr::write_bytes(p, 0xEE, new_size);
                    size = new_size;
                }
                for (j, &other) in blocks.iter().enumerate() {
                    if j % 8 != 0 || j > i {
                        let bytes = std::slice::from_raw_parts(other, 16);
                        assert!(bytes.iter().all(|x| *x == 0x33), "block {j} overwritten");
                    }
                }
                cache.dealloc(p, layout(size, 8));
            }
            for (j, b) in blocks.into_iter().enumerate() {
                if j % 8 != 0 {
                    cache.dealloc(b, small);
                }
            }
        }
    }

    #[test]
    fn alloc_zeroed_zeroes_a_reused_block() {
        let cache = SmallCache::new();
        unsafe {
            let l = layout(64, 8);
            let p = filled(&cache, l, 0xAB);
            cache.dealloc(p, l);
            let q = cache.alloc_zeroed(l);
            assert_eq!(p, q);
            assert!(std::slice::from_raw_parts(q, 64).iter().all(|b| *b == 0));
            cache.dealloc(q, l);
        }
    }
}
