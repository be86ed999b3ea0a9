//! The program's allocator is jemalloc, not glibc's malloc.
//!
//! Under load the node's threads free what others allocated (a frame built on one worker and written
//! out on another, sled's deferred frees): glibc's malloc then takes the owning arena's lock, and a
//! profile of 20 / 8000 / 8 showed threads parked on it (`__lll_lock_wait_private` under `realloc`).
//! jemalloc, side by side with glibc's malloc in one run of the compare bench (5 repeats): server CPU
//! per message 0.78-0.87x, throughput 1.13-1.26x, p99 0.64-0.85x, the same memory per idle connection
//! and after registrations; the 100-node simulation's peak RSS 1.07-1.10x. It also returns the 19 MiB
//! an Argon2 hash frees, which glibc kept in its per-thread arenas (1.2 GB after 100 registrations
//! without tuning).

#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
