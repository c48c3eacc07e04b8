"""The users' accounts on a site server, its SSH jump host, and retiring a user into the attic.

What the state ``jetson/users.sls`` applies (docs/inventory.md, "Users"): :func:`plan` says what
each pillar user's account, keys and image slot should be and writes the texts of the sshd
drop-in, the sudo rule and the site config; :func:`retire` moves the images of a user who left
the pillar to ``<root>/attic/<user>-<date>/`` and locks their account, never deleting anything.
Plain Python: the site (a :class:`~jetson_farm.rootfs.RootfsSite`) and paths come in as arguments.
"""

import base64
import binascii
import contextlib
import datetime
import grp
import os
import pwd
import subprocess

import yaml

from jetson_farm.errors import JetsonError, Refused
from jetson_farm.names import NAME_RE, check_name, parse_image
from jetson_farm.rootfs import fsutil, store

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
NOLOGIN = "/usr/sbin/nologin"
SHELL = "/bin/sh"  # sshd runs the ForceCommand through the account's shell
COMMAND_TIMEOUT = 60


class BadKey(JetsonError):
    """A pillar SSH key that is not one plain public key line of a known type."""


def check_key(user, index, line):
    """``line`` if it is one public key line of a known type whose blob names that type.

    The schema already holds every key to ``type base64 [comment]`` on one line, so no option
    (``command=``, ``from=``) can come first; this also refuses unknown types, a blob that is not
    the key it claims to be, and control characters in the comment.
    """
    where = f"user {user}: ssh_keys[{index}]"
    if not isinstance(line, str) or any(ord(c) < 32 or ord(c) == 127 for c in line):
        raise BadKey(f"{where}: not one line of printable text")
    words = line.split(" ", 2)
    if len(words) < 2 or words[0] not in KEY_TYPES:
        raise BadKey(f"{where}: key type {words[0][:40]!r} is not one of {', '.join(KEY_TYPES)}")
    try:
        blob = base64.b64decode(words[1], validate=True)
    except (binascii.Error, ValueError):
        raise BadKey(f"{where}: the key is not valid base64") from None
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if blob[4:4 + length].decode("ascii", "replace") != words[0]:
        raise BadKey(f"{where}: the key's data is not a {words[0]} key")
    return line


def authorized_keys(user, keys):
    """The text of ``user``'s authorized_keys file: exactly their pillar keys, each checked."""
    lines = [check_key(user, i, key) for i, key in enumerate(keys)]
    return "".join(f"{line}\n" for line in [
        f"# jetson-farm: the keys of {user} from pillar jetson:users:{user}:ssh_keys (edits are replaced)",
        *lines])


def sshd_text(site_name, jump, board_ips):
    """The sshd drop-in: keys only; the group's accounts run ``jetson-image`` and may forward
    only to this site's boards' port 22 (``ssh -J``).

    The forced command is the sudo rule itself, so the user's own process never runs Python (nor
    needs to read the installed package): root runs ``jetson-image``, which takes the caller
    from ``SUDO_UID`` and the words from ``SSH_ORIGINAL_COMMAND``.
    """
    permit = " ".join(f"{ip}:22" for ip in sorted(set(board_ips))) or "none"
    return f"""# jetson-farm: the SSH jump host of site {site_name} (state jetson.users; docs/inventory.md)
PasswordAuthentication no
KbdInteractiveAuthentication no

Match Group {jump.group}
    AuthorizedKeysFile {jump.keys_dir}/%u
    ForceCommand sudo -n {jump.command}
    AllowTcpForwarding local
    PermitOpen {permit}
    PermitListen none
    GatewayPorts no
    X11Forwarding no
    AllowAgentForwarding no
    AllowStreamLocalForwarding no
    PermitTunnel no
    PermitTTY no
    PermitUserRC no
"""


