//! The example's Maildir delivery and UIDL state file, on their own.

use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::maildir::{
    Compared, CrlfToLf, LOCK_FILE_NAME, LineEnds, Maildir, TMP_PREFIX, adopts_unported_state, base_name,
    create_new_file, message_name, state_file_name, unported_state_file_name,
};
use crate::state::{MAGIC, MAGIC_V1, UidlState, is_valid_uidl};

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mailwire-pop3-client-unit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The names in a Maildir's `tmp/`.
fn tmp_names(root: &std::path::Path) -> Vec<String> {
    fs::read_dir(root.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A naive CRLF-to-LF conversion of a whole buffer.
fn naive_lf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in data.iter().enumerate() {
        if !(b == b'\r' && data.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

#[test]
fn crlf_to_lf_agrees_with_a_whole_buffer_conversion_at_every_split() {
    let inputs: [&[u8]; 6] = [
        b"a\r\nb\r\n",
        b"\r\r\n\r",
        b"\r",
        b"x\ry\r\n\n\r\r\r\nz",
        b"",
        b"no line ends at all",
    ];
    for input in inputs {
        let expected = naive_lf(input);
        for split in 0..=input.len() {
            for second_split in split..=input.len() {
                let mut converter = CrlfToLf::default();
                let mut out = Vec::new();
                converter.push(&input[..split], &mut out);
                converter.push(&input[split..second_split], &mut out);
                converter.push(&input[second_split..], &mut out);
                converter.finish(&mut out);
                assert_eq!(out, expected, "{input:?} split at {split} and {second_split}");
            }
        }
    }
}

#[test]
fn names_depend_on_host_user_uidl_and_size_only() {
    let size = Some(1234);
    let name = message_name("Pop.Example.Test", b"bob", "0000000160000000", size);
    assert_eq!(
        name,
        message_name("pop.example.test", b"bob", "0000000160000000", size)
    );
    assert_ne!(
        name,
        message_name("pop.example.test", b"bob", "0000000260000000", size)
    );
    assert_ne!(
        name,
        message_name("pop.example.test", b"alice", "0000000160000000", size)
    );
    assert_ne!(
        name,
        message_name("other.example.test", b"bob", "0000000160000000", size)
    );
    // A reused UIDL with another size gets another name, and so does the
    // name without a size (the one earlier versions gave).
    assert_ne!(
        name,
        message_name("pop.example.test", b"bob", "0000000160000000", Some(1235))
    );
    assert_ne!(
        name,
        message_name("pop.example.test", b"bob", "0000000160000000", None)
    );
    // Parts are length-prefixed: moving bytes between them changes the hash.
    assert_ne!(
        message_name("ab", b"c", "d", None),
        message_name("a", b"bc", "d", None)
    );
    assert_ne!(
        message_name("h", b"u", "d1", Some(2)),
        message_name("h", b"u", "d", Some(12))
    );
    assert!(name.starts_with("mailwire-"));
    assert_eq!(name.len(), "mailwire-".len() + 32);
    assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));

    let state = state_file_name("pop.example.test", 995, b"bob");
    assert!(state.starts_with(".mailwire-uidl-"));
    assert_ne!(state, state_file_name("pop.example.test", 995, b"alice"));
    assert_ne!(state, state_file_name("pop.example.test", 110, b"bob"));
    assert_ne!(state, state_file_name("pop.example.test", 9951, b"bob"));
    assert_eq!(state, state_file_name("POP.example.test", 995, b"bob"));
    // The name earlier versions gave it (no port) is another one; it must
    // stay what they computed (the SHA-256 of the same input, written out
    // with Python's hashlib) or it is never found.
    let unported = unported_state_file_name("pop.example.test", b"bob");
    assert_ne!(state, unported);
    assert_eq!(unported, ".mailwire-uidl-06b0beba161f23b3");
    assert!(adopts_unported_state(110) && adopts_unported_state(995));
    assert!(!adopts_unported_state(1110) && !adopts_unported_state(9995));
}

#[test]
fn base_names_drop_maildir_info_and_size_fields() {
    assert_eq!(base_name("mailwire-abc"), "mailwire-abc");
    assert_eq!(base_name("mailwire-abc:2,S"), "mailwire-abc");
    assert_eq!(base_name("mailwire-abc,S=120:2,RS"), "mailwire-abc");
}

#[test]
fn delivery_goes_through_tmp_and_never_replaces_a_message() {
    let dir = TempDir::new();
    let root = dir.0.join("a/b/Maildir");
    let maildir = Maildir::open_or_create(&root).unwrap();
    for sub in ["cur", "new", "tmp"] {
        assert!(root.join(sub).is_dir());
    }
    let name = message_name("h", b"u", "uid1", Some(25));

    let mut incoming = maildir.begin(&name, LineEnds::Lf).unwrap();
    incoming.write(b"Subject: x\r\n\r\nbody\r").unwrap();
    let in_tmp = tmp_names(&root);
    assert_eq!(in_tmp.len(), 1, "{in_tmp:?}");
    assert!(in_tmp[0].starts_with(TMP_PREFIX), "{in_tmp:?}");
    assert!(!root.join("new").join(&name).exists());
    incoming.write(b"\nend\r\n").unwrap();
    assert_eq!(incoming.received(), 25);
    let path = root.join("new").join(&name);
    assert_eq!(incoming.commit().unwrap(), Compared::Stored(path.clone()));
    assert_eq!(fs::read(&path).unwrap(), b"Subject: x\n\nbody\nend\n");
    assert!(!root.join("tmp").join(&name).exists());

    // A second delivery under the same name keeps the first message and
    // is compared with it: another message is stored beside it (under
    // its name and a hash of its content), the same one is not stored
    // again. A name alone never counts as the message.
    let mut again = maildir.begin(&name, LineEnds::Crlf).unwrap();
    again.write(b"other\r\n").unwrap();
    let Compared::Stored(beside) = again.commit().unwrap() else {
        panic!("another message under a name already used was not stored")
    };
    assert!(
        beside
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("{name}-"))
    );
    assert_eq!(fs::read(&beside).unwrap(), b"other\r\n");
    assert_eq!(fs::read(&path).unwrap(), b"Subject: x\n\nbody\nend\n");
    let mut same = maildir.begin(&name, LineEnds::Lf).unwrap();
    same.write(b"Subject: x\r\n\r\nbody\r\nend\r\n").unwrap();
    assert_eq!(same.commit().unwrap(), Compared::Same);
    let mut other_again = maildir.begin(&name, LineEnds::Crlf).unwrap();
    other_again.write(b"other\r\n").unwrap();
    assert_eq!(other_again.commit().unwrap(), Compared::Same);
    assert_eq!(fs::read_dir(root.join("new")).unwrap().count(), 2);
    assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    fs::remove_file(&beside).unwrap();

    // A reader moved it to cur/ and flagged it: still recognised.
    fs::rename(&path, root.join("cur").join(format!("{name}:2,S"))).unwrap();
    let other = message_name("h", b"u", "uid2", None);
    let mut incoming = maildir.begin(&other, LineEnds::Crlf).unwrap();
    incoming.write(b"kept\r\nas is\r\n").unwrap();
    incoming.commit().unwrap();
    fs::write(root.join("new").join("1700000000.foreign.host"), b"x").unwrap();
    let names = maildir.existing_messages().unwrap();
    assert_eq!(names.len(), 2);
    assert!(names.contains_key(&name) && names.contains_key(&other));
    assert_eq!(
        fs::read(root.join("new").join(&other)).unwrap(),
        b"kept\r\nas is\r\n"
    );

    // Discarded messages leave nothing behind, nor do messages given up
    // (dropped: a run that fails in the middle of one).
    let third = message_name("h", b"u", "uid3", Some(7));
    let mut incoming = maildir.begin(&third, LineEnds::Lf).unwrap();
    incoming.write(b"partial").unwrap();
    incoming.discard().unwrap();
    assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    let mut incoming = maildir.begin(&third, LineEnds::Lf).unwrap();
    incoming.write(&vec![b'x'; 200_000]).unwrap();
    assert_eq!(tmp_names(&root).len(), 1);
    drop(incoming);
    assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    assert!(!maildir.existing_messages().unwrap().contains_key(&third));
}

/// A message that grew past its LIST size is refused, but its end is
/// still read: what comes after the point where it was known to be
/// refused is not written, and the file is emptied.
#[test]
fn a_message_past_its_size_is_no_longer_written() {
    let dir = TempDir::new();
    let root = dir.0.join("Maildir");
    let maildir = Maildir::open_or_create(&root).unwrap();
    let name = message_name("h", b"u", "uid1", Some(10));
    let mut incoming = maildir.begin(&name, LineEnds::Crlf).unwrap();
    incoming.write(&[b'x'; 100_000]).unwrap();
    assert!(incoming.storing());
    incoming.stop_storing().unwrap();
    for _ in 0..50 {
        incoming.write(&[b'y'; 100_000]).unwrap();
    }
    assert_eq!(incoming.received(), 5_100_000);
    let tmp = root.join("tmp").join(&tmp_names(&root)[0]);
    assert_eq!(fs::metadata(&tmp).unwrap().len(), 0);
    assert!(
        incoming.commit().is_err(),
        "a message not written whole was stored"
    );
    assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(root.join("new")).unwrap().count(), 0);
}

