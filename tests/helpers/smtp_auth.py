"""smtp_auth.py: an SMTP server for the alert-send tests that insists on
STARTTLS and a login (aiosmtpd, run with /usr/bin/python3).

    smtp_auth.py --port N --cert CRT --key KEY --maildir DIR --user U --password-file F [--smtps]

With --smtps the session is TLS from the first byte (port 465 style);
otherwise only after STARTTLS is AUTH offered (PLAIN and LOGIN), and no MAIL is taken
without a login. Each message is stored in the Maildir DIR with the headers
X-Auth-User (the login it came under), X-MailFrom and X-RcptTo added on
top. A message whose text holds "fail-once" breaks the session the first
time it comes (an exception in the server: "500", and the session is left
in a state that refuses the next MAIL on it with 503), as a server that
fails mid-message does. Every AUTH attempt is one line in DIR/../auth.log: "MECHANISM USER ok"
or "MECHANISM USER refused" (never the password). Stops on SIGTERM.
"""
import argparse
import mailbox
import os
import signal
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--smtps", action="store_true")
    a = ap.parse_args()
    with open(a.password_file, "rb") as f:
        password = f.read().strip()
    auth_log = os.path.join(os.path.dirname(os.path.abspath(a.maildir)), "auth.log")
    box = mailbox.Maildir(a.maildir, create=True)

    def authenticator(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and data.login.decode() == a.user
              and data.password == password)
        login = data.login.decode(errors="replace") if isinstance(data, LoginPassword) else "?"
        with open(auth_log, "a") as f:
            f.write(f"{mechanism} {login} {'ok' if ok else 'refused'}\n")
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    failed_once = set()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            content = envelope.original_content
            if b"fail-once" in content and content not in failed_once:
                failed_once.add(content)
                raise RuntimeError("failing this message once, as asked")
            head = (f"X-Auth-User: {session.auth_data}\r\n"
                    f"X-MailFrom: {envelope.mail_from}\r\n"
                    f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n").encode()
            box.add(head + content)
            return "250 OK"

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    if a.smtps:
        # aiosmtpd counts only STARTTLS as TLS: here the session is TLS throughout
        tls = {"ssl_context": ctx, "auth_require_tls": False}
    else:
        tls = {"tls_context": ctx, "require_starttls": True, "auth_require_tls": True}
    ctrl = Controller(Handler(), hostname="127.0.0.1", port=a.port, server_hostname="localhost",
                      auth_required=True, authenticator=authenticator, **tls)
    ctrl.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    ctrl.stop()


if __name__ == "__main__":
    main()
