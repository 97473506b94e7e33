"""The server's side of the sync tests, through Python's imaplib: changes
made on the server as another client would, and a dump of every mailbox.

Usage: server_side.py HOST PORT USER PASSWORD < operations.json

The operations are a JSON list, run in order over one connection:
  ["flag", MAILBOX, UID, "+FLAGS (\\Seen)"]      UID STORE
  ["move", MAILBOX, UID, DESTINATION]            UID MOVE
  ["expunge", MAILBOX, UID]                      \\Deleted and UID EXPUNGE
  ["append", MAILBOX, FLAGS, MESSAGE]            APPEND (MESSAGE is text)
  ["create", MAILBOX]                            CREATE
  ["rename", MAILBOX, NEW NAME]                  RENAME
  ["delete", MAILBOX]                            DELETE
  ["dump"]                                       print the state as JSON

Mailbox names are written with "/" as the hierarchy delimiter and
translated to the server's. The dump maps each selectable mailbox to a
sorted list of [flags (sorted, without \\Recent), body with LF line
ends, UID].
"""

import imaplib
import json
import re
import sys


def main():
    host, port, user, password = sys.argv[1:5]
    operations = json.load(sys.stdin)
    imap = imaplib.IMAP4(host, int(port))
    imap.login(user, password)
    typ, data = imap.list('""', '""')
    delimiter = "/"
    match = re.match(rb'\(.*?\) "(.)"', data[0] or b"")
    if match:
        delimiter = match.group(1).decode()

    def wire(name):
        return '"' + name.replace("/", delimiter) + '"'

    def ok(result, what):
        typ, data = result
        if typ != "OK":
            raise SystemExit("%s: %s %r" % (what, typ, data))
        return data

    for op in operations:
        kind = op[0]
        if kind == "flag":
            ok(imap.select(wire(op[1])), "SELECT")
            ok(imap.uid("STORE", str(op[2]), op[3]), "STORE")
        elif kind == "move":
            ok(imap.select(wire(op[1])), "SELECT")
            ok(imap.uid("MOVE", str(op[2]), wire(op[3])), "MOVE")
        elif kind == "expunge":
            ok(imap.select(wire(op[1])), "SELECT")
            ok(imap.uid("STORE", str(op[2]), "+FLAGS.SILENT (\\Deleted)"), "STORE")
            ok(imap.uid("EXPUNGE", str(op[2])), "UID EXPUNGE")
        elif kind == "append":
            message = op[3].replace("\r\n", "\n").replace("\n", "\r\n").encode()
            ok(imap.append(wire(op[1]), op[2], None, message), "APPEND")
        elif kind == "create":
            ok(imap.create(wire(op[1])), "CREATE")
        elif kind == "rename":
            ok(imap.rename(wire(op[1]), wire(op[2])), "RENAME")
        elif kind == "delete":
            ok(imap.delete(wire(op[1])), "DELETE")
        elif kind == "dump":
            print(json.dumps(dump(imap, delimiter, ok)))
        else:
            raise SystemExit("unknown operation %r" % kind)
    imap.logout()


def dump(imap, delimiter, ok):
    state = {}
    for line in ok(imap.list('""', "*"), "LIST"):
        match = re.match(rb'\((.*?)\) (?:"."|NIL) (.*)$', line)
        attributes, name = match.group(1), match.group(2)
        if b"\\Noselect" in attributes or b"\\NonExistent" in attributes:
            continue
        name = name.decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        messages = []
        typ, data = imap.select('"%s"' % name, readonly=True)
        if typ != "OK":
            raise SystemExit("SELECT %s: %r" % (name, data))
        if int(data[0]) > 0:
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head, body = item
                flags = re.search(rb"FLAGS \((.*?)\)", head).group(1).decode().split()
                flags = sorted(f for f in flags if f != "\\Recent")
                uid = int(re.search(rb"UID (\d+)", head).group(1))
                messages.append([flags, body.replace(b"\r\n", b"\n").decode("latin-1"), uid])
        state[name.replace(delimiter, "/")] = sorted(messages)
    return state


if __name__ == "__main__":
    main()