#[test]
fn state_round_trips_and_rejects_damage() {
    let dir = TempDir::new();
    let path = dir.0.join(".mailwire-uidl-test");
    let mut state = UidlState::load(path.clone(), "test account\nwith a line break").unwrap();
    assert_eq!(state.len(), 0);
    // Nothing changed: nothing written.
    state.save().unwrap();
    assert!(!path.exists());

    for (uidl, size) in [("b", Some(20)), ("a", Some(10)), ("c", None), ("a", Some(10))] {
        state.insert(uidl, size);
    }
    state.save().unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        format!("{MAGIC}\n# test account with a line break\na 10\nb 20\nc\n")
    );
    assert!(!dir.0.join(".mailwire-uidl-test.tmp").exists());

    let mut loaded = UidlState::load(path.clone(), "test account").unwrap();
    assert_eq!(loaded.len(), 3);
    assert_eq!(loaded.size("a"), Some(Some(10)));
    assert_eq!(loaded.size("b"), Some(Some(20)));
    assert_eq!(loaded.size("c"), Some(None));
    assert_eq!(loaded.size("d"), None);
    loaded.retain(|u| u != "b");
    loaded.remove("c");
    // A new size replaces the old one.
    loaded.insert("a", Some(11));
    loaded.save().unwrap();
    let reloaded = UidlState::load(path.clone(), "test account").unwrap();
    assert_eq!(reloaded.len(), 1);
    assert_eq!(reloaded.size("a"), Some(Some(11)));

    fs::write(&path, "something else\na\n").unwrap();
    let error = UidlState::load(path.clone(), "x").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidData);
    fs::write(&path, format!("{MAGIC}\nok\nhas space\n")).unwrap();
    let error = UidlState::load(path.clone(), "x").unwrap_err();
    assert!(error.to_string().contains("line 3"), "{error}");
    for bad in ["a -1", "a +1", "a 1 2", "a ", "a 99999999999999999999"] {
        fs::write(&path, format!("{MAGIC}\n{bad}\n")).unwrap();
        let error = UidlState::load(path.clone(), "x").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{bad:?}: {error}");
    }
}

