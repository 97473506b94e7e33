"""One imaplib run against an IMAP server, for tests/mail_server.

usage: imaplib_session.py MODE HOST PORT USER PASSWORD CAFILE
MODE is plain (LOGIN without TLS), starttls (STARTTLS first) or imaps
(implicit TLS); CAFILE is the certificate to trust for starttls and imaps.
The account's INBOX holds the sample messages and nothing else.

Prints one result per line: KEY<TAB>VALUE, message bytes as hex. A command
that fails prints `ERROR <reason>` as its value and the run goes on, so
the test reports every wrong answer at once.
"""

import imaplib
import ssl
import sys
import time

mode, host, port, user, password, cafile = sys.argv[1:7]
port = int(port)
context = None if mode == "plain" else ssl.create_default_context(cafile=cafile)
imaplib.Commands.setdefault("IDLE", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))


def out(key, value):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    print(f"{key}\t{value}".replace("\r", "\\r").replace("\n", "\\n"), flush=True)


def step(key, fn):
    """Runs fn, prints what it returns, or the error; returns it (None on error)."""
    try:
        value = fn()
    except Exception as e:  # noqa: BLE001 - every failure is a result here
        out(key, f"ERROR {type(e).__name__}: {e}")
        return None
    out(key, value)
    return value


def connect():
    if mode == "imaps":
        return imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=30)
    client = imaplib.IMAP4(host, port, timeout=30)
    if mode == "starttls":
        typ, _ = client.starttls(context)
        out("starttls", typ)
    return client


def ok(result):
    """typ and data of a command, or an exception when it is not OK."""
    typ, data = result
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{typ} {data!r}")
    return data


def joined(data):
    return " | ".join(
        (d if isinstance(d, bytes) else b" ".join(d)).decode("utf-8", "replace") for d in data if d is not None
    )


def literal(data):
    """The literal of the first FETCH answer that has one."""
    for d in data:
        if isinstance(d, tuple):
            return d[1]
    raise imaplib.IMAP4.error(f"no literal in {data!r}")


def plain_items(data):
    """The FETCH answers without literals, as text."""
    return " | ".join(d.decode("utf-8", "replace") for d in data if isinstance(d, bytes) and d != b")")


def result(answer):
    """A command's status and data, whatever the status."""
    typ, data = answer
    return f"{typ} {joined(data)}"


def has(client, name):
    """Whether an untagged answer or response code of that name arrived."""
    present = name in client.untagged_responses
    client.response(name)
    return "yes" if present else "no"


def untagged(client, name):
    """Takes the untagged answers (or response codes) of that name."""
    _, data = client.response(name)
    return joined(data)


# A wrong password first: refused with a response code.
client = connect()
out("capability_before", " ".join(client.capabilities))
try:
    client.login(user, "wrong-" + password)
    out("wrong_login", "accepted")
except imaplib.IMAP4.error as e:
    out("wrong_login", str(e))
step("logout_wrong", lambda: client.logout()[0])

# AUTHENTICATE PLAIN.
client = connect()
step("authenticate", lambda: client.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())[0])
step("authenticated_noop", lambda: client.noop()[0])
step("authenticated_logout", lambda: client.logout()[0])

