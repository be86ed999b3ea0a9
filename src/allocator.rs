//! glibc's malloc serves large blocks from its arenas and keeps them when freed. A password hash takes
//! 19 MiB on a blocking thread; after 100 registrations a node held 1.2 GB it no longer used. Blocks
//! of 1 MiB and more are given their own mapping instead, returned to the OS when freed.

/// Blocks at least this large are mapped on their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1024 * 1024;

/// Called first thing in `main`, before any thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn tune() {
    // SAFETY: mallopt only sets a malloc parameter; called before other threads allocate.
    #[allow(unsafe_code)]
    let accepted = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
    debug_assert_eq!(accepted, 1, "glibc accepts the threshold");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn tune() {}
