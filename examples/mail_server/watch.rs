//! Change delivery across processes: the accounts' Maildirs are watched
//! (inotify on Linux, through the `notify` crate), so a session in IDLE
//! hears at once of a message delivered by Dovecot, a POP3 QUIT in another
//! mail_server, or an APPEND in another session, and reads the store's
//! changes then. One watch per account, however many sessions use it.
//! Where watching is not possible (no inotify, out of watches), sessions
//! poll instead.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use notify::event::{CreateKind, ModifyKind, RemoveKind};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::watch;

/// The process's watcher.
pub struct Watcher {
    /// `None` when the platform gives none.
    notify: Option<Mutex<notify::RecommendedWatcher>>,
    accounts: Arc<Mutex<HashMap<PathBuf, Watched>>>,
    /// Held by the start of a path's first subscription and the end of
    /// its last around both their change to `accounts` and their `watch`
    /// or `unwatch`, so that those come in the order of the changes: an
    /// end's `unwatch` cannot remove the watch a new start made in between.
    /// (Other starts and ends take `accounts` alone.)
    ops: Mutex<()>,
}

/// One watched account directory.
struct Watched {
    /// Raised (a count) on every change below the directory.
    changes: watch::Sender<u64>,
    /// Subscriptions alive.
    users: usize,
}

/// A session's interest in an account's changes; the watch ends with the
/// last subscription.
pub struct Subscription {
    watcher: Arc<Watcher>,
    path: PathBuf,
    changes: watch::Receiver<u64>,
}

/// Whether a file event at `path`, below the account directory `root`,
/// can mean that mail changed: a message file arriving in, renamed in or
/// leaving a folder's `new/` or `cur/` (deliveries, flag changes,
/// expunges, by anyone), a folder directory appearing, going or renamed
/// (CREATE, DELETE, RENAME), or the subscriptions file. Lock files,
/// temporary files and index rewrites are not: the store takes locks while
/// it reads (its dot-lock's temporary `.temp.*` file sits beside the
/// folders), and waking on them would wake every session in IDLE for its
/// own reads, for ever.
fn signals_a_change(root: &Path, path: &Path, kind: &EventKind) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    let parts: Vec<&std::ffi::OsStr> = relative.iter().collect();
    let name = |i: usize| parts.get(i).and_then(|p| p.to_str()).unwrap_or("");
    match parts.len() {
        // A folder of the account (Maildir++: `.Name`), or the
        // subscriptions list.
        1 => {
            let folder_event = matches!(
                kind,
                EventKind::Create(CreateKind::Folder)
                    | EventKind::Remove(RemoveKind::Folder)
                    | EventKind::Modify(ModifyKind::Name(_))
            );
            (folder_event && name(0).starts_with('.') && !name(0).starts_with(".temp."))
                || name(0) == "subscriptions"
        }
        // INBOX's messages.
        2 => matches!(name(0), "new" | "cur"),
        // Another folder's messages.
        3 => name(0).starts_with('.') && matches!(name(1), "new" | "cur"),
        _ => false,
    }
}

impl Watcher {
    /// The watcher; without inotify, one that watches nothing.
    pub fn new() -> Arc<Watcher> {
        let accounts: Arc<Mutex<HashMap<PathBuf, Watched>>> = Arc::default();
        let seen = Arc::clone(&accounts);
        let notify = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else {
                return;
            };
            // Reading alone changes nothing.
            if matches!(event.kind, notify::EventKind::Access(_)) {
                return;
            }
            let accounts = seen.lock().unwrap_or_else(|e| e.into_inner());
            for path in &event.paths {
                let Some((root, watched)) = path.ancestors().find_map(|dir| accounts.get_key_value(dir))
                else {
                    continue;
                };
                if signals_a_change(root, path, &event.kind) {
                    watched.changes.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
        });
        let notify = match notify {
            Ok(w) => Some(Mutex::new(w)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch Maildirs; IDLE sessions will poll");
                None
            }
        };
        Arc::new(Watcher {
            notify,
            accounts,
            ops: Mutex::new(()),
        })
    }

    /// Subscribes to the changes below `path` (an account's directory);
    /// `None` when it cannot be watched.
    pub fn subscribe(self: &Arc<Self>, path: &Path) -> Option<Subscription> {
        let notify = self.notify.as_ref()?;
        let joined = |watcher: &Arc<Self>| {
            let mut accounts = watcher.accounts.lock().unwrap_or_else(|e| e.into_inner());
            let watched = accounts.get_mut(path)?;
            watched.users += 1;
            Some(watcher.subscription(path, watched.changes.subscribe()))
        };
        if let Some(joined) = joined(self) {
            return Some(joined);
        }
        let _ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        // Another start may have watched it meanwhile.
        if let Some(joined) = joined(self) {
            return Some(joined);
        }
        // The watcher's thread takes `accounts` to deliver events, and
        // `watch` waits for that thread: never hold both. The path is
        // listed once watched: a watch that fails lists nothing, so the
        // next subscription tries again rather than getting a channel
        // nothing feeds (and an IDLE session would poll slowly).
        let watching = notify
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .watch(path, RecursiveMode::Recursive);
        if let Err(e) = watching {
            tracing::warn!(path = %path.display(), error = %e, "cannot watch; polling instead");
            return None;
        }
        let (sender, receiver) = watch::channel(0);
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).insert(
            path.to_path_buf(),
            Watched {
                changes: sender,
                users: 1,
            },
        );
        Some(self.subscription(path, receiver))
    }
}