#[test]
fn state_files_of_version_1_are_read_and_rewritten_with_sizes() {
    let dir = TempDir::new();
    let path = dir.0.join(".mailwire-uidl-old");
    fs::write(&path, format!("{MAGIC_V1}\n# an old account\nu1\nu2\n")).unwrap();
    let mut state = UidlState::load(path.clone(), "an old account").unwrap();
    assert_eq!(state.len(), 2);
    assert_eq!(state.size("u1"), Some(None));
    assert_eq!(state.size("u2"), Some(None));
    state.insert("u1", Some(300));
    state.save().unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{MAGIC}\n# an old account\nu1 300\nu2\n")
    );
    // Version 1 has no sizes: a line with a space is damage there.
    fs::write(&path, format!("{MAGIC_V1}\nu1 300\n")).unwrap();
    assert!(UidlState::load(path, "x").is_err());
}

#[test]
fn a_state_file_without_the_port_is_taken_over_only_when_there_is_no_other() {
    let dir = TempDir::new();
    let path = dir.0.join(".mailwire-uidl-new");
    let earlier = dir.0.join(".mailwire-uidl-earlier");

    // Neither file: empty, nothing adopted.
    let state = UidlState::load_or_adopt(path.clone(), Some(earlier.clone()), "c").unwrap();
    assert_eq!((state.len(), state.adopted()), (0, false));

    // Only the earlier one: its records, saved under the new name.
    fs::write(&earlier, format!("{MAGIC}\nu1 300\nu2\n")).unwrap();
    let mut state = UidlState::load_or_adopt(path.clone(), Some(earlier.clone()), "c").unwrap();
    assert!(state.adopted());
    assert_eq!(state.path(), path.as_path());
    assert_eq!(
        (state.size("u1"), state.size("u2")),
        (Some(Some(300)), Some(None))
    );
    state.save().unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{MAGIC}\n# c\nu1 300\nu2\n")
    );

    // Once the new file exists, it alone counts.
    fs::write(&earlier, format!("{MAGIC}\nu3 1\n")).unwrap();
    let state = UidlState::load_or_adopt(path.clone(), Some(earlier.clone()), "c").unwrap();
    assert!(!state.adopted());
    assert_eq!((state.len(), state.size("u3")), (2, None));

    // Without an earlier name (another port) only the new file counts.
    fs::remove_file(&path).unwrap();
    let state = UidlState::load_or_adopt(path.clone(), None, "c").unwrap();
    assert_eq!((state.len(), state.adopted()), (0, false));

    // A damaged earlier file is an error, as a damaged state file is.
    fs::write(
        &earlier,
        "not a state file
",
    )
    .unwrap();
    assert!(UidlState::load_or_adopt(path, Some(earlier), "c").is_err());
}

