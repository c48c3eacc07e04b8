"""``jetson-image``: list, usage, import, clone and remove your own rootfs images on the site server.

Exit codes: 0 done; 1 refused or failed (nothing changed); 2 a usage error (a bad command line
or name). Run by a user, it re-runs itself through ``sudo -n`` (the site's sudo rule,
docs/admin-guide.md): the user is then the one sudo names, never an argument.
"""

import argparse
import json
import logging
import os
import shlex
import shutil
import sys

from jetson_farm.errors import InvalidName, JetsonError, NotAllowed
from jetson_farm.selfservice import upload
from jetson_farm.selfservice.caller import DEFAULT_CONFIG, NeedsRoot, load_site, open_as, who_calls
from jetson_farm.selfservice.images import SelfService, human

PROGRESS_MIN_BYTES = 64 * 1024**2  # smaller tarballs import in a few seconds: no progress lines
PROGRESS_STEP = 5  # percent



class Progress:
    """``report(phase, position, size)`` printed to stderr every few percent, on large files."""

    def __init__(self, image, stream):
        self.image, self.stream, self.shown = image, stream, {}

    def __call__(self, phase, position, size):
        if size < PROGRESS_MIN_BYTES:
            return
        percent = min(100, position * 100 // size)
        last = self.shown.get(phase, -PROGRESS_STEP)
        if percent >= last + PROGRESS_STEP or (percent == 100 and last != 100):
            self.shown[phase] = percent
            print(f"jetson-image: {self.image}: {phase} {percent}% "
                  f"of {human(size)}", file=self.stream, flush=True)


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    dry = argparse.ArgumentParser(add_help=False)
    dry.add_argument("--dry-run", action="store_true",
                     help="check everything (names, quota, bookings) and change nothing")
    parser = argparse.ArgumentParser(
        prog="jetson-image", description="Your rootfs images on this site server: list, usage, "
        "import, clone, remove. It acts on your own images only.",
        epilog="Exit codes: 0 done, 1 refused or failed (nothing changed), 2 usage error.")
    admin = parser.add_argument_group("root only (admins)")
    admin.add_argument("--user", help="act for this user")
    admin.add_argument("--config", help=f"the site config (default {DEFAULT_CONFIG})")
    admin.add_argument("--site", help="the site of the config this server is")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", parents=[common], help="your images and the shared ones",
                        description="Your images (in the store or at a board) and the shared images "
                        "you may clone.")
    commands.add_parser("usage", parents=[common], help="your disk usage and quota",
                        description="How much of your quota your images use.")
    cmd = commands.add_parser("import", parents=[common, dry], help="a rootfs tarball as a new image",
                              description="Import a rootfs tarball you uploaded (.tar, .tar.gz, .tbz2, "
                              ".tar.xz) as your new image NAME. Refused before anything is written "
                              "if it does not fit your quota.")
    cmd.add_argument("name", metavar="NAME", help="the new image's name")
    cmd.add_argument("file", metavar="FILE", help="the tarball, a path on this server, or - to read it "
                     "from standard input (ssh ... jetson-image import NAME - < rootfs.tar.gz)")
    cmd = commands.add_parser("clone", parents=[common, dry], help="copy an image to a new one",
                              description="Copy your image or a shared one (user/name) to your new "
                              "image NAME (a reflink where the file system can).")
    cmd.add_argument("src", metavar="SRC", help="your image's name, or a shared image as user/name")
    cmd.add_argument("name", metavar="NAME", help="the new image's name")
    cmd = commands.add_parser("remove", parents=[common, dry], help="delete one of your images",
                              description="Delete your image NAME; refused while it is at a board "
                              "(booted), part of a switch, or booked.")
    cmd.add_argument("name", metavar="NAME", help="the image's name")
    return parser


def _target_user(caller, args):
    if not caller.admin:
        for option in ("user", "config", "site"):
            if getattr(args, option):
                raise NotAllowed(f"--{option} is for root only; jetson-image acts for you "
                                 f"({caller.name}) on this site")
        return caller.name
    if not args.user:
        raise InvalidName("run as root, jetson-image needs --user USER (the user to act for)")
    return args.user


