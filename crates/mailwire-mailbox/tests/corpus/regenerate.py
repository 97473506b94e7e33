#!/usr/bin/env python3
"""Regenerate the Dovecot expectations (NAME.expected) for every NAME.eml here.

Run as root on a machine with Debian's dovecot-imapd installed
(`apt-get install -y dovecot-imapd`). The script starts a private Dovecot
listening on 127.0.0.1 only (port from MAILWIRE_DOVECOT_PORT, default 14300),
with a throw-away configuration, a plaintext passwd-file user and a Maildir
under a temporary directory; APPENDs each message, fetches ENVELOPE,
BODYSTRUCTURE, BODY, RFC822.SIZE and the extra sections listed below with
Python's imaplib, writes the raw response values, and stops Dovecot again.

Format of NAME.expected, one record per fetch item:
    ITEM <the fetch item as sent>\n
    <length in octets>\n
    <value: exactly that many octets>\n
The value is the response data after the item name for ENVELOPE,
BODYSTRUCTURE, BODY and RFC822.SIZE; for BODY[...] and BINARY[...] items it
is the whole response item, name included (`BODY[1] {12}\r\n...`); when the
server refuses the FETCH it is `NO ` followed by the tagged response text.
"""

import imaplib
import re
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get("MAILWIRE_DOVECOT_PORT", "14300"))
USER, PASSWORD = "corpus", "corpus-password"

# Items fetched for every message.
COMMON = [
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "RFC822.SIZE",
    "BODY.PEEK[]",
    "BODY.PEEK[HEADER]",
    "BODY.PEEK[TEXT]",
    "BODY.PEEK[1]",
    "BODY.PEEK[1.MIME]",
    "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT RECEIVED)]",
    "BODY.PEEK[]<0.20>",
    "BODY.PEEK[TEXT]<5.10>",
    "BINARY.PEEK[1]",
    "BINARY.SIZE[1]",
]

# Extra items per message (part numbers that exist in that message).
EXTRA = {
    "02-alternative": ["BODY.PEEK[2]", "BODY.PEEK[2.MIME]", "BINARY.PEEK[2]", "BINARY.SIZE[2]",
                       "BODY.PEEK[3]", "BINARY.PEEK[2]<10.20>",
                       "BODY.PEEK[1.HEADER]", "BODY.PEEK[1.TEXT]", "BODY.PEEK[0]"],
    "03-mixed-attachments": ["BODY.PEEK[2]", "BINARY.PEEK[2]", "BINARY.SIZE[2]", "BINARY.PEEK[3]",
                             "BINARY.SIZE[3]", "BODY.PEEK[3.MIME]", "BINARY.PEEK[]",
                             "BODY.PEEK[HEADER.FIELDS (content-type message-id x-missing)]"],
    "04-nested-rfc822": ["BODY.PEEK[2]", "BODY.PEEK[2.MIME]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]",
                         "BODY.PEEK[2.1]", "BODY.PEEK[2.2]", "BODY.PEEK[2.1.MIME]",
                         "BODY.PEEK[2.HEADER.FIELDS (SUBJECT TO)]", "BODY.PEEK[2.HEADER.FIELDS.NOT (TO)]",
                         "BODY.PEEK[2.2]<3.5>", "BODY.PEEK[2.3]", "BINARY.PEEK[2]", "BINARY.SIZE[2]"],
    "05-encoded-words": ["BINARY.PEEK[TEXT]"],
    "06-rfc2231": ["BODY.PEEK[1.MIME]", "BINARY.PEEK[1]", "BODY.PEEK[2]", "BODY.PEEK[3]"],
    "09-no-final-crlf": ["BODY.PEEK[2]", "BODY.PEEK[2.MIME]", "BINARY.SIZE[2]"],
    "13-digest": ["BODY.PEEK[1.HEADER]", "BODY.PEEK[1.TEXT]", "BODY.PEEK[1.1]", "BODY.PEEK[2.1]",
                  "BODY.PEEK[3]", "BODY.PEEK[3.1]", "BODY.PEEK[1.MIME]"],
    "14-rfc822-variants": ["BODY.PEEK[1]", "BINARY.PEEK[1]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]",
                           "BODY.PEEK[2.1]", "BODY.PEEK[3.HEADER]", "BODY.PEEK[3.1]", "BODY.PEEK[4]",
                           "BODY.PEEK[4.HEADER]"],
    "15-deep-nesting": ["BODY.PEEK[1.1]", "BODY.PEEK[1.1.1]", "BODY.PEEK[1.1.2]", "BODY.PEEK[1.1.2.MIME]",
                        "BODY.PEEK[1.2]", "BINARY.PEEK[1.2]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.1]",
                        "BODY.PEEK[2.2]", "BODY.PEEK[2.2.HEADER]", "BODY.PEEK[2.2.TEXT]", "BODY.PEEK[2.2.1]",
                        "BODY.PEEK[2.2.1.MIME]", "BODY.PEEK[1.1.1.1]"],
    "17-unknown-cte": ["BINARY.PEEK[2]", "BINARY.SIZE[2]", "BODY.PEEK[2]"],
    "18-param-edge-cases": ["BODY.PEEK[2]", "BINARY.PEEK[2]", "BODY.PEEK[4]", "BINARY.PEEK[4]"],
    "20-binary-attachment": ["BINARY.PEEK[2]", "BINARY.SIZE[2]", "BINARY.PEEK[3]", "BINARY.SIZE[3]",
                             "BINARY.PEEK[1]<4.10>", "BINARY.PEEK[2]<10.5>"],
    "21-preamble-epilogue": ["BODY.PEEK[1.1]", "BODY.PEEK[1.2]", "BODY.PEEK[2]"],
    "22-thirty-parts": ["BODY.PEEK[30]", "BINARY.PEEK[30]", "BINARY.SIZE[30]", "BODY.PEEK[29.MIME]"],
    "26-rfc2231-edge": ["BODY.PEEK[1.MIME]", "BODY.PEEK[4]"],
    "27-multipart-edge": ["BODY.PEEK[1.1]", "BODY.PEEK[2]", "BODY.PEEK[2.MIME]", "BINARY.PEEK[2]",
                          "BODY.PEEK[3]", "BODY.PEEK[3.1]", "BODY.PEEK[3.1.1]", "BODY.PEEK[3.TEXT]",
                          "BODY.PEEK[4]", "BINARY.SIZE[4]"],
    "25-empty-and-defaults": ["BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[2]", "BINARY.PEEK[2]",
                              "BODY.PEEK[3]"],
}

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
info_log_path = {tmp}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = {uid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:{tmp}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={tmp}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


def ensure_vmail():
    try:
        return pwd.getpwnam("vmail")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "vmail"], check=True)
        return pwd.getpwnam("vmail")