#[cfg(unix)]
#[test]
fn planted_links_are_never_followed() {
    use std::os::unix::fs::symlink;
    let dir = TempDir::new();
    let victim = dir.0.join("victim");
    fs::write(&victim, b"precious").unwrap();
    let nowhere = dir.0.join("nowhere");
    let root = dir.0.join("Maildir");
    let maildir = Maildir::open_or_create(&root).unwrap();

    // At the very name: refused, the target untouched or not created.
    let link = root.join("tmp").join("link");
    symlink(&victim, &link).unwrap();
    assert_eq!(
        create_new_file(&link).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    let dangling = root.join("tmp").join("dangling");
    symlink(&nowhere, &dangling).unwrap();
    assert!(create_new_file(&dangling).is_err());
    assert!(!nowhere.exists());

    // Links in tmp/ at the names an earlier version wrote to (the
    // message's own name), and in new/ at the message's name: delivery
    // goes around them, never writes through them, and a link is never
    // taken for the message. (A file in tmp/ gets a fresh name made with
    // `create_new_file`, refused at a link above.)
    let name = message_name("h", b"u", "uid1", Some(6));
    for planted in [name.clone(), message_name("h", b"u", "uid1", None)] {
        symlink(&victim, root.join("tmp").join(planted)).unwrap();
    }
    symlink(&victim, root.join("new").join(&name)).unwrap();
    let victim_before = fs::read(&victim).unwrap();
    let mut incoming = maildir.begin(&name, LineEnds::Crlf).unwrap();
    incoming.write(b"a\r\nb\r\n").unwrap();
    let Compared::Stored(stored) = incoming.commit().unwrap() else {
        panic!("a link at the message's name was taken for the message")
    };
    assert_ne!(stored, root.join("new").join(&name));
    assert_eq!(fs::read(&stored).unwrap(), b"a\r\nb\r\n");
    assert!(!fs::symlink_metadata(&stored).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(&victim).unwrap(), victim_before);

    // The state file's temporary name.
    let state_path = root.join(".mailwire-uidl-x");
    symlink(&victim, root.join(".mailwire-uidl-x.tmp")).unwrap();
    let mut state = UidlState::load(state_path.clone(), "x").unwrap();
    state.insert("uid1", Some(6));
    state.save().unwrap();
    assert!(fs::read_to_string(&state_path).unwrap().contains("uid1 6"));
    assert!(!root.join(".mailwire-uidl-x.tmp").exists());

    // The lock file: refused rather than followed.
    symlink(&nowhere, root.join(LOCK_FILE_NAME)).unwrap();
    assert!(maildir.lock().is_err());
    assert!(!nowhere.exists());

    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[cfg(unix)]
#[test]
fn the_lock_admits_one_holder_and_cleaning_tmp_spares_others_files() {
    use std::os::unix::fs::symlink;
    let dir = TempDir::new();
    let root = dir.0.join("Maildir");
    let maildir = Maildir::open_or_create(&root).unwrap();
    let first = maildir.lock().unwrap();
    // flock locks belong to the open file, so a second opening conflicts
    // even within one process.
    let error = maildir.lock().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock, "{error}");
    let again = Maildir::open_or_create(&root).unwrap();
    assert_eq!(again.lock().unwrap_err().kind(), ErrorKind::WouldBlock);
    drop(first);
    let second = again.lock().unwrap();
    assert!(root.join(LOCK_FILE_NAME).is_file());

    // What killed runs left in tmp/ goes; other writers' files stay, and a
    // link is removed, not its target.
    let victim = dir.0.join("victim");
    fs::write(&victim, b"precious").unwrap();
    let tmp = root.join("tmp");
    fs::write(tmp.join(format!("{TMP_PREFIX}1.M2P3Q4")), b"partial").unwrap();
    symlink(&victim, tmp.join(format!("{TMP_PREFIX}link"))).unwrap();
    fs::write(tmp.join("1700000000.M1P1Q1.other-agent"), b"theirs").unwrap();
    fs::create_dir(tmp.join(format!("{TMP_PREFIX}dir"))).unwrap();
    assert_eq!(maildir.remove_stale_temp_files().unwrap(), 2);
    let mut left = tmp_names(&root);
    left.sort();
    assert_eq!(
        left,
        vec![
            "1700000000.M1P1Q1.other-agent".to_owned(),
            format!("{TMP_PREFIX}dir")
        ]
    );
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    drop(second);
}

#[test]
fn uidl_validity_follows_rfc_1939() {
    assert!(is_valid_uidl("!"));
    assert!(is_valid_uidl(&"~".repeat(70)));
    assert!(!is_valid_uidl(""));
    assert!(!is_valid_uidl(&"a".repeat(71)));
    assert!(!is_valid_uidl("a b"));
    assert!(!is_valid_uidl("é"));
}
