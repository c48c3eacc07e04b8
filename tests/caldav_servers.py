"""Real CalDAV servers (Radicale, Xandikos) and a real SMTP sink (aiosmtpd) on loopback, for tests.

Each server runs in its own process with real HTTP Basic authentication: Radicale with an
htpasswd file and a rights file (the bridge may read and write every calendar, a user only
their own), Xandikos behind an aiohttp middleware that checks the same users (Xandikos itself
has no authentication; a reverse proxy does it in production). The pattern follows
python-caldav's ``caldav/testing.py``.

``python -m tests.caldav_servers xandikos <root> <port> <users.json>`` is the Xandikos process.
"""

import base64
import json
import pathlib
import socket
import subprocess
import sys
import time

import requests

from tests.conftest import REPO

PASSWORDS = {"bridge": "bridge-secret", "alice": "alice-secret", "bob": "bob-secret",
             "admin": "admin-secret"}
START_TIMEOUT = 30

RADICALE_RIGHTS = """
[bridge]
user: bridge
collection: .*
permissions: RrWw

[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {user}
permissions: RW

[calendars]
user: .+
collection: {user}/[^/]+
permissions: rw
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CalDavServer:
    """A CalDAV server process on 127.0.0.1; ``url`` is its root, ``auth(user)`` a requests auth."""

    name = ""

    def __init__(self, root, passwords=None):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.passwords = dict(passwords or PASSWORDS)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = None
        self.log = None

    def auth(self, user):
        return (user, self.passwords[user])

    def start(self):
        self.log = open(self.root / f"{self.name}.log", "wb")
        self.process = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                        cwd=REPO)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start: see {self.root}/{self.name}.log")
            try:
                requests.request("PROPFIND", self.url, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"{self.name} did not listen on {self.url} within {START_TIMEOUT}s")
        self.prepare()
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.log:
            self.log.close()

    def prepare(self):
        """Create each user's principal collection."""

    def make_calendar(self, user, name="boards"):
        """Create ``/<user>/<name>/`` (as that user) and return its URL."""
        url = f"{self.url}{user}/{name}/"
        body = ('<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" '
                'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>'
                f'{name}</D:displayname></D:prop></D:set></C:mkcalendar>')
        response = requests.request("MKCALENDAR", url, data=body, auth=self.auth(self.owner_of(user)),
                                    headers={"Content-Type": "application/xml"}, timeout=10)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"MKCALENDAR {url}: {response.status_code} {response.text[:200]}")
        return url

    def owner_of(self, user):
        return user

    def put(self, url, ics, user="bridge", etag=None):
        """PUT ``ics`` at ``url`` as ``user`` (the way a calendar client saves); the response."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if etag:
            headers["If-Match"] = etag
        data = ics.encode() if isinstance(ics, str) else ics
        response = requests.put(url, data=data, headers=headers, auth=self.auth(user), timeout=30)
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT {url}: {response.status_code} {response.text[:200]}")
        return response

    def get(self, url, user="bridge"):
        """``(text, etag)`` of the object at ``url``, or ``(None, None)`` when it is gone."""
        response = requests.get(url, auth=self.auth(user), timeout=30)
        if response.status_code == 404:
            return None, None
        response.raise_for_status()
        return response.content.decode(), response.headers.get("ETag")

    def delete(self, url, user="bridge"):
        response = requests.delete(url, auth=self.auth(user), timeout=30)
        if response.status_code not in (200, 204):
            raise RuntimeError(f"DELETE {url}: {response.status_code}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Radicale(CalDavServer):
    name = "radicale"

    def command(self):
        users = self.root / "users"
        users.write_text("".join(f"{u}:{p}\n" for u, p in self.passwords.items()))
        rights = self.root / "rights"
        rights.write_text(RADICALE_RIGHTS)
        config = self.root / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n"
            "delay = 0.1\n"
            f"[rights]\ntype = from_file\nfile = {rights}\n"
            f"[storage]\nfilesystem_folder = {self.root / 'collections'}\n"
            "[logging]\nlevel = warning\n")
        return [sys.executable, "-m", "radicale", "--config", str(config)]

    def prepare(self):
        for user in self.passwords:
            response = requests.request("PROPFIND", f"{self.url}{user}/", auth=self.auth(user),
                                        headers={"Depth": "0"}, timeout=10)
            if response.status_code != 207:
                raise RuntimeError(f"radicale: cannot log in as {user}: {response.status_code}")


class Xandikos(CalDavServer):
    name = "xandikos"

    def command(self):
        users = self.root / "users.json"
        users.write_text(json.dumps(self.passwords))
        return [sys.executable, "-m", "tests.caldav_servers", "xandikos", str(self.root / "data"),
                str(self.port), str(users)]


def _serve_xandikos(root, port, users_file):
    """The Xandikos process: every user's principal, behind HTTP Basic authentication."""
    import asyncio

    from aiohttp import web
    from xandikos.web import SingleUserFilesystemBackend, XandikosApp

    passwords = json.loads(pathlib.Path(users_file).read_text())
    pathlib.Path(root).mkdir(parents=True, exist_ok=True)
    backend = SingleUserFilesystemBackend(root)
    for user in passwords:
        if not (pathlib.Path(root) / user).exists():
            backend.create_principal(f"/{user}/", create_defaults=False)
        backend._mark_as_principal(f"/{user}/")
    app = XandikosApp(backend, current_user_principal="/bridge/", strict=True)
    accepted = {"Basic " + base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in passwords.items()}

    async def handler(request):
        if request.headers.get("Authorization") not in accepted:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="xandikos"'})
        return await app.aiohttp_handler(request, "/")

    web_app = web.Application(client_max_size=64 * 1024 * 1024)
    web_app.router.add_route("*", "/{path_info:.*}", handler)
    asyncio.run(_run_app(web_app, port))


async def _run_app(web_app, port):
    import asyncio

    from aiohttp import web

    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    while True:
        await asyncio.sleep(3600)


SERVERS = {"radicale": Radicale, "xandikos": Xandikos}


if __name__ == "__main__":
    if sys.argv[1:2] == ["xandikos"] and len(sys.argv) == 5:
        _serve_xandikos(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("usage: python -m tests.caldav_servers xandikos <root> <port> <users.json>")
