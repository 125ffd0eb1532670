//! Writing a scaffold all or nothing: every new text is first written
//! beside its file, then each is renamed into place; a failure on the way
//! puts back what was changed and removes what was created.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One file the command creates or changes, relative to the project root.
#[derive(Debug, Clone)]
pub enum Change {
    Create {
        path: String,
        text: String,
    },
    Modify {
        path: String,
        before: String,
        after: String,
    },
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Change::Create { path, .. } | Change::Modify { path, .. } => path,
        }
    }

    fn text(&self) -> &str {
        match self {
            Change::Create { text, .. } => text,
            Change::Modify { after, .. } => after,
        }
    }
}

/// A temporary file beside `path`.
fn staged(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.gatehouse-new-{}", std::process::id()))
}

/// Applies every change under `root`, or none: on an error, the files
/// written so far get their old text back, the created ones and the
/// folders made for them are removed.
pub fn apply(root: &Path, changes: &[Change]) -> Result<(), String> {
    // Each file as it is now must be as the changes were computed from.
    for change in changes {
        let path = root.join(change.path());
        match change {
            Change::Create { .. } if path.exists() => {
                return Err(format!("{} appeared meanwhile", change.path()));
            }
            Change::Modify { before, .. } => {
                let now = fs::read_to_string(&path)
                    .map_err(|err| format!("cannot read {}: {err}", change.path()))?;
                if &now != before {
                    return Err(format!("{} changed meanwhile", change.path()));
                }
            }
            Change::Create { .. } => {}
        }
    }
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let mut staged_files: Vec<PathBuf> = Vec::new();
    let mut done: Vec<&Change> = Vec::new();
    let result = (|| -> Result<(), String> {
        for change in changes {
            let path = root.join(change.path());
            if let Some(parent) = path.parent() {
                make_dirs(parent, &mut made_dirs)
                    .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
            }
            let temporary = staged(&path);
            fs::write(&temporary, change.text())
                .map_err(|err| format!("cannot write {}: {err}", temporary.display()))?;
            staged_files.push(temporary);
        }
        for (change, temporary) in changes.iter().zip(&staged_files) {
            let path = root.join(change.path());
            fs::rename(temporary, &path)
                .map_err(|err| format!("cannot write {}: {err}", change.path()))?;
            done.push(change);
        }
        Ok(())
    })();
    if let Err(message) = result {
        for change in done.iter().rev() {
            let path = root.join(change.path());
            let _ = match change {
                Change::Create { .. } => fs::remove_file(&path),
                Change::Modify { before, .. } => fs::write(&path, before),
            };
        }
        for temporary in &staged_files {
            let _ = fs::remove_file(temporary);
        }
        for dir in made_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
        return Err(format!("{message}; nothing was changed"));
    }
    Ok(())
}

/// `dir` and its missing parents, each one made recorded in `made`.
fn make_dirs(dir: &Path, made: &mut Vec<PathBuf>) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(parent, made)?;
    }
    fs::create_dir(dir)?;
    made.push(dir.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "gatehouse-new-route-files-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn all_changes_or_none() {
        let root = scratch();
        fs::write(root.join("a.txt"), "old").unwrap();
        let changes = vec![
            Change::Modify {
                path: "a.txt".into(),
                before: "old".into(),
                after: "new".into(),
            },
            Change::Create {
                path: "deep/er/b.txt".into(),
                text: "b".into(),
            },
        ];
        apply(&root, &changes).unwrap();
        assert_eq!(fs::read_to_string(root.join("a.txt")).unwrap(), "new");
        assert_eq!(fs::read_to_string(root.join("deep/er/b.txt")).unwrap(), "b");

        // The second time, b.txt exists: nothing is written.
        fs::write(root.join("a.txt"), "old").unwrap();
        let err = apply(&root, &changes).unwrap_err();
        assert!(err.contains("deep/er/b.txt appeared meanwhile"), "{err}");
        assert_eq!(fs::read_to_string(root.join("a.txt")).unwrap(), "old");

        // A failure half-way (a folder where a file goes) undoes the rest.
        fs::remove_dir_all(root.join("deep")).unwrap();
        fs::create_dir_all(root.join("c.txt")).unwrap();
        let failing = vec![
            changes[0].clone(),
            changes[1].clone(),
            Change::Modify {
                path: "c.txt".into(),
                before: String::new(),
                after: "c".into(),
            },
        ];
        assert!(apply(&root, &failing).is_err());
        fs::remove_dir_all(root.join("c.txt")).unwrap();
        fs::write(root.join("c.txt"), "").unwrap();
        let blocked = vec![
            changes[0].clone(),
            changes[1].clone(),
            Change::Create {
                path: "c.txt/d.txt".into(),
                text: "d".into(),
            },
        ];
        let err = apply(&root, &blocked).unwrap_err();
        assert!(err.ends_with("nothing was changed"), "{err}");
        assert_eq!(fs::read_to_string(root.join("a.txt")).unwrap(), "old");
        assert!(!root.join("deep").exists());
        let _ = fs::remove_dir_all(&root);
    }
}
