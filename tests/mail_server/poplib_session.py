"""One poplib run against a POP3 server, for tests/mail_server.

usage: poplib_session.py MODE HOST PORT USER PASSWORD CAFILE
MODE is plain (USER/PASS without TLS), stls (STLS first) or pop3s (implicit
TLS); CAFILE is the certificate to trust for stls and pop3s.

Prints one result per line: KEY<TAB>VALUE, bytes as hex.
"""

import poplib
import ssl
import sys

mode, host, port, user, password, cafile = sys.argv[1:7]
port = int(port)


def connect():
    if mode == "pop3s":
        return poplib.POP3_SSL(host, port, context=ssl.create_default_context(cafile=cafile), timeout=30)
    client = poplib.POP3(host, port, timeout=30)
    if mode == "stls":
        client.stls(ssl.create_default_context(cafile=cafile))
    return client


def out(key, value):
    print(f"{key}\t{value}")


# A wrong password first: refused with a response code.
client = connect()
try:
    client.user(user)
    client.pass_("wrong-" + password)
    out("wrong_password", "accepted")
except poplib.error_proto as e:
    out("wrong_password", e.args[0].decode("ascii", "replace"))
client.quit()

client = connect()
out("capa", " ".join(sorted(client.capa().keys())))
client.user(user)
out("pass", client.pass_(password).decode())
count, size = client.stat()
out("stat", f"{count} {size}")
_, listing, _ = client.list()
out("list", ",".join(l.decode() for l in listing))
_, uidl, _ = client.uidl()
out("uidl", ",".join(l.decode() for l in uidl))
for n in range(1, count + 1):
    _, lines, _ = client.top(n, 0)
    out(f"top {n}", (b"\r\n".join(lines) + b"\r\n").hex())
    _, lines, _ = client.retr(n)
    out(f"retr {n}", (b"\r\n".join(lines) + b"\r\n").hex())
out("dele", client.dele(1).decode())
count_after, size_after = client.stat()
out("stat_after_dele", f"{count_after} {size_after}")
try:
    client.retr(1)
    out("retr_deleted", "accepted")
except poplib.error_proto as e:
    out("retr_deleted", e.args[0].decode("ascii", "replace"))
out("rset", client.rset().decode())
count_rset, size_rset = client.stat()
out("stat_after_rset", f"{count_rset} {size_rset}")
out("quit", client.quit().decode())

# A second session: nothing was deleted.
client = connect()
client.user(user)
client.pass_(password)
count_next, size_next = client.stat()
out("stat_next_session", f"{count_next} {size_next}")
client.quit()