# The main session.
client = connect()
step("login", lambda: joined(ok(client.login(user, password))))
step("capability", lambda: joined(ok(client.capability())))
step("enable", lambda: joined(ok(client.enable("CONDSTORE"))))
step("enabled", lambda: untagged(client, "ENABLED"))
step("namespace", lambda: joined(ok(client.namespace())))
step("noop", lambda: client.noop()[0])
step("list_root", lambda: joined(ok(client.list('""', '""'))))
step("list_initial", lambda: joined(ok(client.list())))
step("create_archive", lambda: client.create("Archive")[0])
step("create_nested", lambda: client.create("Projects/2026")[0])
step("create_existing", lambda: result(client.create("Archive")))
step("list_after_create", lambda: joined(ok(client.list('""', "*"))))
step("list_percent", lambda: joined(ok(client.list('""', "%"))))
step("subscribe", lambda: client.subscribe("Archive")[0])
step("lsub_subscribed", lambda: joined(ok(client.lsub('""', "*"))))
step("unsubscribe", lambda: client.unsubscribe("Archive")[0])
step("lsub_unsubscribed", lambda: joined(ok(client.lsub('""', "*"))))
step("rename", lambda: client.rename("Projects/2026", "Projects/2027")[0])
step("list_after_rename", lambda: joined(ok(client.list('""', "Projects/*"))))
step("delete", lambda: client.delete("Projects/2027")[0])
step("list_after_delete", lambda: joined(ok(client.list('""', "Projects/*"))))
step("delete_missing", lambda: result(client.delete("No-such-mailbox")))
step(
    "status_inbox",
    lambda: joined(ok(client.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ)"))),
)


def list_status():
    typ, data = client._simple_command("LIST", '""', "*", "RETURN", "(STATUS (MESSAGES))")
    ok((typ, data))
    return untagged(client, "LIST") + " || " + untagged(client, "STATUS")


step("list_status", list_status)

# EXAMINE: read-only, fetching does not set \Seen.
count = step("examine", lambda: int(ok(client.select("INBOX", readonly=True))[0]))
step("examine_read_only", lambda: has(client, "READ-ONLY"))
step("examine_fetch_body", lambda: literal(ok(client.fetch("1", "(BODY[])"))).hex())
step("examine_flags_after", lambda: plain_items(ok(client.fetch("1", "(FLAGS)"))))
step("unselect_examined", lambda: client.unselect()[0])

# SELECT.
count = step("select", lambda: int(ok(client.select("INBOX"))[0]))
step("select_read_write", lambda: has(client, "READ-WRITE"))
step("select_uidvalidity", lambda: untagged(client, "UIDVALIDITY"))
step("select_permanentflags", lambda: untagged(client, "PERMANENTFLAGS"))
step("select_highestmodseq", lambda: untagged(client, "HIGHESTMODSEQ"))
step("select_flags", lambda: untagged(client, "FLAGS"))
uids = step("uid_search_all", lambda: joined(ok(client.uid("SEARCH", "ALL")))) or ""
for n in range(1, (count or 0) + 1):
    step(f"peek {n}", lambda: literal(ok(client.fetch(str(n), "(BODY.PEEK[])"))).hex())
    step(f"header {n}", lambda: literal(ok(client.fetch(str(n), "(BODY.PEEK[HEADER])"))).hex())
    step(f"binary {n}", lambda: literal(ok(client.fetch(str(n), "(BINARY.PEEK[])"))).hex())
    step(f"attributes {n}", lambda: plain_items(ok(client.fetch(str(n), "(UID RFC822.SIZE INTERNALDATE FLAGS)"))))
    step(f"bodystructure {n}", lambda: plain_items(ok(client.fetch(str(n), "(BODYSTRUCTURE)"))))
    step(f"envelope {n}", lambda: plain_items(ok(client.fetch(str(n), "(ENVELOPE)"))))
step("flags_after_peek", lambda: plain_items(ok(client.fetch("1:*", "(FLAGS)"))))
step("fetch_body_1", lambda: literal(ok(client.fetch("1", "(BODY[])"))).hex())
step("flags_after_body", lambda: plain_items(ok(client.fetch("1", "(FLAGS)"))))
first_uid = uids.split()[0] if uids.split() else "1"
step("uid_fetch_first", lambda: literal(ok(client.uid("FETCH", first_uid, "(BODY.PEEK[])"))).hex())

# STORE: system flags and keywords.
step("store_add", lambda: plain_items(ok(client.store("2", "+FLAGS", "(\\Flagged $Label1)"))))
step("store_remove", lambda: plain_items(ok(client.store("2", "-FLAGS", "(\\Flagged)"))))
step("flags_after_store", lambda: plain_items(ok(client.fetch("2", "(FLAGS)"))))
step("uid_store", lambda: plain_items(ok(client.uid("STORE", first_uid, "+FLAGS", "(\\Answered)"))))

# SEARCH.
step("search_all", lambda: joined(ok(client.search(None, "ALL"))))
step("search_subject", lambda: joined(ok(client.search(None, "SUBJECT", '"Dots everywhere"'))))
step("search_keyword", lambda: joined(ok(client.search(None, "KEYWORD", "$Label1"))))
step("search_body", lambda: joined(ok(client.search(None, "BODY", '"leading dot"'))))
step("search_larger", lambda: joined(ok(client.search(None, "LARGER", "100000"))))
step("search_seen", lambda: joined(ok(client.search(None, "SEEN"))))
step("search_unseen", lambda: joined(ok(client.search(None, "UNSEEN"))))
step("search_header", lambda: joined(ok(client.search(None, "HEADER", "Message-ID", '"sample-4@"'))))
step("search_or_not", lambda: joined(ok(client.search(None, "OR", "SUBJECT", "Plain", "NOT", "SMALLER", "100000"))))
step("uid_search_subject", lambda: joined(ok(client.uid("SEARCH", "SUBJECT", "Large"))))


def esearch():
    typ, data = client._simple_command("UID", "SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
    ok((typ, data))
    return untagged(client, "ESEARCH")


step("esearch", esearch)

# CONDSTORE (enabled above).
modseqs = step("fetch_modseq", lambda: plain_items(ok(client.fetch("1:*", "(MODSEQ)"))))


def modseq_of_3():
    import re

    for item in (modseqs or "").split(" | "):
        m = re.match(r"3 \(.*MODSEQ \((\d+)\)", item)
        if m:
            return int(m.group(1))
    raise imaplib.IMAP4.error(f"no MODSEQ for message 3 in {modseqs!r}")


old = step("modseq_3", modseq_of_3)
if old is not None:
    client.response("MODIFIED")
    step(
        "store_unchangedsince_ok",
        lambda: plain_items(ok(client.store("3", f"(UNCHANGEDSINCE {old}) +FLAGS", "(\\Draft)"))),
    )
    step("modified_after_ok", lambda: has(client, "MODIFIED"))
    step("modseq_3_after", lambda: plain_items(ok(client.fetch("3", "(MODSEQ)"))))
    step(
        "store_unchangedsince_stale",
        lambda: plain_items(ok(client.store("3", f"(UNCHANGEDSINCE {old}) -FLAGS", "(\\Draft)"))),
    )
    step("modified_after_stale", lambda: untagged(client, "MODIFIED"))
    step("flags_3_after_stale", lambda: plain_items(ok(client.fetch("3", "(FLAGS)"))))

# COPY and MOVE into Archive.
client.response("COPYUID")
step("copy", lambda: client.copy("1:2", "Archive")[0])
step("copy_copyuid", lambda: untagged(client, "COPYUID"))
step("status_archive_after_copy", lambda: joined(ok(client.status("Archive", "(MESSAGES)"))))
all_uids = uids.split()
third_uid = all_uids[2] if len(all_uids) > 2 else "3"
client.response("EXPUNGE")
step("move", lambda: client.uid("MOVE", third_uid, "Archive")[0])
step("move_expunge", lambda: untagged(client, "EXPUNGE"))
step("move_copyuid", lambda: untagged(client, "COPYUID"))
step("status_inbox_after_move", lambda: joined(ok(client.status("INBOX", "(MESSAGES)"))))
step("copy_missing", lambda: result(client.copy("1", "No-such-mailbox")))

# APPEND with flags and a date, then read back.
appended = (
    b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Appended\r\n"
    b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <appended-1@mailwire.test>\r\n\r\n"
    b"Uploaded by imaplib.\r\n.\r\nwith a dot line.\r\n"
)
out("appended_message", appended.hex())
client.response("APPENDUID")
step(
    "append",
    lambda: client.append("Archive", "(\\Seen $Appended)", '"23-Nov-2026 09:00:00 +0000"', appended)[0],
)
step("append_appenduid", lambda: untagged(client, "APPENDUID"))
step("append_missing", lambda: result(client.append("No-such-mailbox", None, None, appended)))

# Archive: what COPY, MOVE and APPEND put there.
archive_count = step("select_archive", lambda: int(ok(client.select("Archive"))[0]))
for n in range(1, (archive_count or 0) + 1):
    step(f"archive {n}", lambda: literal(ok(client.fetch(str(n), "(BODY.PEEK[])"))).hex())
    step(f"archive_attributes {n}", lambda: plain_items(ok(client.fetch(str(n), "(FLAGS INTERNALDATE)"))))

# EXPUNGE, CLOSE, UNSELECT.
step("store_deleted_1", lambda: plain_items(ok(client.store("1", "+FLAGS", "(\\Deleted)"))))
client.response("EXPUNGE")
step("expunge", lambda: joined(ok(client.expunge())))
step("noop_after_expunge", lambda: client.noop()[0])
step("status_archive_after_expunge", lambda: joined(ok(client.status("Archive", "(MESSAGES)"))))
step("store_deleted_again", lambda: plain_items(ok(client.store("1", "+FLAGS", "(\\Deleted)"))))
step("unselect", lambda: client.unselect()[0])
step("status_archive_after_unselect", lambda: joined(ok(client.status("Archive", "(MESSAGES)"))))
step("select_archive_again", lambda: int(ok(client.select("Archive"))[0]))
step("close", lambda: client.close()[0])
step("status_archive_after_close", lambda: joined(ok(client.status("Archive", "(MESSAGES)"))))

# UID COPY into a new mailbox, then UID EXPUNGE (UIDPLUS) of one of two
# deleted messages there.
step("create_copies", lambda: client.create("Copies")[0])
step("select_inbox_for_copy", lambda: int(ok(client.select("INBOX"))[0]))
client.response("COPYUID")
step("uid_copy", lambda: client.uid("COPY", "1:*", "Copies")[0])
step("uid_copy_copyuid", lambda: untagged(client, "COPYUID"))
step("select_copies", lambda: int(ok(client.select("Copies"))[0]))
copies = (step("copies_uids", lambda: joined(ok(client.uid("SEARCH", "ALL")))) or "").split()
step("copies_deleted", lambda: plain_items(ok(client.store("1:2", "+FLAGS", "(\\Deleted)"))))
client.response("EXPUNGE")
step("uid_expunge", lambda: client.uid("EXPUNGE", copies[0] if copies else "1")[0])
step("uid_expunge_expunged", lambda: untagged(client, "EXPUNGE"))
step("copies_uids_after", lambda: joined(ok(client.uid("SEARCH", "ALL"))))

# IDLE in INBOX while another session appends there.
step("select_for_idle", lambda: int(ok(client.select("INBOX"))[0]))


def idle():
    tag = client._new_tag()
    client.send(tag + b" IDLE\r\n")
    continuation = client.readline()
    if not continuation.startswith(b"+"):
        raise imaplib.IMAP4.error(f"IDLE answered {continuation!r}")
    other = connect()
    other.login(user, password)
    ok(other.append("INBOX", None, None, appended.replace(b"appended-1", b"appended-2")))
    other.logout()
    seen = []
    deadline = time.time() + 20
    while time.time() < deadline:
        line = client.readline()
        if not line:
            break
        seen.append(line.strip())
        if line.rstrip().endswith(b"EXISTS"):
            break
    client.send(b"DONE\r\n")
    while True:
        line = client.readline()
        if not line:
            break
        if line.startswith(tag):
            seen.append(line.strip())
            break
        seen.append(line.strip())
    return b" | ".join(seen)


step("idle", idle)
step("noop_after_idle", lambda: client.noop()[0])
step("logout", lambda: client.logout()[0])

# Another session: sections, partial FETCH, SEARCHRES, ID, STATUS of a
# missing mailbox, and RENAME INBOX last (it empties the INBOX).
client = connect()
step("id", lambda: (ok(client._simple_command("ID", "NIL")), untagged(client, "ID"))[1])
step("second_login", lambda: client.login(user, password)[0])
extra_count = step("second_select", lambda: int(ok(client.select("INBOX"))[0]))
for n in range(1, (extra_count or 0) + 1):
    step(f"whole {n}", lambda: literal(ok(client.fetch(str(n), "(BODY.PEEK[])"))).hex())
    step(f"text {n}", lambda: literal(ok(client.fetch(str(n), "(BODY.PEEK[TEXT])"))).hex())
    step(f"part1 {n}", lambda: literal(ok(client.fetch(str(n), "(BODY.PEEK[1])"))).hex())
    step(f"partial {n}", lambda: literal(ok(client.fetch(str(n), "(BODY.PEEK[]<10.20>)"))).hex())
    step(f"binary_size {n}", lambda: plain_items(ok(client.fetch(str(n), "(BINARY.SIZE[1])"))))
step("status_missing", lambda: result(client.status("No-such-mailbox", "(MESSAGES)")))


def searchres():
    ok(client._simple_command("SEARCH", "RETURN", "(SAVE)", "SUBJECT", "Plain"))
    return plain_items(ok(client.fetch("$", "(UID ENVELOPE)")))


step("searchres", searchres)
step("unselect_before_rename", lambda: client.unselect()[0])
step("rename_inbox", lambda: client.rename("INBOX", "Old-inbox")[0])
step("status_inbox_after_rename", lambda: joined(ok(client.status("INBOX", "(MESSAGES)"))))
step("status_old_inbox", lambda: joined(ok(client.status("Old-inbox", "(MESSAGES)"))))
step("second_logout", lambda: client.logout()[0])