def _run(service, args, caller):
    if args.command == "list":
        return service.list()
    if args.command == "usage":
        return service.usage()
    if args.command == "clone":
        return service.clone(args.src, args.name, dry_run=args.dry_run)
    if args.command == "remove":
        return service.remove(args.name, dry_run=args.dry_run)
    report = Progress(service.own(args.name), sys.stderr)  # the name is checked before the file
    if args.file == "-":
        fd, shown = upload.spool_for(service, sys.stdin.buffer), upload.STDIN_SHOWN
    else:
        fd, shown = open_as(caller, args.file), args.file
    try:
        return service.import_tarball(args.name, fd, shown, dry_run=args.dry_run, report=report)
    finally:
        os.close(fd)


def _text(command, result):
    if command == "usage":
        quota = (f"quota {result['quota_gb']:g} GB, {human(result['free_bytes'])} free"
                 if result["quota_bytes"] else "no quota")
        return f"{result['user']}: {human(result['bytes'])} in {result['images']} image(s); {quota}"
    if command != "list":
        return result["comment"]
    lines = [f"{'IMAGE':<40} WHERE"]
    for item in result["images"]:
        lines.append(f"{item['image']:<40} {_where(item)}")
    if not result["images"]:
        lines.append("(no images yet: jetson-image import NAME FILE, or clone a shared one)")
    if result["shared"]:
        lines += ["", "Shared images (jetson-image clone USER/NAME NAME):"]
        lines += [f"{item['image']:<40} {_where(item)}  {item['description']}".rstrip()
                  for item in result["shared"]]
    return "\n".join(lines)


def _where(item):
    return f"board {item['board']}" if item["where"] == "board" else item["where"]


def _through_sudo(argv):
    """Re-run this command as root through the site's sudo rule (never asks a password)."""
    program = shutil.which(sys.argv[0]) or os.path.abspath(sys.argv[0])
    os.execvp("sudo", ["sudo", "-n", "--", program, *argv])  # noqa: S606 (an argument list, no shell)


def command_line(argv, environ):
    """The arguments: those given, or, run by sshd's ``ForceCommand`` with none, the words of the
    command the user asked ssh for (``ssh alice@site jetson-image list``), never through a shell."""
    if argv or "SSH_ORIGINAL_COMMAND" not in environ:
        return list(argv)
    try:
        words = shlex.split(environ["SSH_ORIGINAL_COMMAND"])
    except ValueError as err:
        raise SystemExit(f"jetson-image: cannot read the command {environ['SSH_ORIGINAL_COMMAND']!r}: "
                         f"{err}") from None
    return words[1:] if words and os.path.basename(words[0]) == "jetson-image" else words


def main(argv=None, default_config=DEFAULT_CONFIG):
    """The command. ``default_config``: the site config users get (a site that keeps it elsewhere
    points its sudo rule at a root-owned script calling ``main(default_config=...)``)."""
    argv = command_line(sys.argv[1:] if argv is None else argv, os.environ)
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="jetson-image: %(message)s")
    try:
        try:
            caller = who_calls()
        except NeedsRoot:
            if "SUDO_UID" in os.environ:
                raise
            _through_sudo(argv)
        site = (load_site(args.config or default_config, args.site) if caller.admin
                else load_site(default_config))
        result = _run(SelfService(site, _target_user(caller, args)), args, caller)
    except InvalidName as err:
        return _fail(args, err, 2)
    except (JetsonError, OSError) as err:
        return _fail(args, err, 1)
    except KeyboardInterrupt:
        return _fail(args, "interrupted; nothing was changed", 1)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else _text(args.command, result))
    return 0


def _fail(args, err, code):
    message = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    if args.json:
        print(json.dumps({"error": message, "retcode": code}))
    print(f"jetson-image: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
