#!/usr/bin/env python3
"""Record real IMAP sessions with Dovecot for the `trace` example's tests.

Run from anywhere as root (or as a user that may start Dovecot and create the
`vmail` system user), with Debian's dovecot-imapd and curl installed:

    python3 tests/traces/record_imap.py

The script starts a private Dovecot on 127.0.0.1 only, on a free port, with a
throw-away configuration and Maildir in a temporary directory; seeds the
mailbox of user `alice` (password `secret`) over a connection that is not
recorded; then runs each session through a recording TCP proxy on 127.0.0.1
and writes the exact bytes of every recorded connection to
tests/traces/imap/NAME.client (client to server) and NAME.server (server to
client). Dovecot is stopped again at the end, whatever happens.

Besides plain IMAP the configuration enables what the extension sessions
exercise: the mailbox list index (NOTIFY), URLAUTH's host and port (this
Dovecot's own), a file dictionary for mailbox
attributes (METADATA), the quota plugin with the count backend (QUOTA), the
acl plugin with vfile (ACL) and imap_zlib (COMPRESS=DEFLATE). Each extension
command is sent only if Dovecot's CAPABILITY offers the extension; a few
commands are sent that Dovecot refuses on purpose.

Nothing but 127.0.0.1 is contacted. Python 3 standard library only.

Environment: MAILWIRE_KEEP_DOVECOT_DIR=1 keeps the temporary directory (with
dovecot.log) for inspection.
"""

import imaplib
import os
import pwd
import random
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "imap")
HOST = "127.0.0.1"
USER, PASSWORD = "alice", "secret"
# Modified UTF-7 (RFC 3501 section 5.1.3) for "Entwürfe".
DRAFTS_UTF7 = "Entw&APw-rfe"

