//! Backups: one file holding everything a node needs to come back (its store, keys and file blobs),
//! taken while it runs, and restored into an empty data directory.
//!
//! The store is read while every write waits at the store's gate (see `storage::Gate`), so the backup
//! is the store as a crash at that instant would have left it: a restored node completes any write set
//! cut short (its journal is in the backup) exactly as after a crash. Blobs are copied in the same
//! hold: a file's bytes are written before its record and removed only after it, so every record in
//! the backup has its bytes.
//!
//! The format: the line `PARLEY-BACKUP 1`, then records, each a big-endian u32 length and a
//! MessagePack `Record`; the last, `End`, counts the records before it and carries the SHA-256 of
//! their bytes, so a truncated or damaged backup is refused rather than half restored.

use std::fs;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Admin, Operator};
use crate::storage::{Store, write_whole};
use crate::{Error, Result};

const MAGIC: &[u8] = b"PARLEY-BACKUP 1\n";
/// The data directory's secrets, kept so a restored node keeps its identity and its users' sessions.
const SECRETS: [&str; 2] = ["node.key", "token.secret"];
/// The directories of blobs.
const BLOB_DIRS: [&str; 2] = ["files", "avatars"];
/// Largest record a restore accepts: a file of the largest size a node takes, with room to spare.
const MAX_RECORD: u32 = 1 << 30;

#[derive(Serialize, Deserialize)]
enum Record {
    Secret {
        name: String,
        #[serde(with = "protocol::binary")]
        bytes: Vec<u8>,
    },
    Tree {
        name: String,
    },
    Pair {
        #[serde(with = "protocol::binary")]
        key: Vec<u8>,
        #[serde(with = "protocol::binary")]
        value: Vec<u8>,
    },
    File {
        path: String,
        #[serde(with = "protocol::binary")]
        bytes: Vec<u8>,
    },
    End {
        records: u64,
        #[serde(with = "protocol::binary")]
        sha256: Vec<u8>,
    },
}

/// What a backup or restore moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BackupSummary {
    /// Keys of the store, all trees together.
    pub keys: u64,
    /// Blob files.
    pub files: u64,
    /// Bytes of the backup file.
    pub bytes: u64,
}

struct Writer<W: Write> {
    out: W,
    digest: Sha256,
    records: u64,
    bytes: u64,
}

impl<W: Write> Writer<W> {
    fn record(&mut self, record: &Record) -> Result<()> {
        let body =
            rmp_serde::to_vec(record).map_err(|err| Error::Internal(format!("encoding a backup record: {err}")))?;
        let length = u32::try_from(body.len())
            .ok()
            .filter(|length| *length <= MAX_RECORD)
            .ok_or_else(|| Error::Internal("a backup record is too large".into()))?;
        self.digest.update(length.to_be_bytes());
        self.digest.update(&body);
        self.out.write_all(&length.to_be_bytes()).map_err(io)?;
        self.out.write_all(&body).map_err(io)?;
        self.records += 1;
        self.bytes += 4 + body.len() as u64;
        Ok(())
    }
}

fn io(err: std::io::Error) -> Error {
    Error::Internal(format!("writing the backup: {err}"))
}

impl Admin<'_> {
    /// Writes a backup of the node to `path` (created, owner-readable only: it holds the node's keys).
    /// Writes to the store wait while the store and blobs are read.
    pub async fn backup(&self, operator: &Operator, path: PathBuf) -> Result<BackupSummary> {
        let store = self.services.store.clone();
        let data_dir = self.services.config.data_dir.clone();
        let summary = tokio::task::spawn_blocking(move || -> Result<BackupSummary> {
            let written = create_private(&path).and_then(|file| write_backup(file, &store, &data_dir));
            if written.is_err() {
                let _ = fs::remove_file(&path);
            }
            written
        })
        .await
        .map_err(|err| Error::Internal(format!("the backup task failed: {err}")))??;
        let target = format!("keys:{} files:{}", summary.keys, summary.files);
        self.record(operator, "backup", &target).await?;
        Ok(summary)
    }
}

fn write_backup(file: fs::File, store: &Store, data_dir: &Path) -> Result<BackupSummary> {
    let mut writer = Writer {
        out: BufWriter::new(file),
        digest: Sha256::new(),
        records: 0,
        bytes: MAGIC.len() as u64,
    };
    writer.out.write_all(MAGIC).map_err(io)?;
    let mut summary = BackupSummary::default();
    for name in SECRETS {
        let bytes = fs::read(data_dir.join(name)).map_err(|err| Error::Internal(format!("reading {name}: {err}")))?;
        writer.record(&Record::Secret {
            name: name.to_owned(),
            bytes,
        })?;
    }
    {
        let _still = store.trees.hold_writes();
        for (name, tree) in store.trees.all() {
            writer.record(&Record::Tree { name: name.to_owned() })?;
            for item in tree.iter() {
                let (key, value) = item?;
                writer.record(&Record::Pair {
                    key: key.to_vec(),
                    value: value.to_vec(),
                })?;
                summary.keys += 1;
            }
        }
        for dir in BLOB_DIRS {
            summary.files += copy_blobs(&mut writer, data_dir, dir)?;
        }
    }
    let sha256 = writer.digest.clone().finalize().to_vec();
    let records = writer.records;
    writer.record(&Record::End { records, sha256 })?;
    let file = writer.out.into_inner().map_err(|err| io(err.into_error()))?;
    file.sync_all().map_err(io)?;
    summary.bytes = writer.bytes;
    Ok(summary)
}

