"""Where a board's nfsroot may lie, and whose address may reach it (rule 7, docs/inventory.md).

Each nfsroot is exported read-write, root unsquashed, to its board. So it must not be a system
folder of the site server, hold or sit inside another board's nfsroot, or hold or sit inside the
site's root (the store of every user's images, the boards' identities). Paths are compared
normalised (``//etc``, ``/etc/.`` and ``/etc/`` are ``/etc``); only the boards of one site are
compared, since each site is its own server.
"""

import ipaddress
import posixpath

# Folders of the site server's own system: exporting one of them to a board would hand the
# board's user root over the server. Their subfolders are fine (``/srv/NFSRoot1``).
SYSTEM_FOLDERS = frozenset({
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media",
    "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/snap", "/srv", "/sys", "/tmp", "/usr",
    "/usr/bin", "/usr/lib", "/usr/local", "/usr/sbin", "/usr/share", "/var", "/var/lib", "/var/log",
    "/var/tmp",
})


def normalised(path):
    """``path`` as the kernel resolves it, without symlinks: ``//etc/.`` -> ``/etc``."""
    return "/" + posixpath.normpath(path).lstrip("/")


def is_system_folder(path):
    path = normalised(path)
    return path in SYSTEM_FOLDERS or (path.startswith("/lib") and "/" not in path[1:])


def inside(path, folder):
    """True when ``path`` lies strictly under ``folder``."""
    path, folder = normalised(path), normalised(folder)
    return path != folder and path.startswith(folder.rstrip("/") + "/")


def _against_site(nfsroot, site_name, root, store):
    where = f"sites.{site_name}"
    if normalised(nfsroot) == normalised(root):
        return f"{nfsroot} is the root of {where} (the store and the boards' identities)"
    if normalised(nfsroot) == normalised(store) or inside(nfsroot, store):
        return f"{nfsroot} is inside the store of {where} ({store}): other users' images"
    if inside(nfsroot, root):
        return f"{nfsroot} is inside the root of {where} ({root}): the store and the boards' identities"
    if inside(root, nfsroot):
        return f"{nfsroot} holds the root of {where} ({root}): the store and the boards' identities"
    return None


def path_problems(nfsroots, site_name, root, store):
    """``[(board, message)]`` for the nfsroots ``{board: path}`` of the site ``site_name``."""
    found = []
    for board, path in sorted(nfsroots.items()):
        if is_system_folder(path):
            found.append((board, f"{path} is a system folder of the site server"))
        problem = _against_site(path, site_name, root, store)
        if problem:
            found.append((board, problem))
        for other, other_path in sorted(nfsroots.items()):
            if other == board:
                continue
            if normalised(path) == normalised(other_path) and other < board:
                found.append((board, f"{path} is also boards.{other}'s"))
            elif inside(path, other_path):
                found.append((board, f"{path} is inside boards.{other}'s nfsroot {other_path}"))
    return found


def address_problems(ips, site_name, network):
    """``[(board, message)]`` for the addresses ``{board: ip}`` of the site ``site_name``: one
    board per address, each inside the site's ``network``."""
    found, owners = [], {}
    bound = ipaddress.IPv4Network(network)
    for board, ip in sorted(ips.items()):
        other = owners.setdefault(ip, board)
        if other != board:
            found.append((board, f"{ip} is also boards.{other}'s: each would reach the other's nfsroot"))
        if ipaddress.IPv4Address(ip) not in bound:
            found.append((board, f"{ip} is outside sites.{site_name}.nfs.network {network}"))
    return found
