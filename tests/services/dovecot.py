"""A real Dovecot (Debian's 2.3) per test session, from a config file of our own.

Dovecot runs in the foreground (``dovecot -F -c FILE``), without systemd, on a temporary
directory. Its login process refuses to run as root, so under root every Dovecot command runs
as ``nobody`` through ``setpriv``; as an ordinary user it runs as that user. Each test takes a
fresh mail user from ``new_user()`` so tests never see each other's mail.
"""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from tests.services import missing

HOST = "127.0.0.1"
PASSWORD = "test-password"
SPECIAL_FOLDERS = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash"}
_STARTUP_DEADLINE_S = 15.0
USER_BATCH = 500  # users listed in the passwd-file before Dovecot starts

_CONFIG_23 = """\
# Written by tests/services/dovecot.py for one test session.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = outreach-test-{port}
protocols = imap lmtp
listen = {host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{root}/mail/%u/Maildir
mail_uid = {user}
mail_gid = {group}
postmaster_address = postmaster@example.test
hostname = dovecot.test
login_trusted_networks = 127.0.0.0/8
lmtp_save_to_detail_mailbox = no

{passdbs}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
  default_fields = home={root}/mail/%u
}}

namespace inbox {{
  inbox = yes
  separator = /
{folders}
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
}}
service lmtp {{
  inet_listener lmtp {{
    address = {host}
    port = {lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0600
  }}
}}
"""


def _user(number: int) -> str:
    return f"user{number}@example.test"


def _write_users(passwd: Path, total: int) -> int:
    """Write a passwd-file listing users 1..total (by rename, so readers never see half)."""
    tmp = passwd.with_suffix(".tmp")
    tmp.write_text("".join(f"{_user(n)}:{{PLAIN}}{PASSWORD}::::::\n" for n in range(1, total + 1)))
    tmp.chmod(0o644)
    os.replace(tmp, passwd)
    return total


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}: {_tail(log)}")
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"dovecot did not listen on {HOST}:{port}: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").splitlines()[-5:])
    except OSError:
        return "(no log)"


class Dovecot:
    """A running Dovecot: its address, a default user and helpers to shape mailboxes."""

    def __init__(self, root: Path, port: int, lmtp_port: int, prefix: list[str]) -> None:
        self.root = root
        self.config = root / "dovecot.conf"
        self.host = HOST
        self.port = port
        self.lmtp_port = lmtp_port
        self.password = PASSWORD
        self._prefix = prefix
        self._passwd = root / "passwd"
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._listed = len(self._passwd.read_text().splitlines())
        self.user = self.new_user()

    def new_user(self) -> str:
        """Return a user no test has used yet (its password is ``self.password``)."""
        with self._lock:
            number = next(self._counter)
            if number > self._listed:
                self._listed = _write_users(self._passwd, self._listed + USER_BATCH)
                # Dovecot re-reads the passwd-file when its mtime or size changed, but at most
                # once a second: wait for the next second so the new users can log in.
                second = int(time.time())
                while int(time.time()) <= second:
                    time.sleep(0.05)
        return _user(number)

    def maildir_path(self, user: str) -> Path:
        """Return the root of the user's Maildir (INBOX)."""
        return self.root / "mail" / user / "Maildir"

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver one message: LMTP for INBOX, IMAP APPEND for any other folder."""
        if folder == "INBOX":
            with smtplib.LMTP(self.host, self.lmtp_port) as lmtp:
                lmtp.sendmail("sender@example.test", [user], raw)
        else:
            self.append_many(user, [raw], folder)

    def append_many(
        self,
        user: str,
        raws: Iterable[bytes],
        folder: str = "INBOX",
        when: datetime | None = None,
        seen: bool = False,
    ) -> None:
        """Append many messages over one IMAP connection (MULTIAPPEND, in batches of 200)."""
        import imapclient

        client = imapclient.IMAPClient(self.host, self.port, ssl=False, timeout=30)
        try:
            client.login(user, self.password)
            batch: list[dict[str, object]] = []
            for raw in raws:
                item: dict[str, object] = {"msg": raw, "flags": ["\\Seen"] if seen else []}
                if when is not None:
                    item["date"] = when
                batch.append(item)
                if len(batch) == 200:
                    client.multiappend(folder, batch)
                    batch = []
            if batch:
                client.multiappend(folder, batch)
        finally:
            client.logout()

    def doveadm(self, *args: str) -> str:
        """Run doveadm against this instance and return its output."""
        cmd = [*self._prefix, "doveadm", "-c", str(self.config), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def set_uidvalidity(self, user: str, folder: str, n: int) -> None:
        """Change a folder's UIDVALIDITY, as a server that rebuilt its index would."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(n), folder)

    def restart(self) -> None:
        """Stop Dovecot (its connections end with BYE) and start it again on the same ports."""
        raise NotImplementedError  # set by running_dovecot

    def kill_connections(self, user: str) -> None:
        """Drop every IMAP connection of the user (a network failure, seen from the client)."""
        self.doveadm("kick", user)
        # kick only signals the processes: wait until anvil no longer lists the user.
        deadline = time.monotonic() + _STARTUP_DEADLINE_S
        while user in self.doveadm("who", user) and time.monotonic() < deadline:
            time.sleep(0.02)