impl Watcher {
    fn subscription(self: &Arc<Self>, path: &Path, changes: watch::Receiver<u64>) -> Subscription {
        Subscription {
            watcher: Arc::clone(self),
            path: path.to_path_buf(),
            changes,
        }
    }
}

impl Subscription {
    /// Completes at the next change after the last one seen.
    pub async fn changed(&mut self) {
        if self.changes.changed().await.is_err() {
            // The watch ended (cannot happen while subscribed): wait on.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        {
            let mut accounts = self.watcher.accounts.lock().unwrap_or_else(|e| e.into_inner());
            let Some(watched) = accounts.get_mut(&self.path) else {
                return;
            };
            watched.users -= 1;
            if watched.users > 0 {
                return;
            }
        }
        // The last: the path is unwatched, unless a start joined it since.
        let _ops = self.watcher.ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut accounts = self.watcher.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if accounts.get(&self.path).is_none_or(|w| w.users > 0) {
            return;
        }
        accounts.remove(&self.path);
        // As in `subscribe`: not while holding `accounts`.
        drop(accounts);
        if let Some(notify) = &self.watcher.notify {
            let _ = notify
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .unwatch(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use notify::EventKind;
    use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};

    use super::signals_a_change;

    /// A path that cannot be watched is not listed as watched: the next
    /// subscription tries again; one that can be watched hears of a new
    /// message, also after its subscription ended and another started.
    /// (The races `ops` closes, an end's `unwatch` after a new start's
    /// `watch`, or a start joining one whose watch then failed, need two
    /// threads at the right instants: not shown here.)
    #[tokio::test]
    async fn a_failed_watch_is_not_taken_for_one_and_watches_survive_resubscribing() {
        let watcher = super::Watcher::new();
        assert!(watcher.notify.is_some(), "no file watcher on this system");
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");
        assert!(watcher.subscribe(&missing).is_none());
        assert!(watcher.subscribe(&missing).is_none(), "a failed watch was kept");
        let root = tmp.path().join("alice");
        std::fs::create_dir_all(root.join("new")).unwrap();
        let first = watcher.subscribe(&root).expect("watched");
        drop(first);
        let mut again = watcher.subscribe(&root).expect("watched again");
        std::fs::write(root.join("new/1.M1P1.host"), "x").unwrap();
        tokio::time::timeout(Duration::from_secs(10), again.changed())
            .await
            .expect("the new message is heard of");
    }

    #[test]
    fn only_message_files_folders_and_subscriptions_are_changes() {
        let root = Path::new("/mail/alice/Maildir");
        let file = EventKind::Create(CreateKind::File);
        let folder = EventKind::Create(CreateKind::Folder);
        let renamed = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        for (path, kind, change) in [
            ("new/1.M1P1.host", file, true),
            ("cur/1.M1P1.host:2,S", renamed, true),
            (
                ".Sent/cur/2.M2P2.host:2,",
                EventKind::Remove(RemoveKind::File),
                true,
            ),
            (".Sent", folder, true),
            (".Work.2026", EventKind::Remove(RemoveKind::Folder), true),
            (".Old", renamed, true),
            ("subscriptions", file, true),
            // The dot-lock's temporary file, beside the folders.
            (".temp.vm.5108.a9a23d817d0f4ef1", file, false),
            (
                ".temp.vm.5108.a9a23d817d0f4ef1",
                EventKind::Remove(RemoveKind::File),
                false,
            ),
            (".Sent", EventKind::Modify(ModifyKind::Any), false),
            ("dovecot-uidlist.lock", file, false),
            ("dovecot-uidlist", renamed, false),
            (".Sent/dovecot-uidlist.lock", file, false),
            (".Sent/tmp/3.M3P3.host", file, false),
            ("tmp/3.M3P3.host", file, false),
            ("mailwire-modseq", file, false),
            ("cur", folder, false),
            ("", folder, false),
        ] {
            assert_eq!(
                signals_a_change(root, &root.join(path), &kind),
                change,
                "{path} {kind:?}"
            );
        }
        assert!(!signals_a_change(root, Path::new("/elsewhere/new/1"), &file));
    }
}
