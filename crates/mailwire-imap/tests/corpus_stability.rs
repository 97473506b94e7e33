//! Decode, encode, decode is stable on a corpus of real traffic: the
//! sessions recorded from imaplib, curl and a raw client against Dovecot
//! (tests/traces/imap at the workspace root) and the fuzz seeds. Every
//! message that decodes re-encodes to bytes that decode to the same value,
//! and encoding that value again gives the same bytes.

use std::path::{Path, PathBuf};

use mailwire_imap::{
    DecodeError, Decoded, DecoderConfig, LiteralPolicy, decode_command, decode_response, to_bytes,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path, ext: Option<&str>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)))
        .collect();
    out.sort();
    out
}

/// Walks `input` message by message with `step`, which decodes one message
/// and checks its round trip, returning how many bytes it used; errors
/// skip to where they say. Returns (messages checked, errors).
fn walk(input: &[u8], mut step: impl FnMut(&[u8]) -> Result<Option<usize>, DecodeError>) -> (usize, usize) {
    let (mut at, mut ok, mut errors) = (0, 0, 0);
    while at < input.len() {
        match step(&input[at..]) {
            Ok(Some(n)) => {
                at += n;
                ok += 1;
            }
            Ok(None) => break,
            Err(e) => {
                errors += 1;
                let line_end = input[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(input.len() - at, |i| i + 1);
                at += e.resume_at.filter(|&r| r > 0).unwrap_or(line_end);
            }
        }
    }
    (ok, errors)
}

fn response_round_trip(input: &[u8], config: &DecoderConfig) -> Result<Option<usize>, DecodeError> {
    let Decoded::Complete { value, consumed } = decode_response(input, config)? else {
        return Ok(None);
    };
    let wire = to_bytes(&value.encode());
    let (again, n) = decode_response(&wire, config)
        .unwrap()
        .complete()
        .unwrap_or_else(|| {
            panic!(
                "{:?} re-encodes to an incomplete {:?}",
                value,
                String::from_utf8_lossy(&wire)
            )
        });
    assert_eq!(
        (&again, n),
        (&value, wire.len()),
        "{}",
        String::from_utf8_lossy(&wire)
    );
    assert_eq!(to_bytes(&again.encode()), wire);
    Ok(Some(consumed))
}

fn command_round_trip(input: &[u8], config: &DecoderConfig) -> Result<Option<usize>, DecodeError> {
    let Decoded::Complete { value, consumed } = decode_command(input, config)? else {
        return Ok(None);
    };
    for policy in [LiteralPolicy::SyncOnly, LiteralPolicy::LiteralPlus] {
        let wire = to_bytes(&value.encode(policy));
        let (again, n) = decode_command(&wire, config).unwrap().complete().unwrap();
        assert_eq!(
            (&again, n),
            (&value, wire.len()),
            "{}",
            String::from_utf8_lossy(&wire)
        );
        assert_eq!(to_bytes(&again.encode(policy)), wire);
    }
    Ok(Some(consumed))
}

#[test]
fn recorded_dovecot_sessions() {
    let config = DecoderConfig::default();
    let dir = root().join("tests/traces/imap");
    let (mut responses, mut commands) = (0, 0);
    for path in files(&dir, Some("server")) {
        let bytes = std::fs::read(&path).unwrap();
        let (ok, errors) = walk(&bytes, |i| response_round_trip(i, &config));
        assert_eq!(errors, 0, "{}", path.display());
        responses += ok;
    }
    for path in files(&dir, Some("client")) {
        let bytes = std::fs::read(&path).unwrap();
        // AUTHENTICATE data, DONE and the deliberate unknown command are
        // not commands: a few errors are expected, never a panic.
        let (ok, errors) = walk(&bytes, |i| command_round_trip(i, &config));
        assert!(errors <= 3, "{}: {errors} errors", path.display());
        commands += ok;
    }
    assert!(
        responses > 150 && commands > 60,
        "{responses} responses, {commands} commands"
    );
}

#[test]
fn fuzz_seeds() {
    let seeds = root().join("fuzz/seeds");
    for (target, is_response) in [
        ("imap_command", false),
        ("imap_response", true),
        ("imap_greeting", true),
    ] {
        for path in files(&seeds.join(target), None) {
            let bytes = std::fs::read(&path).unwrap();
            // The first byte selects the fuzzer's leniency; the lenient
            // default covers them all.
            let input = &bytes[1..];
            let config = DecoderConfig::default();
            if is_response {
                walk(input, |i| response_round_trip(i, &config));
            } else {
                walk(input, |i| command_round_trip(i, &config));
            }
        }
    }
}