def _identity() -> tuple[str, str, list[str]]:
    """Return (user, group, command prefix) to run Dovecot under."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name, []
    if shutil.which("setpriv") is None:
        missing("setpriv not installed (util-linux): needed to run Dovecot as nobody")
    return "nobody", "nogroup", ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _version() -> str:
    for binary in ("dovecot", "doveadm", "doveconf"):
        if shutil.which(binary) is None:
            missing("dovecot-imapd not installed: run make test")
    for service in ("imap", "imap-login", "lmtp"):
        if not Path("/usr/lib/dovecot", service).exists():
            package = "dovecot-lmtpd" if service == "lmtp" else "dovecot-imapd"
            missing(f"{package} not installed: run make test")
    out = subprocess.run(["dovecot", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def _write_config(
    root: Path, user: str, group: str, port: int, lmtp_port: int, oauth2: str = ""
) -> Path:
    folders = "\n".join(
        f"  mailbox {name} {{\n    special_use = {flag}\n    auto = subscribe\n  }}"
        for name, flag in SPECIAL_FOLDERS.items()
    )
    text = _CONFIG_23.format(
        root=root,
        host=HOST,
        port=port,
        lmtp_port=lmtp_port,
        user=user,
        group=group,
        folders=folders,
        mechanisms="plain login xoauth2 oauthbearer" if oauth2 else "plain login",
        passdbs=_oauth2_passdb(root, oauth2) if oauth2 else "",
    )
    config = root / "dovecot.conf"
    config.write_text(text)
    return config


def _oauth2_passdb(root: Path, introspection_url: str) -> str:
    """An oauth2 passdb asking the test authorization server about each token (RFC 7662)."""
    conf = root / "dovecot-oauth2.conf.ext"
    conf.write_text(
        "introspection_mode = post\n"
        f"introspection_url = {introspection_url}\n"
        "username_attribute = username\n"
        "active_attribute = active\n"
        "active_value = true\n"
    )
    return (
        f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {conf}\n}}\n"
    )


_RUNNING = pytest.StashKey[Dovecot]()


@pytest.fixture(scope="session")
def dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """Start Dovecot for the test session and stop it at the end."""
    running = request.config.stash.get(_RUNNING, None)
    if running is not None:  # the fixture is registered twice (plugin and a module import)
        yield running
        return
    with running_dovecot() as server:
        request.config.stash[_RUNNING] = server
        try:
            yield server
        finally:
            del request.config.stash[_RUNNING]


@contextmanager
def running_dovecot(oauth2_introspection_url: str = "") -> Iterator[Dovecot]:
    """Run a Dovecot of our own; with an introspection URL it also takes OAuth2 logins."""
    version = _version()
    if not version.startswith("2.3."):
        missing(f"dovecot {version or '?'} found; tests/services/dovecot.py supports 2.3 only")
    user, group, prefix = _identity()
    root = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
    try:
        for sub in ("run", "state", "mail"):
            (root / sub).mkdir()
        port, lmtp_port = _free_port(), _free_port()
        config = _write_config(root, user, group, port, lmtp_port, oauth2_introspection_url)
        _write_users(root / "passwd", USER_BATCH)
        if os.geteuid() == 0:
            for path in (root, *root.iterdir()):
                os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
        check = subprocess.run(
            [*prefix, "doveconf", "-c", str(config), "-n"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"doveconf rejected {config}: {check.stderr.strip()}")
        log = root / "dovecot.log"
        procs: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            with open(root / "stderr.log", "ab") as stderr:
                procs.append(
                    subprocess.Popen(
                        [*prefix, *_die_with_us(prefix), "dovecot", "-F", "-c", str(config)],
                        stdin=subprocess.DEVNULL,
                        stdout=stderr,
                        stderr=stderr,
                        start_new_session=True,
                    )
                )
            _wait_for_port(port, procs[-1], log)
            _wait_for_port(lmtp_port, procs[-1], log)

        def restart() -> None:
            _stop(procs[-1])
            start()

        try:
            start()
            server = Dovecot(root, port, lmtp_port, prefix)
            server.restart = restart  # type: ignore[method-assign]
            yield server
        finally:
            if procs:
                _stop(procs[-1])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _die_with_us(prefix: list[str]) -> list[str]:
    """Ask setpriv for a parent-death signal, so a killed pytest takes Dovecot with it."""
    if not prefix:
        return []
    usage = subprocess.run(["setpriv", "--help"], capture_output=True, text=True, check=False)
    return ["--pdeathsig", "TERM"] if "--pdeathsig" in usage.stdout else []


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the master and, should any linger, the rest of its process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for pid in _group_members(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _group_members(pgid: int) -> list[int]:
    """Return the processes still in Dovecot's process group (its session)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state, ppid, pgrp, session, ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members
