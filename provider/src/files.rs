//! The files target: generated files under `output_dir`, written atomically (a temporary
//! file in the same directory, then a rename), only ever the files a resource owns.
//!
//! Terraform applies resources concurrently and several resources update files of the
//! same workbench, so every change to a workbench's files holds its lock: an in-process
//! mutex plus an advisory `flock` on the workbench directory against other processes
//! (another `terraform apply`, the `ipai` CLI). Reads need no lock: a rename is atomic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use ipai_codegen::{Renderer, aggregate, sha256_hex};

use crate::git::CommitOptions;

/// File contents keyed by path relative to the output directory.
type Files = BTreeMap<String, String>;

/// Generated files under one output directory.
#[derive(Debug)]
pub struct FilesTarget {
    root: PathBuf,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Commit after each locked change, when the provider's `git.commit` is on.
    git: Option<CommitOptions>,
    /// Paths written or removed (changed or not) by the locked changes in progress: what
    /// a commit covers.
    touched: Mutex<BTreeSet<String>>,
}

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A path that would leave the output directory, or is not relative.
    #[error("{0:?} is not a relative path inside the output directory")]
    BadPath(String),
    /// Committing the generated files failed (they are written).
    #[error("git commit: {0}")]
    Git(#[from] crate::git::GitError),
    /// Recomputing an aggregate file failed.
    #[error("aggregate files: {0}")]
    Aggregate(String),
    /// The file system said no.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FilesError + '_ {
    move |source| FilesError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl FilesTarget {
    /// The target writing under `root` (created on first write).
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            locks: Mutex::new(HashMap::new()),
            git: None,
            touched: Mutex::new(BTreeSet::new()),
        }
    }

    /// The same target, committing each workbench's files after every locked change.
    #[must_use]
    pub fn with_git(mut self, git: Option<CommitOptions>) -> Self {
        self.git = git;
        self
    }

    fn touch(&self, rel: &str) {
        self.touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rel.to_owned());
    }

    /// Commits what the locked change to `workbench` touched, when git is on and `commit`.
    fn commit(&self, workbench: &str, commit: bool) -> Result<(), FilesError> {
        let prefix = format!("{workbench}/");
        let paths: Vec<String> = {
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            let mine: Vec<String> = touched
                .iter()
                .filter(|p| p.starts_with(&prefix))
                .cloned()
                .collect();
            for p in &mine {
                touched.remove(p);
            }
            mine
        };
        if let Some(g) = &self.git
            && commit
            && !paths.is_empty()
        {
            crate::git::commit_paths(
                &self.root,
                &paths,
                g.author.as_deref(),
                &g.message_for(workbench),
            )?;
        }
        Ok(())
    }

    /// The output directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute location of a generated file's relative path.
    pub fn path_of(&self, rel: &str) -> Result<PathBuf, FilesError> {
        let p = Path::new(rel);
        if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(FilesError::BadPath(rel.to_owned()));
        }
        Ok(self.root.join(p))
    }

    /// Hex SHA-256 of each of `paths` as it is on disk now; files that do not exist (or
    /// cannot be read) are left out, so a deleted file shows as drift.
    pub fn hashes<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
        paths
            .into_iter()
            .filter_map(|rel| {
                let bytes = fs::read(self.path_of(rel).ok()?).ok()?;
                Some((rel.to_owned(), sha256_hex(&bytes)))
            })
            .collect()
    }

    /// The contents of one generated file, if it exists.
    pub fn read(&self, rel: &str) -> Result<Option<String>, FilesError> {
        let p = self.path_of(rel)?;
        match fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    /// Runs `f` holding `workbench`'s lock (in-process and across processes). Creates the
    /// workbench directory, since the advisory lock is taken on it.
    pub fn locked<T>(
        &self,
        workbench: &str,
        f: impl FnOnce(&Self) -> Result<T, FilesError>,
    ) -> Result<T, FilesError> {
        let dir = self.path_of(workbench)?;
        let mutex = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(workbench.to_owned()).or_default().clone()
        };
        let _in_process = mutex.lock().unwrap_or_else(|p| p.into_inner());
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let handle = fs::File::open(&dir).map_err(io_err(&dir))?;
        rustix::fs::flock(&handle, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io_err(&dir)(e.into()))?;
        // The lock is released when `handle` is closed, after `f` and the commit.
        let result = f(self);
        // A half-done change is not committed; the next apply finishes and commits it.
        let committed = self.commit(workbench, result.is_ok());
        let value = result?;
        committed?;
        Ok(value)
    }

    /// Makes the files on disk match `files` (writing only those whose bytes differ) and
    /// removes the files in `stale` that `files` no longer has, with the directories
    /// that become empty. Call inside [`Self::locked`].
    pub fn sync(
        &self,
        files: &BTreeMap<String, String>,
        stale: &BTreeSet<String>,
    ) -> Result<(), FilesError> {
        for (rel, contents) in files {
            self.write_atomic(rel, contents.as_bytes())?;
        }
        let gone: Vec<&String> = stale.iter().filter(|p| !files.contains_key(*p)).collect();
        self.remove(gone.into_iter().map(String::as_str))
    }

    /// Every file under `<root>/<workbench>/`, keyed by its path relative to the root
    /// (temporary files of an interrupted write left out).
    pub fn workbench_files(&self, workbench: &str) -> Result<BTreeMap<String, String>, FilesError> {
        let mut out = BTreeMap::new();
        let dir = self.path_of(workbench)?;
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            let entries = match fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&d)(e)),
            };
            for entry in entries {
                let path = entry.map_err(io_err(&d))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".ipai-"))
                    && let Ok(rel) = path.strip_prefix(&self.root)
                    && let Ok(text) = fs::read_to_string(&path)
                {
                    out.insert(rel.to_string_lossy().replace('\\', "/"), text);
                }
            }
        }
        Ok(out)
    }

    /// The files now under the workbench's directory, and the aggregate files its
    /// component files make (as `ipai render` computes them for a bundle).
    fn aggregates(&self, workbench: &str, r: &Renderer) -> Result<[Files; 2], FilesError> {
        let present = self.workbench_files(workbench)?;
        let wanted = aggregate::aggregate(workbench, &present, r)
            .map_err(|e| FilesError::Aggregate(e.to_string()))?;
        Ok([present, wanted])
    }

    /// Aggregate files present that must no longer exist.
    fn unwanted<'a>(
        workbench: &'a str,
        present: &'a BTreeMap<String, String>,
        wanted: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a str> {
        present
            .keys()
            .filter(move |p| aggregate::is_aggregate(workbench, p) && !wanted.contains_key(*p))
            .map(String::as_str)
    }

    /// Recomputes the workbench's aggregate files (the top `kustomization.yaml`, …) from
    /// the component files now under its directory, as `ipai render` does for a bundle:
    /// writes those that changed and removes those that must no longer exist. Call inside
    /// [`Self::locked`], after the resource's own files are written or removed.
    pub fn refresh_aggregates(&self, workbench: &str, r: &Renderer) -> Result<(), FilesError> {
        let [present, wanted] = self.aggregates(workbench, r)?;
        for (rel, contents) in &wanted {
            self.write_atomic(rel, contents.as_bytes())?;
        }
        self.remove(Self::unwanted(workbench, &present, &wanted))
    }

    /// The workbench's aggregate files whose bytes on disk are not what
    /// [`Self::refresh_aggregates`] would write (edited or deleted by hand, or left over),
    /// sorted: what a read reports as drift.
    pub fn aggregate_drift(
        &self,
        workbench: &str,
        r: &Renderer,
    ) -> Result<Vec<String>, FilesError> {
        let [present, wanted] = self.aggregates(workbench, r)?;
        let mut drift: BTreeSet<&str> = wanted
            .iter()
            .filter(|(p, c)| present.get(*p) != Some(*c))
            .map(|(p, _)| p.as_str())
            .collect();
        drift.extend(Self::unwanted(workbench, &present, &wanted));
        Ok(drift.into_iter().map(str::to_owned).collect())
    }

    /// Writes one file atomically unless it already has exactly these bytes.
    pub fn write_atomic(&self, rel: &str, bytes: &[u8]) -> Result<(), FilesError> {
        let target = self.path_of(rel)?;
        self.touch(rel);
        if fs::read(&target).is_ok_and(|old| old == bytes) {
            return Ok(());
        }
        let dir = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".ipai-")
            .tempfile_in(dir)
            .map_err(io_err(dir))?;
        tmp.write_all(bytes).map_err(io_err(&target))?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io_err(&target))?;
        tmp.persist(&target).map_err(|e| io_err(&target)(e.error))?;
        Ok(())
    }

    /// Removes the given files (missing ones are fine) and every directory between them
    /// and the output directory that is left empty.
    pub fn remove<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> Result<(), FilesError> {
        let mut dirs = BTreeSet::new();
        for rel in paths {
            let p = self.path_of(rel)?;
            self.touch(rel);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p)(e)),
            }
            let mut parent = p.parent();
            while let Some(d) = parent {
                if d == self.root || !d.starts_with(&self.root) {
                    break;
                }
                dirs.insert(d.to_path_buf());
                parent = d.parent();
            }
        }
        // Deepest first; a directory that still holds anything stays.
        for d in dirs.iter().rev() {
            match fs::remove_dir(d) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
                    ) => {}
                Err(e) => return Err(io_err(d)(e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
            .collect()
    }

    #[test]
    fn sync_writes_then_removes_only_what_it_owned() {
        let tmp = tempfile::tempdir().unwrap();
        let t = FilesTarget::new(tmp.path().join("out"));
        let first = files(&[("wb/a.yaml", "a"), ("wb/sub/b.sql", "b")]);
        t.locked("wb", |t| t.sync(&first, &BTreeSet::new()))
            .unwrap();
        std::fs::write(tmp.path().join("out/wb/user.txt"), "mine").unwrap();
        assert_eq!(
            t.hashes(["wb/a.yaml", "wb/sub/b.sql", "wb/missing"]),
            files(&[
                ("wb/a.yaml", &sha256_hex(b"a")),
                ("wb/sub/b.sql", &sha256_hex(b"b"))
            ])
        );
        let second = files(&[("wb/a.yaml", "a2")]);
        let owned: BTreeSet<String> = first.keys().cloned().collect();
        t.locked("wb", |t| t.sync(&second, &owned)).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("out/wb/a.yaml")).unwrap(),
            "a2"
        );
        assert!(
            !tmp.path().join("out/wb/sub").exists(),
            "emptied directory removed"
        );
        t.locked("wb", |t| t.remove(["wb/a.yaml"])).unwrap();
        assert!(
            tmp.path().join("out/wb/user.txt").exists(),
            "a file it did not create stays"
        );
        t.remove(["wb/user.txt"]).unwrap();
        assert!(!tmp.path().join("out/wb").exists());
        assert!(
            tmp.path().join("out").exists(),
            "the output directory itself stays"
        );
    }

    #[test]
    fn paths_cannot_escape_the_output_directory() {
        let t = FilesTarget::new(PathBuf::from("/tmp/x"));
        for bad in ["../etc/passwd", "/etc/passwd", "a/../../b", ""] {
            assert!(
                matches!(t.path_of(bad), Err(FilesError::BadPath(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_unchanged_file_is_not_rewritten() {
        let tmp = tempfile::tempdir().unwrap();
        let t = FilesTarget::new(tmp.path().to_path_buf());
        t.write_atomic("wb/a", b"same").unwrap();
        let p = tmp.path().join("wb/a");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        t.write_atomic("wb/a", b"same").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        t.write_atomic("wb/a", b"new").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn concurrent_writers_to_one_workbench_do_not_lose_updates() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Arc::new(FilesTarget::new(tmp.path().to_path_buf()));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let t = t.clone();
                std::thread::spawn(move || {
                    t.locked("wb", |t| {
                        // Read-modify-write of an aggregate file: only safe under the lock.
                        let old = t.read("wb/agg")?.unwrap_or_default();
                        t.write_atomic("wb/agg", format!("{old}{i}\n").as_bytes())
                    })
                    .unwrap();
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        let agg = std::fs::read_to_string(tmp.path().join("wb/agg")).unwrap();
        assert_eq!(agg.lines().count(), 8);
    }

    #[test]
    fn aggregates_follow_the_component_files_present() {
        let tmp = tempfile::tempdir().unwrap();
        let t = FilesTarget::new(tmp.path().to_path_buf());
        let r = Renderer::embedded().unwrap();
        let base = files(&[("wb/kubernetes/base/kustomization.yaml", "resources: []\n")]);
        t.locked("wb", |t| {
            t.sync(&base, &BTreeSet::new())?;
            t.refresh_aggregates("wb", &r)
        })
        .unwrap();
        let all = t.workbench_files("wb").unwrap();
        let expected = aggregate::aggregate("wb", &all, &r).unwrap();
        assert!(!expected.is_empty());
        for (p, c) in &expected {
            assert_eq!(all.get(p), Some(c), "{p} written as codegen computes it");
        }
        assert!(t.aggregate_drift("wb", &r).unwrap().is_empty());
        std::fs::write(
            tmp.path().join("wb/kubernetes/kustomization.yaml"),
            "edited",
        )
        .unwrap();
        assert_eq!(
            t.aggregate_drift("wb", &r).unwrap(),
            ["wb/kubernetes/kustomization.yaml"]
        );
        t.locked("wb", |t| t.refresh_aggregates("wb", &r)).unwrap();
        assert!(t.aggregate_drift("wb", &r).unwrap().is_empty(), "repaired");
        let owned: BTreeSet<String> = base.keys().cloned().collect();
        t.locked("wb", |t| {
            t.remove(owned.iter().map(String::as_str))?;
            t.refresh_aggregates("wb", &r)
        })
        .unwrap();
        assert!(
            !tmp.path().join("wb").exists(),
            "nothing left once the components are gone"
        );
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    #[test]
    fn with_git_each_change_of_a_workbench_is_one_commit_of_its_files() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path();
        git(repo, &["init", "-q", "-b", "main"]);
        git(repo, &["config", "commit.gpgsign", "false"]);
        let out = repo.join("gitops");
        let t = FilesTarget::new(out.clone()).with_git(Some(CommitOptions {
            author: Some("ipai <ipai@example.com>".into()),
            message: None,
        }));
        let r = Renderer::embedded().unwrap();
        let apply = |files: &BTreeMap<String, String>, stale: &BTreeSet<String>| {
            t.locked("wb", |t| {
                t.sync(files, stale)?;
                t.refresh_aggregates("wb", &r)
            })
            .unwrap()
        };
        let v1 = files(&[
            ("wb/kubernetes/base/kustomization.yaml", "resources: []\n"),
            ("wb/workbench.json", "{}\n"),
        ]);
        apply(&v1, &BTreeSet::new());
        std::fs::write(out.join("wb/notes.txt"), "mine\n").unwrap();
        assert_eq!(
            git(repo, &["log", "--format=%s|%an"]),
            "ipai: update wb|ipai"
        );
        assert_eq!(
            git(repo, &["show", "--name-only", "--format=", "HEAD"]),
            "gitops/wb/kubernetes/base/kustomization.yaml\ngitops/wb/kubernetes/kustomization.yaml\ngitops/wb/workbench.json"
        );

        apply(&v1, &BTreeSet::new());
        assert_eq!(
            git(repo, &["rev-list", "--count", "HEAD"]),
            "1",
            "no change, no commit"
        );

        // A hand edit is repaired and the repair committed; a dropped file's removal too.
        std::fs::write(out.join("wb/workbench.json"), "edited\n").unwrap();
        git(
            repo,
            &["-c", "user.name=me", "-c", "user.email=me@example.com"]
                .into_iter()
                .chain(["commit", "-qam", "hand edit"])
                .collect::<Vec<_>>(),
        );
        let v2 = files(&[("wb/workbench.json", "{}\n")]);
        apply(&v2, &v1.keys().cloned().collect());
        assert_eq!(
            git(repo, &["show", "--name-status", "--format=%s", "HEAD"]),
            "ipai: update wb\n\nD\tgitops/wb/kubernetes/base/kustomization.yaml\nD\tgitops/wb/kubernetes/kustomization.yaml\nM\tgitops/wb/workbench.json"
        );
        assert_eq!(
            git(repo, &["status", "--porcelain"]),
            "?? gitops/wb/notes.txt",
            "the user's file is neither committed nor touched"
        );
    }
}