def raw_response(data):
    """Rebuild the raw bytes of one untagged FETCH response from imaplib's pieces."""
    out = b""
    for piece in data:
        if isinstance(piece, tuple):
            out += piece[0] + b"\r\n" + piece[1]
        elif piece is not None:
            out += piece
    return out


def fetch_value(imap, item):
    imap.untagged_responses.clear()
    try:
        typ, data = imap.fetch("1", "(" + item + ")")
    except imaplib.IMAP4.error as err:
        typ, data = "NO", [str(err).encode()]
    if typ != "OK":
        # Keep the response code only: the text carries timings.
        text = b" ".join(d for d in data if isinstance(d, bytes))
        code = re.search(rb"\[[^\]]*\]", text)
        return b"NO " + (code.group(0) if code else b"")
    raw = raw_response(data)
    if not raw.startswith(b"1 (") or not raw.endswith(b")"):
        sys.exit("unexpected response for %s: %r" % (item, raw))
    inner = raw[3:-1]
    if "[" not in item:
        name = item.encode() + b" "
        if not inner.startswith(name):
            sys.exit("unexpected response for %s: %r" % (item, raw))
        inner = inner[len(name):]
    return inner


def main():
    if shutil.which("dovecot") is None:
        sys.exit("dovecot is not installed (apt-get install -y dovecot-imapd)")
    vmail = ensure_vmail()
    tmp = tempfile.mkdtemp(prefix="mailwire-dovecot-")
    os.chmod(tmp, 0o755)
    for sub in ("run", "state", "home"):
        os.makedirs(os.path.join(tmp, sub))
    os.chown(os.path.join(tmp, "home"), vmail.pw_uid, vmail.pw_gid)
    with open(os.path.join(tmp, "passwd"), "w") as f:
        f.write("%s:{PLAIN}%s\n" % (USER, PASSWORD))
    conf = os.path.join(tmp, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(CONFIG.format(tmp=tmp, uid=vmail.pw_uid, gid=vmail.pw_gid, port=PORT))
    subprocess.run(["dovecot", "-c", conf], check=True)
    try:
        imap = None
        for _ in range(50):
            try:
                imap = imaplib.IMAP4("127.0.0.1", PORT)
                break
            except OSError:
                time.sleep(0.1)
        if imap is None:
            sys.exit("dovecot did not start; see %s/dovecot.log" % tmp)
        imap.login(USER, PASSWORD)
        names = sorted(n[:-4] for n in os.listdir(HERE) if n.endswith(".eml"))
        for name in names:
            with open(os.path.join(HERE, name + ".eml"), "rb") as f:
                message = f.read()
            box = "m" + name.replace("-", "")
            imap.create(box)
            typ, data = imap.append(box, None, None, message)
            if typ != "OK":
                sys.exit("APPEND of %s failed: %r" % (name, data))
            imap.select(box)
            out = b""
            for item in COMMON + EXTRA.get(name, []):
                value = fetch_value(imap, item)
                out += b"ITEM " + item.encode() + b"\n" + str(len(value)).encode() + b"\n" + value + b"\n"
            imap.close()
            with open(os.path.join(HERE, name + ".expected"), "wb") as f:
                f.write(out)
            print("wrote", name + ".expected")
        imap.logout()
    finally:
        subprocess.run(["dovecot", "-c", conf, "stop"], check=False)
        time.sleep(0.5)
        if os.environ.get("MAILWIRE_KEEP_DOVECOT_DIR"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