fn create_private(path: &Path) -> Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|err| Error::Internal(format!("creating {}: {err}", path.display())))
}

/// Every regular file under `data_dir/dir`, as paths relative to the data dir.
fn copy_blobs<W: Write>(writer: &mut Writer<W>, data_dir: &Path, dir: &str) -> Result<u64> {
    let Ok(entries) = fs::read_dir(data_dir.join(dir)) else {
        return Ok(0);
    };
    let mut copied = 0;
    for entry in entries {
        let entry = entry.map_err(io)?;
        if !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = match fs::read(entry.path()) {
            Ok(bytes) => bytes,
            // Removed since it was listed: its record was gone before the hold began.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io(err)),
        };
        writer.record(&Record::File {
            path: format!("{dir}/{name}"),
            bytes,
        })?;
        copied += 1;
    }
    Ok(copied)
}

/// Restores the backup at `backup` into `data_dir`, which must hold no node yet (it is created if
/// missing). Nothing is left behind if the backup turns out damaged.
pub fn restore(backup: &Path, data_dir: &Path) -> Result<BackupSummary> {
    if data_dir.join("db").exists() || SECRETS.iter().any(|name| data_dir.join(name).exists()) {
        return Err(Error::Conflict(format!(
            "{} already holds a node: restore into an empty directory",
            data_dir.display()
        )));
    }
    fs::create_dir_all(data_dir).map_err(|err| Error::Internal(format!("creating {}: {err}", data_dir.display())))?;
    let restored = restore_into(backup, data_dir);
    if restored.is_err() {
        for name in SECRETS {
            let _ = fs::remove_file(data_dir.join(name));
        }
        for dir in ["db", "files", "avatars"] {
            let _ = fs::remove_dir_all(data_dir.join(dir));
        }
    }
    restored
}

fn restore_into(backup: &Path, data_dir: &Path) -> Result<BackupSummary> {
    let damaged = |why: &str| Error::Corrupt(format!("{} is not a whole Parley backup: {why}", backup.display()));
    let file = fs::File::open(backup).map_err(|err| Error::Internal(format!("opening {}: {err}", backup.display())))?;
    let total = file.metadata().map(|meta| meta.len()).unwrap_or_default();
    let mut input = BufReader::new(file);
    let mut magic = [0; MAGIC.len()];
    input.read_exact(&mut magic).map_err(|_| damaged("no header"))?;
    if magic != MAGIC {
        return Err(damaged("no header"));
    }
    let db = sled::Config::new().path(data_dir.join("db")).open()?;
    let mut digest = Sha256::new();
    let mut records = 0u64;
    let mut summary = BackupSummary {
        bytes: total,
        ..BackupSummary::default()
    };
    let mut tree: Option<sled::Tree> = None;
    loop {
        let mut length = [0; 4];
        input.read_exact(&mut length).map_err(|_| damaged("it ends early"))?;
        let size = u32::from_be_bytes(length);
        if size > MAX_RECORD {
            return Err(damaged("a record is too large"));
        }
        let mut body = vec![0; size as usize];
        input.read_exact(&mut body).map_err(|_| damaged("it ends early"))?;
        let record: Record = rmp_serde::from_slice(&body).map_err(|_| damaged("a record is unreadable"))?;
        if let Record::End { records: count, sha256 } = &record {
            if *count != records || digest.finalize().as_slice() != sha256.as_slice() {
                return Err(damaged("its checksum does not match"));
            }
            break;
        }
        digest.update(length);
        digest.update(&body);
        records += 1;
        match record {
            Record::Secret { name, bytes } => {
                if !SECRETS.contains(&name.as_str()) {
                    return Err(damaged("an unknown secret"));
                }
                write_whole(&data_dir.join(&name), &bytes, "restore")?;
            }
            Record::Tree { name } => tree = Some(db.open_tree(name)?),
            Record::Pair { key, value } => {
                tree.as_ref()
                    .ok_or_else(|| damaged("a key outside any tree"))?
                    .insert(key, value)?;
                summary.keys += 1;
            }
            Record::File { path, bytes } => {
                let (dir, name) = path.split_once('/').ok_or_else(|| damaged("a bad file path"))?;
                let safe = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
                if !BLOB_DIRS.contains(&dir) || !safe {
                    return Err(damaged("a bad file path"));
                }
                fs::create_dir_all(data_dir.join(dir))
                    .map_err(|err| Error::Internal(format!("creating {dir}: {err}")))?;
                fs::write(data_dir.join(dir).join(name), bytes)
                    .map_err(|err| Error::Internal(format!("writing {path}: {err}")))?;
                summary.files += 1;
            }
            Record::End { .. } => unreachable!("handled above"),
        }
    }
    db.flush()?;
    Ok(summary)
}
