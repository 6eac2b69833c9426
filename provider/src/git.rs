//! Optional git commit of the generated tree (provider block
//! `git { commit = true, author = "...", message = "..." }`).
//!
//! Only the paths a change touched are staged and committed (`git commit --only` semantics):
//! whatever else the user has staged or modified in the repository is left alone. Nothing
//! is committed when those paths did not change. Runs the `git` command, so the user's
//! configuration, hooks and signing apply as they would by hand.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

/// Serialises commits of this process: git's index lock is per repository, and several
/// workbenches (resources) may share one.
static COMMITS: Mutex<()> = Mutex::new(());

/// Why a commit failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The `git` command could not be run.
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// `output_dir` is not inside a git work tree.
    #[error("{0} is not inside a git work tree (run `git init` there, or turn git.commit off)")]
    NotARepository(String),
    /// A git command failed.
    #[error("`git {command}` failed: {stderr}")]
    Failed {
        /// The arguments, for the message.
        command: String,
        /// What git said.
        stderr: String,
    },
}

/// How to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOptions {
    /// `Name <email>`; when unset, git's configured identity.
    pub author: Option<String>,
    /// The commit message; `ipai: update <workbench>` when unset.
    pub message: Option<String>,
}

impl CommitOptions {
    /// The message of a commit of `workbench`'s files.
    pub fn message_for(&self, workbench: &str) -> String {
        self.message
            .clone()
            .unwrap_or_else(|| format!("ipai: update {workbench}"))
    }
}