CONFIG = """\
protocols = imap
listen = {host}
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
info_log_path = {tmp}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:{tmp}/mail/%u/Maildir
mailbox_idle_check_interval = 1 secs
# Extensions the extension sessions exercise: the list index (NOTIFY), the
# URLAUTH host and port (URLAUTH), the mail attribute dictionary (METADATA),
# quota with the count backend (QUOTA), ACLs kept in files next to the mails
# (ACL), imap_zlib (COMPRESS=DEFLATE).
mailbox_list_index = yes
imap_urlauth_host = {host}
imap_urlauth_port = {port}
mail_attribute_dict = file:{tmp}/mail/%u/dovecot-attributes
mail_plugins = $mail_plugins quota acl notify
protocol imap {{
  mail_plugins = $mail_plugins imap_quota imap_acl imap_zlib
  imap_metadata = yes
}}
plugin {{
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:storage=10M:messages=1000
  acl = vfile
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
  }}
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox Trash {{
    special_use = \\Trash
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {tmp}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""

# Fixed seed messages (CRLF line ends). Dates are fixed in both the header
# and APPEND's date-time so that the recordings repeat run after run.
MESSAGES = [
    (
        "(\\Seen)",
        '"02-Jan-2024 09:15:00 +0100"',
        b"From: Alice Example <alice@example.org>\r\n"
        b"To: Bob Example <bob@example.net>\r\n"
        b"Subject: Plain hello\r\n"
        b"Date: Tue, 02 Jan 2024 09:15:00 +0100\r\n"
        b"Message-ID: <plain-1@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
        b"Hello Bob,\r\n"
        b"\r\n"
        b"this is a plain text message.\r\n"
        b"-- \r\n"
        b"Alice\r\n",
    ),
    (
        None,
        '"03-Jan-2024 10:30:00 +0000"',
        b"From: Bob Example <bob@example.net>\r\n"
        b"To: Alice Example <alice@example.org>, carol@example.com\r\n"
        b"Cc: \"Dave, the builder\" <dave@example.com>\r\n"
        b"Subject: Report with attachment\r\n"
        b"Date: Wed, 03 Jan 2024 10:30:00 +0000\r\n"
        b"Message-ID: <multi-2@example.net>\r\n"
        b"In-Reply-To: <plain-1@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"outer-boundary\"\r\n"
        b"\r\n"
        b"This is a multi-part message in MIME format.\r\n"
        b"--outer-boundary\r\n"
        b"Content-Type: multipart/alternative; boundary=\"inner-boundary\"\r\n"
        b"\r\n"
        b"--inner-boundary\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"\r\n"
        b"Quarterly report attached.\r\n"
        b"--inner-boundary\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"\r\n"
        b"<html><body><p>Quarterly report <b>attached</b>.</p></body></html>=\r\n"
        b"\r\n"
        b"--inner-boundary--\r\n"
        b"\r\n"
        b"--outer-boundary\r\n"
        b"Content-Type: application/octet-stream; name=\"report.bin\"\r\n"
        b"Content-Disposition: attachment; filename=\"report.bin\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Description: Binary report\r\n"
        b"\r\n"
        b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n"
        b"OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\r\n"
        b"--outer-boundary--\r\n",
    ),
    (
        "(\\Answered $Important)",
        '"04-Jan-2024 18:00:00 +0200"',
        b"From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\r\n"
        b"To: alice@example.org\r\n"
        b"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= =?UTF-8?Q?_=E2=82=AC_100?=\r\n"
        b"Date: Thu, 04 Jan 2024 18:00:00 +0200\r\n"
        b"Message-ID: <encoded-3@example.de>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"\r\n"
        b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln!\r\n",
    ),
    (
        None,
        '"05-Jan-2024 07:45:30 -0500"',
        "From: Zoë Ångström <zoe@example.se>\r\n"
        "To: alice@example.org\r\n"
        "Subject: 8bit body\r\n"
        "Date: Fri, 05 Jan 2024 07:45:30 -0500\r\n"
        "Message-ID: <eightbit-4@example.se>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Smörgåsbord, crème brûlée, naïve café.\r\n"
        "Ελληνικά και 日本語.\r\n".encode("utf-8"),
    ),
]

ARCHIVED = (
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: Alice Example <alice@example.org>\r\n"
    b"Subject: Note to self\r\n"
    b"Date: Sat, 06 Jan 2024 12:00:00 +0000\r\n"
    b"Message-ID: <note-5@example.org>\r\n"
    b"\r\n"
    b"Remember the milk.\r\n"
)


def message(subject, date, body):
    """A small fixed text message."""
    return (
        "From: Alice Example <alice@example.org>\r\n"
        "To: Bob Example <bob@example.net>\r\n"
        "Subject: %s\r\n"
        "Date: %s\r\n"
        "\r\n"
        "%s\r\n" % (subject, date, body)
    ).encode("ascii")


# ---------------------------------------------------------------------------
# Dovecot


def ensure_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
        return pwd.getpwnam(name)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Dovecot:
    """A private Dovecot on 127.0.0.1, started and stopped by this script."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mailwire-traces-")
        self.conf = os.path.join(self.tmp, "dovecot.conf")
        self.port = free_port()
        self.started = False

    def start(self):
        vmail = ensure_user("vmail")
        internal = "dovecot" if _user_exists("dovecot") else "nobody"
        login = "dovenull" if _user_exists("dovenull") else "nobody"
        os.chmod(self.tmp, 0o755)
        for sub in ("run", "state", "mail"):
            os.makedirs(os.path.join(self.tmp, sub))
        os.chown(os.path.join(self.tmp, "mail"), vmail.pw_uid, vmail.pw_gid)
        home = os.path.join(self.tmp, "mail", USER)
        with open(os.path.join(self.tmp, "passwd"), "w") as f:
            f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (USER, PASSWORD, vmail.pw_uid, vmail.pw_gid, home))
        with open(self.conf, "w") as f:
            f.write(
                CONFIG.format(
                    host=HOST,
                    tmp=self.tmp,
                    uid=vmail.pw_uid,
                    gid=vmail.pw_gid,
                    port=self.port,
                    internal_user=internal,
                    login_user=login,
                )
            )
        subprocess.run(["dovecot", "-c", self.conf], check=True)
        self.started = True
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    # Read the greeting so that the login process is fully up.
                    s.settimeout(5)
                    if s.recv(4096).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("dovecot did not start; see %s/dovecot.log" % self.tmp)
            time.sleep(0.1)

    def version(self):
        return subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()

    def stop(self):
        if self.started:
            subprocess.run(["dovecot", "-c", self.conf, "stop"], check=False)
            # Wait for the master to go away before removing its directory.
            pidfile = os.path.join(self.tmp, "run", "master.pid")
            deadline = time.monotonic() + 10
            while os.path.exists(pidfile) and time.monotonic() < deadline:
                time.sleep(0.1)
        if os.environ.get("MAILWIRE_KEEP_DOVECOT_DIR"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# ---------------------------------------------------------------------------
# Recording proxy


class Recorder(threading.Thread):
    """Accept one connection on 127.0.0.1, relay it to Dovecot and keep both directions' bytes."""

    def __init__(self, upstream_port):
        super().__init__(daemon=True)
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((HOST, 0))
        self.listener.listen(1)
        self.listener.settimeout(30)
        self.port = self.listener.getsockname()[1]
        self.client_bytes = bytearray()
        self.server_bytes = bytearray()
        self.error = None

    def run(self):
        try:
            self._relay()
        except Exception as err:  # reported by finish()
            self.error = err
        finally:
            self.listener.close()

    def _relay(self):
        client, _ = self.listener.accept()
        server = socket.create_connection((HOST, self.upstream_port), timeout=30)
        open_from = {client: True, server: True}
        peer = {client: server, server: client}
        record = {client: self.client_bytes, server: self.server_bytes}
        deadline = time.monotonic() + 60
        try:
            while any(open_from.values()):
                if time.monotonic() > deadline:
                    raise RuntimeError("connection still open after 60 s")
                readable, _, _ = select.select([s for s, o in open_from.items() if o], [], [], 1)
                for s in readable:
                    try:
                        data = s.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    if data:
                        record[s] += data
                        peer[s].sendall(data)
                    else:
                        # This side is done sending: pass the half-close on.
                        open_from[s] = False
                        try:
                            peer[s].shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
        finally:
            client.close()
            server.close()

    def finish(self, name):
        self.join(90)
        if self.is_alive():
            sys.exit("%s: the proxy did not finish" % name)
        if self.error is not None:
            sys.exit("%s: proxy failed: %r" % (name, self.error))
        for ext, data in (("client", self.client_bytes), ("server", self.server_bytes)):
            with open(os.path.join(OUT, "%s.%s" % (name, ext)), "wb") as f:
                f.write(data)
        print("recorded %-22s client %6d bytes, server %6d bytes"
              % (name, len(self.client_bytes), len(self.server_bytes)))
        return bytes(self.client_bytes), bytes(self.server_bytes)


def recorded(dovecot, name, session):
    """Run session(port) against a fresh recording proxy and save the capture as NAME.*."""
    recorder = Recorder(dovecot.port)
    recorder.start()
    session(recorder.port)
    return recorder.finish(name)


# ---------------------------------------------------------------------------
# Helpers for imaplib


def connect(port, seed):
    # imaplib draws its tag prefix from `random`: a fixed seed gives fixed tags.
    random.seed(seed)
    return imaplib.IMAP4(HOST, port)


def check(result, what):
    typ, data = result
    if typ != "OK":
        sys.exit("%s failed: %s %r" % (what, typ, data))
    return data


def seed_mailbox(dovecot):
    """Create mailboxes and APPEND the fixed messages over an unrecorded connection."""
    imap = connect(dovecot.port, 1)
    check(imap.login(USER, PASSWORD), "LOGIN")
    for box in ("Archive", "Archive/2024", DRAFTS_UTF7, "Drafts", "Sent", "Trash"):
        check(imap.create(box), "CREATE " + box)
    for box in ("INBOX", "Archive", DRAFTS_UTF7):
        check(imap.subscribe(box), "SUBSCRIBE " + box)
    for flags, date, body in MESSAGES:
        check(imap.append("INBOX", flags, date, body), "APPEND")
    check(imap.append("Archive/2024", "(\\Seen)", '"06-Jan-2024 12:00:00 +0000"', ARCHIVED), "APPEND")
    check(imap.append(DRAFTS_UTF7, "(\\Draft)", '"07-Jan-2024 08:00:00 +0100"',
                      message("Draft", "Sun, 07 Jan 2024 08:00:00 +0100", "Unfinished.")), "APPEND")
    imap.logout()


# ---------------------------------------------------------------------------
# Sessions


def session_imaplib(port):
    # imaplib sends the first CAPABILITY itself, right after the greeting.
    imap = connect(port, 101)
    check(imap.login(USER, PASSWORD), "LOGIN")
    # After LOGIN the capability list grows; imaplib keeps the pre-login list, so ask again.
    caps = check(imap.capability(), "CAPABILITY")[0].split()
    check(imap.namespace(), "NAMESPACE")
    check(imap.list('""', "*"), "LIST")
    check(imap.lsub('""', "*"), "LSUB")
    check(imap.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"), "STATUS")
    check(imap.status(DRAFTS_UTF7, "(MESSAGES RECENT)"), "STATUS")
    check(imap.create("Scratch"), "CREATE")
    check(imap.create("Scratch/Sub"), "CREATE")
    check(imap.rename("Scratch", '"Scratch Renamed"'), "RENAME")
    check(imap.list('""', '"Scratch*"'), "LIST")
    check(imap.delete('"Scratch Renamed/Sub"'), "DELETE")
    check(imap.delete('"Scratch Renamed"'), "DELETE")
    check(imap.subscribe("Archive/2024"), "SUBSCRIBE")
    check(imap.unsubscribe("Archive/2024"), "UNSUBSCRIBE")

    # Two refusals on purpose: a NO with a response code and a BAD.
    typ, data = imap.select("Nonexistent")
    if typ != "NO":
        sys.exit("SELECT of a missing mailbox: %s %r" % (typ, data))
    try:
        imap.xatom("XBOGUS")
        sys.exit("XBOGUS was accepted")
    except imaplib.IMAP4.error:
        pass

    check(imap.select("INBOX"), "SELECT")
    check(imap.fetch("1:*", "(FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)"), "FETCH")
    check(imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])"), "UID FETCH")
    check(imap.uid("FETCH", "2", "(BODY[])"), "UID FETCH")
    check(imap.uid("FETCH", "2", "(BODY[1]<0.10>)"), "UID FETCH")
    check(imap.search(None, 'OR SEEN FROM "alice" SINCE 1-Jan-2020 NOT DELETED'), "SEARCH")
    # A synchronizing literal inside SEARCH, with a charset.
    imap.literal = "Grüße".encode("utf-8")
    check(imap.search("UTF-8", "SUBJECT"), "SEARCH")
    check(imap.uid("SEARCH", "UID 2:* UNSEEN LARGER 100"), "UID SEARCH")
    check(imap.store("1", "+FLAGS", "(\\Flagged)"), "STORE")
    check(imap.uid("STORE", "2", "-FLAGS.SILENT", "(\\Seen)"), "UID STORE")
    check(imap.copy("1:2", "Archive"), "COPY")
    check(imap.append("INBOX", "(\\Seen $Forwarded)", '"08-Jan-2024 16:20:00 +0100"',
                      message("Appended with flags", "Mon, 08 Jan 2024 16:20:00 +0100", "First.")), "APPEND")
    check(imap.append("INBOX", None, '"09-Jan-2024 16:20:00 +0100"',
                      message("Appended second", "Tue, 09 Jan 2024 16:20:00 +0100", "Second.")), "APPEND")
    check(imap.append("INBOX", None, '"10-Jan-2024 16:20:00 +0100"',
                      message("Appended third", "Wed, 10 Jan 2024 16:20:00 +0100", "Third.")), "APPEND")
    check(imap.append("INBOX", None, '"10-Jan-2024 17:20:00 +0100"',
                      message("Appended fourth", "Wed, 10 Jan 2024 17:20:00 +0100", "Fourth.")), "APPEND")
    check(imap.noop(), "NOOP")
    check(imap.check(), "CHECK")
    check(imap.store("5", "+FLAGS", "(\\Deleted)"), "STORE")
    check(imap.expunge(), "EXPUNGE")
    if b"UIDPLUS" in caps:
        check(imap.uid("STORE", "6", "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
        check(imap.uid("EXPUNGE", "6"), "UID EXPUNGE")
    if b"MOVE" in caps:
        check(imap.uid("MOVE", "7", "Archive"), "UID MOVE")
        # Messages 1 to 4 are the seed; the fourth APPEND (UID 8) is now number 5.
        check(imap._simple_command("MOVE", "5", "Trash"), "MOVE")
    check(imap.unselect(), "UNSELECT")

    check(imap.select("Archive", readonly=True), "EXAMINE")
    check(imap.fetch("1:*", "(UID FLAGS)"), "FETCH")
    check(imap.close(), "CLOSE")
    check(imap.noop(), "NOOP")
    imap.logout()


def session_authenticate_idle(dovecot):
    def run(port):
        imap = connect(port, 202)
        check(imap.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (USER, PASSWORD)).encode()),
              "AUTHENTICATE")
        check(imap.select("INBOX"), "SELECT")
        tag = imap._new_tag()
        imap.send(tag + b" IDLE\r\n")
        line = imap.readline()
        if not line.startswith(b"+"):
            sys.exit("IDLE not accepted: %r" % line)
        # Another, unrecorded connection delivers a message while we idle.
        other = connect(dovecot.port, 203)
        check(other.login(USER, PASSWORD), "LOGIN")
        check(other.append("INBOX", None, '"11-Jan-2024 11:11:11 +0000"',
                           message("Arrived during IDLE", "Thu, 11 Jan 2024 11:11:11 +0000", "New.")),
              "APPEND")
        other.logout()
        started = time.monotonic()
        imap.sock.settimeout(10)
        while True:
            line = imap.readline()
            if not line:
                sys.exit("connection closed during IDLE")
            if re.match(rb"\* \d+ EXISTS", line):
                break
        # Stay idle for about a second in all, then leave IDLE.
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        imap.send(b"DONE\r\n")
        while True:
            line = imap.readline()
            if not line:
                sys.exit("connection closed after DONE")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    sys.exit("IDLE ended with %r" % line)
                break
        # The tag was taken by hand: tell imaplib it is done with it.
        imap.tagged_commands.pop(tag, None)
        imap.logout()

    return run


def session_curl(args):
    def run(port):
        url_args = [a.replace("PORT", str(port)) for a in args]
        result = subprocess.run(
            ["curl", "-s", "-S", "--noproxy", "*", "--max-time", "30", "--user", "%s:%s" % (USER, PASSWORD)]
            + url_args,
            capture_output=True,
        )
        if result.returncode != 0:
            sys.exit("curl %r failed (%d): %s" % (url_args, result.returncode, result.stderr.decode()))

    return run


class RawClient:
    """A tiny IMAP client on a bare socket that understands literals in responses."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def line(self):
        """One response line; a literal announced at its end is read and appended with the rest."""
        while b"\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:end], self.buf[end:]
        m = re.search(rb"\{(\d+)\}\r\n$", line)
        if m and not line.startswith(b"+"):
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            line += self.buf[:size]
            self.buf = self.buf[size:]
            line += self.line()
        return line

    def send(self, data):
        self.sock.sendall(data)

    def until_tagged(self, tag):
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    sys.exit("%s failed: %r" % (tag.decode(), line))
                return lines

    def continuation(self):
        line = self.line()
        if not line.startswith(b"+"):
            sys.exit("expected a continuation request, got %r" % line)

    def close_after_logout(self):
        while True:
            try:
                self._fill()
            except EOFError:
                break
        self.sock.close()


def session_raw_literals(port):
    c = RawClient(port)
    greeting = c.line()
    if not greeting.startswith(b"* OK"):
        sys.exit("greeting: %r" % greeting)
    user, password = USER.encode(), PASSWORD.encode()
    c.send(b"L1 LOGIN {%d}\r\n" % len(user))
    c.continuation()
    c.send(user + b" {%d}\r\n" % len(password))
    c.continuation()
    c.send(password + b"\r\n")
    c.until_tagged(b"L1")
    body = (
        b"From: Raw Client <raw@example.org>\r\n"
        b"To: alice@example.org\r\n"
        b"Subject: Sent as a synchronizing literal\r\n"
        b"Date: Fri, 12 Jan 2024 13:00:00 +0000\r\n"
        b"\r\n"
        b"Line one.\r\n"
        b"Line two, with {braces} and \"quotes\".\r\n"
    )
    c.send(b'L2 APPEND INBOX (\\Seen) "12-Jan-2024 13:00:00 +0000" {%d}\r\n' % len(body))
    c.continuation()
    c.send(body + b"\r\n")
    c.until_tagged(b"L2")
    c.send(b"L3 SELECT INBOX\r\n")
    lines = c.until_tagged(b"L3")
    exists = [int(m.group(1)) for m in (re.match(rb"\* (\d+) EXISTS", l) for l in lines) if m]
    if not exists:
        sys.exit("SELECT did not report EXISTS")
    c.send(b"L4 FETCH 1 BODY[]\r\n")
    c.until_tagged(b"L4")
    c.send(b"L5 FETCH %d (UID BODY.PEEK[])\r\n" % exists[-1])
    lines = c.until_tagged(b"L5")
    if not any(body in l for l in lines):
        sys.exit("the appended message did not come back")
    c.send(b"L6 LOGOUT\r\n")
    c.until_tagged(b"L6")
    c.close_after_logout()


# ---------------------------------------------------------------------------
# Extension sessions: imaplib's connection, tags, LOGIN and LOGOUT, with the
# extension commands sent as raw lines over it, so that every byte is the one
# written here.


class Raw:
    """Raw commands over an imaplib connection, with imaplib's own tags."""

    def __init__(self, imap):
        self.imap = imap
        self.caps = set(check(imap.capability(), "CAPABILITY")[0].upper().split())

    def offers(self, capability):
        return capability.upper().encode() in self.caps

    def line(self):
        """One response line; a literal announced at its end is read and appended with the rest."""
        line = self.imap.readline()
        if not line:
            sys.exit("the server closed the connection")
        m = re.search(rb"\{(\d+)\}\r\n$", line)
        if m and not line.startswith(b"+"):
            line += self.imap.read(int(m.group(1)))
            line += self.line()
        return line

    def command(self, text, expect=b"OK"):
        """Send `tag text`; a synchronizing literal `{n}` waits for the server's `+` first.

        Returns the response lines; exits unless the tagged status is `expect`.
        """
        tag = self.imap._new_tag()
        self.tag = tag
        # Split after each synchronizing literal's `{n}` (not LITERAL+'s `{n+}`).
        pieces, at = [], 0
        for m in re.finditer(rb"\{\d+\}\r\n", text):
            pieces.append(text[at:m.end() - 2])
            at = m.end()
        pieces.append(text[at:])
        lines = []
        for i, piece in enumerate(pieces):
            self.imap.send((tag + b" " if i == 0 else b"") + piece + b"\r\n")
            if i + 1 < len(pieces):
                line = self.line()
                lines.append(line)
                if not line.startswith(b"+"):
                    sys.exit("%r: no continuation request but %r" % (text[:60], line))
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                self.imap.tagged_commands.pop(tag, None)
                status = line.split(b" ")[1]
                if status != expect:
                    sys.exit("%r: expected %s, got %r" % (text[:60], expect.decode(), line))
                return lines

    def until(self, pattern):
        """Read untagged responses until one matches `pattern`."""
        lines = []
        while True:
            try:
                line = self.line()
            except socket.timeout:
                sys.exit("waiting for %r, got only %r" % (pattern, lines))
            lines.append(line)
            if re.search(pattern, line):
                return lines


def grab(lines, pattern):
    """The first group of the first match of `pattern` in `lines`, as an int."""
    for line in lines:
        m = re.search(pattern, line)
        if m:
            return int(m.group(1))
    sys.exit("no %r in %r" % (pattern, lines))


def literal(data):
    return b"{%d}\r\n" % len(data) + data


def session_condstore(port):
    imap = connect(port, 301)
    check(imap.login(USER, PASSWORD), "LOGIN")
    r = Raw(imap)
    for cap in ("ENABLE", "CONDSTORE", "QRESYNC", "UIDPLUS"):
        if not r.offers(cap):
            sys.exit("Dovecot does not offer %s" % cap)
    r.command(b"ENABLE CONDSTORE QRESYNC")
    r.command(b"STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
    r.command(b"STATUS Archive (HIGHESTMODSEQ)")
    lines = r.command(b"SELECT INBOX (CONDSTORE)")
    uidvalidity = grab(lines, rb"\[UIDVALIDITY (\d+)\]")
    highest = grab(lines, rb"\[HIGHESTMODSEQ (\d+)\]")
    lines = r.command(b"FETCH 1:* (UID FLAGS MODSEQ)")
    uids = [int(m.group(1)) for m in (re.search(rb"UID (\d+)", l) for l in lines) if m]
    first = uids[0]
    modseq = grab(lines, rb"UID %d .*MODSEQ \((\d+)\)" % first)
    # A conditional STORE that succeeds, then the same one again, which fails:
    # the message changed since that mod-sequence.
    r.command(b"UID STORE %d (UNCHANGEDSINCE %d) +FLAGS ($Conditional)" % (first, modseq))
    lines = r.command(b"UID STORE %d:%d (UNCHANGEDSINCE %d) -FLAGS ($Conditional)" % (first, uids[1], modseq))
    if not any(b"[MODIFIED " in l for l in lines):
        sys.exit("no MODIFIED response code: %r" % lines)
    r.command(b"STORE 2:3 (UNCHANGEDSINCE %d) +FLAGS.SILENT ($Checked)" % (highest + 5))
    r.command(b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % highest)
    r.command(b"SEARCH MODSEQ %d" % (highest + 1))
    r.command(b'SEARCH MODSEQ "/flags/$Conditional" all %d' % highest)
    r.command(b'UID SEARCH MODSEQ "/flags/$Checked" priv 1 NOT DELETED')
    # A message to expunge: with QRESYNC enabled its removal is reported
    # with VANISHED, not EXPUNGE.
    body = message("To be expunged", "Sat, 13 Jan 2024 09:00:00 +0000", "Gone soon.")
    lines = r.command(b'APPEND INBOX (\\Deleted) "13-Jan-2024 09:00:00 +0000" ' + literal(body))
    gone = grab(lines, rb"\[APPENDUID \d+ (\d+)\]")
    r.command(b"NOOP")
    r.command(b"UID EXPUNGE %d" % gone)
    r.command(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % highest)
    # Refused on purpose: UNCHANGEDSINCE without its value (BAD).
    r.command(b"UID STORE %d (UNCHANGEDSINCE) +FLAGS (\\Seen)" % first, expect=b"BAD")
    # Re-select with what the client knew before: [CLOSED], VANISHED (EARLIER)
    # for the expunged UID, and FETCH for the changed messages.
    r.command(b"SELECT INBOX (QRESYNC (%d %d %d:%d (1,3 %d,%d)))"
              % (uidvalidity, highest, first, gone, first, uids[2]))
    r.command(b"EXAMINE INBOX (CONDSTORE)")
    # QRESYNC with only UIDVALIDITY and mod-sequence.
    r.command(b"EXAMINE INBOX (QRESYNC (%d %d))" % (uidvalidity, highest))
    r.command(b"STATUS INBOX (HIGHESTMODSEQ)")
    r.command(b"CLOSE")
    imap.logout()


def session_sort_thread(port):
    imap = connect(port, 302)
    check(imap.login(USER, PASSWORD), "LOGIN")
    r = Raw(imap)
    r.command(b"SELECT INBOX")
    if r.offers("SORT"):
        r.command(b"SORT (SUBJECT) UTF-8 ALL")
        r.command(b"SORT (REVERSE DATE) UTF-8 ALL")
        r.command(b"UID SORT (FROM REVERSE ARRIVAL) US-ASCII SEEN")
        r.command(b'SORT (CC TO SIZE) UTF-8 OR FROM "bob" NOT SUBJECT "hello"')
        if r.offers("SORT=DISPLAY"):
            r.command(b"SORT (DISPLAYFROM REVERSE DISPLAYTO) UTF-8 ALL")
        if r.offers("ESORT"):
            r.command(b"SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL")
            r.command(b"UID SORT RETURN (COUNT) (SUBJECT) UTF-8 UNDELETED")
            r.command(b"SORT RETURN () (ARRIVAL) UTF-8 ALL")
        # Refused on purpose: no charset (BAD).
        r.command(b"SORT (SUBJECT) ALL", expect=b"BAD")
    for algorithm in ("ORDEREDSUBJECT", "REFERENCES", "REFS"):
        if r.offers("THREAD=" + algorithm):
            uid = b"UID " if algorithm == "REFS" else b""
            r.command(uid + b"THREAD %s UTF-8 ALL" % algorithm.encode())
    r.command(b"THREAD REFERENCES UTF-8 SINCE 1-Jan-2024 NOT DELETED")
    # Refused on purpose: no charset and no search key (BAD).
    r.command(b"THREAD ORDEREDSUBJECT", expect=b"BAD")
    if r.offers("ESEARCH"):
        r.command(b"SEARCH RETURN (MIN MAX COUNT ALL) ALL")
        r.command(b"SEARCH RETURN () UNSEEN")
        r.command(b"UID SEARCH RETURN (MIN COUNT) UNDELETED")
    if r.offers("SEARCHRES"):
        r.command(b"UID SEARCH RETURN (SAVE) SEEN")
        r.command(b"SEARCH $")
        r.command(b"UID FETCH $ (FLAGS)")
    if r.offers("CONTEXT=SEARCH"):
        # RFC 5267's PARTIAL return option, which Dovecot answers.
        r.command(b"SEARCH RETURN (PARTIAL 1:2) ALL")
        r.command(b"UID SEARCH RETURN (COUNT PARTIAL 2:10) UNDELETED")
        r.command(b"SEARCH RETURN (CONTEXT COUNT) ALL")
        # A search kept up to date: a flag change adds to it and removes
        # from it (ESEARCH ADDTO / REMOVEFROM) until CANCELUPDATE.
        r.command(b"UID SEARCH RETURN (UPDATE) FLAGGED")
        update = r.tag
        r.command(b"STORE 2 +FLAGS (\\Flagged)")
        r.command(b"STORE 2 -FLAGS (\\Flagged)")
        r.command(b'CANCELUPDATE "%s"' % update)
        r.command(b"SORT RETURN (UPDATE MIN) (DATE) UTF-8 ALL")
        r.command(b'CANCELUPDATE "%s"' % r.tag)
    if r.offers("WITHIN"):
        r.command(b"SEARCH OLDER 86400")
        r.command(b"UID SEARCH YOUNGER 86400")
        r.command(b"SEARCH RETURN (COUNT) OR OLDER 3600 YOUNGER 60")
    # Refused on purpose: MULTISEARCH, which this Dovecot lacks (BAD).
    if not r.offers("MULTISEARCH"):
        r.command(b'ESEARCH IN (mailboxes ("INBOX" "Archive")) RETURN (COUNT) ALL', expect=b"BAD")
    r.command(b"CLOSE")
    imap.logout()


def session_misc(dovecot):
    def run(port):
        imap = connect(port, 303)
        check(imap.login(USER, PASSWORD), "LOGIN")
        r = Raw(imap)
        if r.offers("ID"):
            r.command(b'ID ("name" "mailwire-traces" "version" "1.0" "os" NIL)')
            r.command(b"ID NIL")
        r.command(b"ENABLE UTF8=ACCEPT")
        r.command(b"STATUS INBOX (MESSAGES UIDNEXT SIZE)")
        if not r.offers("APPENDLIMIT"):
            # Refused on purpose: a status item of an extension not offered (BAD).
            r.command(b"STATUS INBOX (APPENDLIMIT)", expect=b"BAD")
        if r.offers("SPECIAL-USE"):
            r.command(b'LIST (SPECIAL-USE) "" "*"')
            r.command(b"CREATE Junk (USE (\\Junk))")
        if r.offers("LIST-STATUS"):
            r.command(b'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN SIZE) SPECIAL-USE CHILDREN)')
        r.command(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*" RETURN (CHILDREN)')
        if r.offers("QUOTA"):
            r.command(b"GETQUOTAROOT INBOX")
            r.command(b'GETQUOTA "User quota"')
            r.command(b'SETQUOTA "User quota" (STORAGE 100)', expect=b"NO")
        if r.offers("ACL"):
            r.command(b"MYRIGHTS INBOX")
            r.command(b"GETACL INBOX")
            r.command(b"LISTRIGHTS Archive bob")
            r.command(b"SETACL Archive bob lrs")
            r.command(b"SETACL Archive bob -s")
            r.command(b"GETACL Archive")
            r.command(b"DELETEACL Archive bob")
            r.command(b"GETACL Archive")
        if r.offers("METADATA"):
            note = b"Kept by\r\nthe server."
            r.command(b'SETMETADATA INBOX (/private/comment "Inbox of alice" /shared/comment '
                      + literal(note) + b")")
            r.command(b'SETMETADATA "" (/private/vendor/mailwire/note "server note")')
            r.command(b"GETMETADATA INBOX (/private/comment /shared/comment)")
            r.command(b'GETMETADATA (DEPTH infinity) "" (/private/vendor)')
            r.command(b"GETMETADATA (MAXSIZE 5) INBOX /private/comment")
            r.command(b"SETMETADATA INBOX (/private/comment NIL)")
            r.command(b"GETMETADATA (DEPTH 1) INBOX (/private /shared)")
            # Refused on purpose (BAD): an entry outside /private and /shared,
            # which the decoder accepts, and an entry without its value,
            # which the decoder refuses too.
            r.command(b"GETMETADATA INBOX /bogus", expect=b"BAD")
            r.command(b"SETMETADATA INBOX (/private/comment)", expect=b"BAD")
        lines = r.command(b"SELECT INBOX")
        uidvalidity = grab(lines, rb"\[UIDVALIDITY (\d+)\]")
        if r.offers("PREVIEW"):
            r.command(b"FETCH 1:4 (UID PREVIEW)")
            r.command(b"FETCH 1 (PREVIEW (LAZY))")
        if r.offers("SAVEDATE"):
            r.command(b"FETCH 1:2 (UID SAVEDATE)")
            r.command(b"SEARCH SAVEDSINCE 1-Jan-2024 SAVEDATESUPPORTED")
            r.command(b"UID SEARCH SAVEDBEFORE 1-Jan-2024")
            r.command(b"SEARCH NOT SAVEDON 1-Jan-2024")
        if r.offers("CATENATE"):
            # A new draft made of a header sent as a synchronizing literal and
            # the text of message UID 1, referred to by an IMAP URL.
            header = (b"From: Alice Example <alice@example.org>\r\n"
                      b"To: Carol <carol@example.com>\r\n"
                      b"Subject: Fwd: Plain hello\r\n"
                      b"Date: Sun, 14 Jan 2024 10:00:00 +0000\r\n"
                      b"\r\n")
            r.command(b'APPEND Drafts (\\Draft) "14-Jan-2024 10:00:00 +0000" CATENATE (TEXT '
                      + literal(header) + b' URL "/INBOX;UIDVALIDITY=%d/;UID=1/;SECTION=TEXT")' % uidvalidity)
            if r.offers("URL-PARTIAL"):
                r.command(b'APPEND Drafts CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER" TEXT {8+}\r\n'
                          b'Quote:\r\n URL "/INBOX/;UID=1/;SECTION=TEXT/;PARTIAL=0.10")')
            # A URL to a message that does not exist: NO [BADURL ...].
            r.command(b'APPEND Drafts CATENATE (URL "/INBOX/;UID=999/;SECTION=TEXT")', expect=b"NO")
            r.command(b"STATUS Drafts (MESSAGES)")
        if r.offers("NOTIFY"):
            r.command(b"NOTIFY SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange))"
                      b" (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))")
            tag = imap._new_tag()
            imap.send(tag + b" IDLE\r\n")
            if not r.line().startswith(b"+"):
                sys.exit("IDLE not accepted")
            other = connect(dovecot.port, 304)
            check(other.login(USER, PASSWORD), "LOGIN")
            check(other.append("INBOX", None, '"15-Jan-2024 15:15:15 +0000"',
                               message("Notified", "Mon, 15 Jan 2024 15:15:15 +0000", "Seen by NOTIFY.")),
                  "APPEND")
            check(other.append("Archive", None, '"15-Jan-2024 15:16:15 +0000"',
                               message("Archived", "Mon, 15 Jan 2024 15:16:15 +0000", "Elsewhere.")),
                  "APPEND")
            other.logout()
            imap.sock.settimeout(10)
            # Both, in whichever order they come.
            lines = r.until(rb"^\* \d+ FETCH|^\* STATUS Archive")
            lines += r.until(rb"^\* STATUS Archive" if re.search(rb"FETCH", lines[-1]) else rb"^\* \d+ FETCH")
            time.sleep(0.5)
            imap.send(b"DONE\r\n")
            while not r.line().startswith(tag + b" OK"):
                pass
            imap.tagged_commands.pop(tag, None)
            r.command(b"NOTIFY NONE")
            # Refused on purpose (BAD): MessageNew without MessageExpunge
            # (RFC 5465 section 5), which the decoder accepts.
            r.command(b"NOTIFY SET (selected (MessageNew))", expect=b"BAD")
        # Refused on purpose: extensions this Dovecot lacks (BAD).
        if not r.offers("OBJECTID"):
            r.command(b"FETCH 1 (EMAILID THREADID)", expect=b"BAD")
        if not r.offers("UNAUTHENTICATE"):
            r.command(b"UNAUTHENTICATE", expect=b"BAD")
        if not r.offers("URLAUTH"):
            r.command(b'GENURLAUTH "imap://alice@127.0.0.1/INBOX/;UID=1;URLAUTH=submit+alice" INTERNAL',
                      expect=b"BAD")
        # Refused on purpose, by Dovecot and the decoder: a GETQUOTAROOT
        # without its mailbox (BAD).
        r.command(b"GETQUOTAROOT", expect=b"BAD")
        imap.logout()

    return run


def session_urlauth(dovecot):
    def run(port):
        imap = connect(port, 306)
        check(imap.login(USER, PASSWORD), "LOGIN")
        r = Raw(imap)
        if not r.offers("URLAUTH"):
            sys.exit("Dovecot does not offer URLAUTH")
        lines = r.command(b"EXAMINE INBOX")
        uidvalidity = grab(lines, rb"\[UIDVALIDITY (\d+)\]")
        # The URLs name Dovecot's own port (imap_urlauth_port), not the proxy's.
        base = b"imap://alice@%s:%d/INBOX;UIDVALIDITY=%d/;UID=1" % (HOST.encode(), dovecot.port, uidvalidity)
        r.command(b"RESETKEY")
        lines = r.command(b'GENURLAUTH "%s/;SECTION=TEXT;URLAUTH=user+alice" INTERNAL "%s;URLAUTH=submit+alice" INTERNAL'
                          % (base, base))
        urls = re.findall(rb"(imap://\S+:internal:[0-9a-f]+)", b"".join(lines))
        if len(urls) != 2:
            sys.exit("GENURLAUTH: %r" % lines)
        r.command(b'URLFETCH "%s"' % urls[0])
        if r.offers("URLAUTH=BINARY"):
            r.command(b'URLFETCH ("%s" BODYPARTSTRUCTURE BINARY)' % urls[0])
        # Only a submit server may use a submit+ URL: NIL and an untagged NO.
        r.command(b'URLFETCH "%s"' % urls[1])
        r.command(b"RESETKEY INBOX INTERNAL")
        # The key is gone: the first URL no longer verifies.
        r.command(b'URLFETCH "%s"' % urls[0])
        # A URL without UIDVALIDITY; and, refused on purpose, one with a
        # wrong UIDVALIDITY (BAD), which the decoder accepts.
        r.command(b'GENURLAUTH "imap://alice@%s:%d/INBOX/;UID=1;URLAUTH=user+alice" INTERNAL'
                  % (HOST.encode(), dovecot.port))
        r.command(b'GENURLAUTH "imap://alice@%s:%d/INBOX;UIDVALIDITY=1/;UID=1;URLAUTH=user+alice" INTERNAL'
                  % (HOST.encode(), dovecot.port), expect=b"BAD")
        imap.logout()

    return run


def session_compress(port):
    imap = connect(port, 305)
    check(imap.login(USER, PASSWORD), "LOGIN")
    r = Raw(imap)
    if not r.offers("COMPRESS=DEFLATE"):
        sys.exit("Dovecot does not offer COMPRESS=DEFLATE")
    r.command(b"COMPRESS FOO", expect=b"NO")
    r.command(b"COMPRESS DEFLATE")
    # From here on both directions are raw DEFLATE streams (RFC 4978).
    out = zlib.compressobj(9, zlib.DEFLATED, -15)
    inflate = zlib.decompressobj(-15)
    sock = imap.sock
    sock.settimeout(10)
    got = b""
    for line in (b"C1 NOOP\r\n", b"C2 LOGOUT\r\n"):
        sock.sendall(out.compress(line) + out.flush(zlib.Z_SYNC_FLUSH))
        tag = line.split(b" ")[0]
        while not re.search(rb"(^|\n)" + tag + rb" OK", got):
            data = sock.recv(65536)
            if not data:
                sys.exit("the connection closed before %r was answered: %r" % (tag, got))
            got += inflate.decompress(data)
    if b"* BYE" not in got:
        sys.exit("no BYE after LOGOUT: %r" % got)
    while sock.recv(65536):
        pass
    imap.shutdown()


# ---------------------------------------------------------------------------


def main():
    for tool in ("dovecot", "curl"):
        if shutil.which(tool) is None:
            sys.exit("%s is not installed (apt-get install -y dovecot-imapd curl)" % tool)
    os.makedirs(OUT, exist_ok=True)
    dovecot = Dovecot()
    try:
        dovecot.start()
        print("dovecot", dovecot.version(), "on port", dovecot.port)
        seed_mailbox(dovecot)
        recorded(dovecot, "imaplib-session", session_imaplib)
        recorded(dovecot, "imaplib-authenticate", session_authenticate_idle(dovecot))
        recorded(dovecot, "curl-fetch", session_curl(["imap://127.0.0.1:PORT/INBOX;UID=1"]))
        recorded(dovecot, "curl-list", session_curl(["imap://127.0.0.1:PORT/"]))
        recorded(dovecot, "curl-examine", session_curl(["-X", "EXAMINE INBOX", "imap://127.0.0.1:PORT/"]))
        recorded(dovecot, "raw-literals", session_raw_literals)
        recorded(dovecot, "imaplib-condstore", session_condstore)
        recorded(dovecot, "imaplib-sort-thread", session_sort_thread)
        recorded(dovecot, "imaplib-misc", session_misc(dovecot))
        recorded(dovecot, "imaplib-urlauth", session_urlauth(dovecot))
        recorded(dovecot, "imaplib-compress", session_compress)
    finally:
        dovecot.stop()


if __name__ == "__main__":
    main()