def sudoers_text(jump):
    """The one sudo rule: the group's accounts run ``jetson-image`` as root (the caller is
    ``SUDO_UID``), keeping ``SSH_ORIGINAL_COMMAND``, the words it splits (never a shell's)."""
    return (f"# jetson-farm: jetson-image writes the store as root for the user sudo names (SUDO_UID)\n"
            f"%{jump.group} ALL=(root) NOPASSWD: {jump.command}\n"
            f'Defaults!{jump.command} env_keep += "SSH_ORIGINAL_COMMAND"\n')


def site_config_text(site_name, pillar):
    """``/etc/jetson-farm/site.yaml``: the pillar as this site sees it, for ``jetson-image``."""
    return yaml.safe_dump({"site": site_name, "jetson": pillar}, default_flow_style=False, sort_keys=True)


def group_gid(group):
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return None


def farm_accounts(group):
    """The names of the accounts whose primary group is ``group`` (the farm's, and only those)."""
    gid = group_gid(group)
    return sorted(a.pw_name for a in pwd.getpwall() if gid is not None and a.pw_gid == gid)


def account_problem(user, group):
    """Why ``user``'s account cannot be the farm's (an existing account of another group), or None."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return None
    if account.pw_gid == group_gid(group):
        return None
    return (f"user {user}: the account {user} already exists on this server and is not one of the "
            f"farm's (its primary group is not {group}); it is left alone: rename the user in pillar")


def plan(site, pillar):
    """What the state applies on ``site``: ``{enabled, group, ..., users: {name: {...}}, previous}``.

    Each user has ``slot``, ``keys_file``, ``keys`` (the file's text) and ``error`` (a bad key or
    a clash with another account: then nothing of theirs is written). ``previous``: the users this
    server still holds something of (an account of the group, a keys file, an image slot) who are
    no longer in pillar and not yet retired.
    """
    jump = site.site.jump_host
    result = {"enabled": jump.enabled, "site": site.site.name, "group": jump.group,
              "sshd_config": jump.sshd_config, "sshd_service": jump.sshd_service,
              "keys_dir": jump.keys_dir, "sudoers": jump.sudoers, "site_config": jump.site_config,
              "users": {}, "previous": []}
    if not jump.enabled:
        return result
    for name, account in sorted(site.inventory.users.items()):
        entry = {"slot": site.layout.user_dir(name), "keys_file": os.path.join(jump.keys_dir, name),
                 "admin": account.admin, "keys": "", "error": account_problem(name, jump.group)}
        try:
            entry["keys"] = authorized_keys(name, account.ssh_keys)
        except BadKey as err:
            entry["error"] = entry["error"] or str(err)
        result["users"][name] = entry
    result.update(sshd=sshd_text(site.site.name, jump, [b.ip for b in site.boards()]),
                  sudoers_text=sudoers_text(jump), site_config_text=site_config_text(site.site.name, pillar))
    result["previous"] = [user for user in previous_users(site) if retire_steps(site, user)]
    return result


def previous_users(site):
    """Users who are not in pillar and have an account of the group, a keys file or a slot."""
    jump = site.site.jump_host
    names = set(farm_accounts(jump.group))
    for folder in (jump.keys_dir, site.layout.images_dir):
        if os.path.isdir(folder):
            names.update(n for n in os.listdir(folder) if NAME_RE.fullmatch(n))
    return sorted(names - set(site.inventory.users))


# -- retiring a user ----------------------------------------------------------------------

def _shadow_entry(user):
    with open("/etc/shadow", encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split(":")
            if fields[0] == user:
                return fields
    return None


def account_locked(user):
    """True when the account is locked (password ``!``), expired and has no login shell."""
    entry = _shadow_entry(user)
    return (entry is not None and entry[1].startswith("!") and entry[7] == "1"
            and pwd.getpwnam(user).pw_shell == NOLOGIN)


def retire_steps(site, user):
    """What retiring ``user`` still has to do: ``{images, keys, account}`` (only the pending)."""
    jump = site.site.jump_host
    steps = {}
    slot = site.layout.user_dir(user)
    if fsutil.exists(slot):
        steps["images"] = f"{slot} -> {attic_path(site, user)}"
    keys_file = os.path.join(jump.keys_dir, user)
    if fsutil.exists(keys_file):
        steps["keys"] = f"{keys_file} removed"
    if user in farm_accounts(jump.group) and not account_locked(user):
        steps["account"] = f"locked (usermod -L -e 1 -s {NOLOGIN})"
    return steps


def attic_path(site, user, today=None):
    """``<root>/attic/<user>-<YYYY-MM-DD>``, with ``.2``, ``.3`` ... when that one is taken."""
    base = os.path.join(site.site.root, "attic", f"{user}-{(today or datetime.date.today()).isoformat()}")
    path, n = base, 1
    while fsutil.exists(path):
        n += 1
        path = f"{base}.{n}"
    return path


def check_retirable(site, user):
    """Refused, with the reason, while anything of ``user`` is booted, in a switch or booked."""
    for board in site.boards():
        state = site.load_state(board.name)
        op = state.get("operation") or {}
        images = {state["image"], op.get("current"), op.get("target")} - {None}
        mine = sorted(i for i in images if parse_image(i)[0] == user)
        if mine:
            raise Refused(f"user {user} cannot be retired yet: image {mine[0]} is at board {board.name} "
                          f"(booted{', in a switch' if op else ''}); release the board first")
        if user in (state.get("user"), op.get("user")):
            raise Refused(f"user {user} cannot be retired yet: board {board.name} is booted for "
                          f"{user} ({state['image']}); release the board first")
    for booking in store.current_bookings(site):
        if user in (booking["user"], parse_image(booking["image"])[0]):
            raise Refused(f"user {user} cannot be retired yet: {booking['image']} is booked by "
                          f"{booking['user']} on board {booking['board']} until {booking['end']}")


def retire(site, user, test=False):
    """Move ``user``'s images to the attic (one rename), remove their keys, lock their account.

    ``{user, changes, comment}``; with ``test`` only what would change. Refused (nothing done)
    while anything of theirs is booted or booked, or while one of their images is in use.
    """
    check_name("user", user)
    if user in site.inventory.users:
        raise Refused(f"user {user} is in pillar: only a user removed from pillar is retired")
    steps = retire_steps(site, user)
    if not steps:
        return {"user": user, "changes": {}, "comment": f"user {user} is retired"}
    check_retirable(site, user)
    if test:
        return {"user": user, "changes": steps, "comment": f"user {user} would be retired"}
    done = {}
    if "images" in steps:
        done["images"] = _move_to_attic(site, user)
    if "keys" in steps:
        os.unlink(os.path.join(site.site.jump_host.keys_dir, user))
        done["keys"] = steps["keys"]
    if "account" in steps:
        _run(["usermod", "-L", "-e", "1", "-s", NOLOGIN, user])
        done["account"] = steps["account"]
    return {"user": user, "changes": done, "comment": f"user {user} retired: images in the attic, "
            "account locked"}


def _move_to_attic(site, user):
    slot = site.layout.user_dir(user)
    images = [f"{user}/{name}" for name in sorted(os.listdir(slot)) if NAME_RE.fullmatch(name)]
    # Every image held exclusively (a clone reading one refuses the move), the user's own imports
    # and clones held off, and the store held while the boards are checked again and it moves.
    with contextlib.ExitStack() as held:
        held.enter_context(site.store_lock())
        users_dir = os.path.join(site.layout.state_dir, "users")
        os.makedirs(users_dir, mode=0o700, exist_ok=True)
        held.enter_context(fsutil.exclusive_lock(os.path.join(users_dir, f"{user}.lock"),
                                                 f"the images of {user} (an import or clone)"))
        for image in images:
            held.enter_context(site.image_lock(image))
        check_retirable(site, user)
        attic = attic_path(site, user)
        os.makedirs(os.path.dirname(attic), mode=0o700, exist_ok=True)
        fsutil.rename(slot, attic)
    return f"{slot} -> {attic}"


def _run(argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise JetsonError(f"{argv[0]} failed: {err}") from None
    if proc.returncode:
        raise JetsonError(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.returncode}")
