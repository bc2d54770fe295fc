//! Opens a file beneath a folder so that nothing on the way can lead out of it, however the
//! tree changes meanwhile: Linux `openat2` with `RESOLVE_BENEATH` and no symbolic links at
//! all, relative to a handle on the folder. Where `openat2` is missing the open is refused,
//! never done by checking first and opening after.

use std::fs::File;
use std::io;
use std::path::Path;

/// What the file is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading an existing file.
    Read,
    /// Creating or truncating a file for writing.
    Write,
}

/// Why an open beneath a folder failed.
#[derive(Debug, thiserror::Error)]
pub enum BeneathError {
    /// A symbolic link or `..` on the way would have left the folder (or a link was met where
    /// none was expected, as when a folder was swapped for a link after the check).
    #[error("a symbolic link on the way would lead elsewhere")]
    Escapes,
    /// This system cannot confine an open to a folder.
    #[error("this system cannot open files confined to a folder (Linux 5.6 or later is needed)")]
    Unsupported,
    /// The file system refused.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Opens `relative` (a path without `..`) beneath `folder`.
#[cfg(target_os = "linux")]
pub fn open(folder: &Path, relative: &Path, access: Access) -> Result<File, BeneathError> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;

    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(folder)?;
    let name = CString::new(relative.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the path holds a NUL byte"))?;
    let flags = match access {
        Access::Read => libc::O_RDONLY,
        Access::Write => libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW,
    } | libc::O_CLOEXEC;
    // SAFETY: `open_how` is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = u64::try_from(flags).map_err(|_| BeneathError::Unsupported)?;
    how.mode = if access == Access::Write { 0o666 } else { 0 };
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: the folder handle and the NUL-terminated name outlive the call, and `how` is
    // passed with its own size, as openat2(2) requires.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        let error = io::Error::last_os_error();
        return Err(match error.raw_os_error() {
            Some(libc::EXDEV | libc::ELOOP) => BeneathError::Escapes,
            Some(libc::ENOSYS) => BeneathError::Unsupported,
            _ => BeneathError::Io(error),
        });
    }
    let fd = i32::try_from(fd).map_err(|_| BeneathError::Unsupported)?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Elsewhere nothing confines an open to a folder, so file access is refused.
#[cfg(not(target_os = "linux"))]
pub fn open(_folder: &Path, _relative: &Path, _access: Access) -> Result<File, BeneathError> {
    Err(BeneathError::Unsupported)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn links_and_climbs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../secret", root.join("rel")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        assert!(open(&root, Path::new("sub/a.txt"), Access::Read).is_ok());
        for bad in ["abs", "rel", "up/secret", "../secret", "sub/../../secret"] {
            let e = open(&root, Path::new(bad), Access::Read).unwrap_err();
            assert!(matches!(e, BeneathError::Escapes), "{bad}: {e}");
            let e = open(&root, Path::new(bad), Access::Write).unwrap_err();
            assert!(matches!(e, BeneathError::Escapes), "{bad}: {e}");
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("secret")).unwrap(),
            "s"
        );
        let missing = open(&root, Path::new("sub/none"), Access::Read).unwrap_err();
        assert!(matches!(missing, BeneathError::Io(_)), "{missing}");
    }
}
