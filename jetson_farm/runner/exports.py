"""What each site's NFS server exports, against the pillar (``salt-run jetson.check``).

Every site is asked for ``jetson_nfs.exports`` (all its server's exports). An export the pillar
does not know is listed under its site. It is a problem when the farm made it (its line in the
farm's owned file: a board whose retirement was refused, a moved nfsroot), or when it lies
around or inside a board's nfsroot or the site root, whoever made it: then it hands a root or
the store to someone (rule 7). A board's export that reaches more than its own ip is a problem
too. Other exports of the server (an admin's own share of another folder) are only listed.
"""

from jetson_farm import nfsroots

ASK_TIMEOUT = 10


def _overlap(path, site, boards):
    """What of the site ``path`` lies around or inside, or None."""
    for folder, what in [(site.root, f"the root of sites.{site.name}")] + [
            (board.nfsroot, f"boards.{board.name}'s nfsroot") for board in boards]:
        if nfsroots.normalised(path) == nfsroots.normalised(folder) or nfsroots.inside(path, folder):
            return f"inside {what} ({folder})"
        if nfsroots.inside(folder, path):
            return f"around {what} ({folder})"
    return None


def site_problems(site, boards, exports):
    """``(unknown exports, problems)`` of one site's answer to ``jetson_nfs.exports``."""
    unknown, problems = [], []
    where = f"{site.name}: {site.minion}'s NFS server"
    for entry in exports:
        clients = ", ".join(entry.get("clients") or ["(clients unknown)"])
        if entry.get("known"):
            if entry.get("active") and not entry.get("current"):
                problems.append(f"{where} exports boards.{entry['board']}'s nfsroot {entry['path']} to "
                                f"{clients}, not exactly as the farm does (to its ip only): run "
                                f"jetson_nfs.export {entry['board']} on {site.minion}")
            continue
        unknown.append(entry)
        overlap = _overlap(entry["path"], site, boards)
        if entry.get("configured"):
            problems.append(f"{where} exports {entry['path']} to {clients} for board {entry['board']}, which "
                            f"the pillar does not name for that path: a leftover of the farm's; withdraw it "
                            f"or give the board back its nfsroot")
        elif overlap:
            problems.append(f"{where} exports {entry['path']} to {clients}, {overlap}: withdraw that export")
    return unknown, problems


def farm_report(inventory, ops):
    """``{<site>: [unknown exports] or "no answer from ...", "problems": [...]}``; a site that
    does not answer is noted, not counted a problem."""
    found, problems = {}, []
    for name, site in sorted(inventory.sites.items()):
        answered, value = ops.try_call(site.minion, "jetson_nfs.exports", timeout=ASK_TIMEOUT)
        if not answered:
            found[name] = f"no answer from {site.minion}"
            continue
        if not isinstance(value, list) or not all(isinstance(e, dict) and "path" in e for e in value):
            found[name] = f"jetson_nfs.exports failed on {site.minion}"
            problems.append(f"{name}: jetson_nfs.exports failed on {site.minion}: {value}")
            continue
        found[name], mine = site_problems(site, inventory.boards_of_site(name), value)
        problems += mine
    found["problems"] = problems
    return found