/// `Ok` when `dir` is inside a git work tree; otherwise why not.
pub fn work_tree(dir: &Path) -> Result<(), String> {
    match git(dir, &["rev-parse", "--is-inside-work-tree"], NO_PATHS) {
        Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == "true" => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// True when `author` has the `Name <email>` form git expects.
pub fn valid_author(author: &str) -> bool {
    let Some((name, rest)) = author.split_once('<') else {
        return false;
    };
    let Some(email) = rest.strip_suffix('>') else {
        return false;
    };
    !name.trim().is_empty() && email.contains('@') && !email.contains(['<', '>', '\n'])
}

/// Commits the current state of `paths` (relative to `root`, present or deleted) in the
/// repository holding `root`. Returns the new commit id, or `None` when none of the paths
/// changed since the last commit.
pub fn commit_paths(
    root: &Path,
    paths: &[String],
    author: Option<&str>,
    message: &str,
) -> Result<Option<String>, GitError> {
    let _one_at_a_time = COMMITS.lock().unwrap_or_else(|p| p.into_inner());
    if work_tree(root).is_err() {
        return Err(GitError::NotARepository(root.display().to_string()));
    }
    let (present, gone): (Vec<&String>, Vec<&String>) =
        paths.iter().partition(|p| root.join(p).exists());
    let mut touched: Vec<String> = present.iter().map(|p| p.to_string()).collect();
    if !gone.is_empty() {
        let tracked = run(root, &["ls-files", "-z", "--"], &gone)?;
        let tracked: Vec<String> = String::from_utf8_lossy(&tracked.stdout)
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if !tracked.is_empty() {
            run(root, &["rm", "-q", "--cached", "--"], &tracked)?;
        }
        touched.extend(tracked);
    }
    if touched.is_empty() {
        return Ok(None);
    }
    if !present.is_empty() {
        run(root, &["add", "--"], &present)?;
    }
    // Exit status 1: the staged paths differ from HEAD.
    let diff = git(root, &["diff", "--cached", "--quiet", "--"], &touched)?;
    match diff.status.code() {
        Some(0) => return Ok(None),
        Some(1) => {}
        _ => return Err(failed(&["diff", "--cached"], &diff)),
    }
    let mut args = vec!["commit", "-q", "--only", "-m", message];
    let author_arg;
    if let Some(a) = author {
        author_arg = format!("--author={a}");
        args.push(&author_arg);
    }
    args.push("--");
    let mut cmd = command(root, &args, &touched);
    // Without a configured identity git refuses to commit; the author stands in.
    if let Some(a) = author
        && !git(root, &["var", "GIT_COMMITTER_IDENT"], NO_PATHS).is_ok_and(|o| o.status.success())
        && let Some((name, email)) = a.split_once('<')
    {
        cmd.env("GIT_COMMITTER_NAME", name.trim())
            .env("GIT_COMMITTER_EMAIL", email.trim_end_matches('>').trim());
    }
    let out = retry_on_lock(|| cmd.output().map_err(GitError::Spawn))?;
    if !out.status.success() {
        return Err(failed(&args, &out));
    }
    let head = run(root, &["rev-parse", "HEAD"], NO_PATHS)?;
    Ok(Some(
        String::from_utf8_lossy(&head.stdout).trim().to_owned(),
    ))
}

const NO_PATHS: &[&str] = &[];

/// A `git` command in `root`; pathspecs are literal (a file name with `*` is that file).
fn command(root: &Path, args: &[&str], paths: &[impl AsRef<str>]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("--literal-pathspecs")
        .arg("-C")
        .arg(root)
        .args(args)
        .args(paths.iter().map(AsRef::as_ref))
        .env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

fn git(root: &Path, args: &[&str], paths: &[impl AsRef<str>]) -> Result<Output, GitError> {
    retry_on_lock(|| command(root, args, paths).output().map_err(GitError::Spawn))
}

/// Like [`git`], but a non-zero exit is an error.
fn run(root: &Path, args: &[&str], paths: &[impl AsRef<str>]) -> Result<Output, GitError> {
    let out = git(root, args, paths)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(failed(args, &out))
    }
}

fn failed(args: &[&str], out: &Output) -> GitError {
    GitError::Failed {
        command: args.join(" "),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

/// Another process (a second `terraform apply`, the user) may hold `index.lock` briefly.
fn retry_on_lock(mut f: impl FnMut() -> Result<Output, GitError>) -> Result<Output, GitError> {
    let mut tries = 0;
    loop {
        let out = f()?;
        let locked = String::from_utf8_lossy(&out.stderr).contains("index.lock");
        if out.status.success() || !locked || tries == 50 {
            return Ok(out);
        }
        tries += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A fresh repository with no identity configured, and `out/` as the output directory.
    fn repo() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        sh(dir.path(), &["init", "-q", "-b", "main"]);
        sh(dir.path(), &["config", "commit.gpgsign", "false"]);
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("wb/kubernetes")).unwrap();
        (dir, out)
    }

    fn commit(root: &Path, paths: &[String]) -> Result<Option<String>, GitError> {
        let opts = CommitOptions {
            author: Some("ipai bot <ipai@example.com>".into()),
            message: None,
        };
        commit_paths(root, paths, opts.author.as_deref(), &opts.message_for("wb"))
    }

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn commits_only_the_given_paths_and_only_when_they_changed() {
        let (dir, out) = repo();
        let repo = dir.path();
        std::fs::write(out.join("wb/kubernetes/a.yaml"), "a\n").unwrap();
        std::fs::write(out.join("wb/workbench.json"), "{}\n").unwrap();
        // The user's own work: staged and unstaged, must stay out of ipai's commit.
        std::fs::write(repo.join("notes.md"), "wip\n").unwrap();
        sh(repo, &["add", "notes.md"]);
        std::fs::write(out.join("wb/mine.txt"), "hand-written\n").unwrap();

        let owned = paths(&["wb/kubernetes/a.yaml", "wb/workbench.json"]);
        let first = commit(&out, &owned).unwrap().expect("a commit");
        assert_eq!(sh(repo, &["rev-parse", "HEAD"]), first);
        assert_eq!(
            sh(
                repo,
                &["show", "--name-only", "--format=%an <%ae>|%s", "HEAD"]
            ),
            "ipai bot <ipai@example.com>|ipai: update wb\n\nout/wb/kubernetes/a.yaml\nout/wb/workbench.json"
        );
        assert_eq!(
            sh(repo, &["diff", "--cached", "--name-only"]),
            "notes.md",
            "still staged"
        );
        assert_eq!(
            sh(repo, &["status", "--porcelain", "out/wb/mine.txt"]),
            "?? out/wb/mine.txt"
        );

        assert_eq!(commit(&out, &owned).unwrap(), None, "nothing changed");
        assert_eq!(sh(repo, &["rev-list", "--count", "HEAD"]), "1");

        // A changed file and a deleted one: one commit with both.
        std::fs::write(out.join("wb/kubernetes/a.yaml"), "a2\n").unwrap();
        std::fs::remove_file(out.join("wb/workbench.json")).unwrap();
        let second = commit(&out, &owned).unwrap().expect("a commit");
        assert_ne!(first, second);
        assert_eq!(
            sh(repo, &["show", "--name-status", "--format=", "HEAD"]),
            "M\tout/wb/kubernetes/a.yaml\nD\tout/wb/workbench.json"
        );
        // Deleted and never committed: nothing to do.
        let never = paths(&["wb/kubernetes/never.yaml"]);
        assert_eq!(commit(&out, &never).unwrap(), None);
    }

    #[test]
    fn outside_a_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = commit(dir.path(), &paths(&["x"])).unwrap_err();
        assert!(matches!(err, GitError::NotARepository(_)), "{err}");
    }

    #[test]
    fn authors_need_name_and_email() {
        assert!(valid_author("ipai bot <ipai@example.com>"));
        assert!(!valid_author("ipai bot"));
        assert!(!valid_author("<ipai@example.com>"));
        assert!(!valid_author("bot <nope>"));
    }
}
