"""What a fresh lab holds: its ``jetson`` pillar, the boards' identities and three small images."""

import json
import logging
import os
import pathlib

from jetson_lab import vm_farm
from jetson_lab.config import SITE_MINION
from jetson_lab.saltconf import accept_key, ensure_key_pair

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "admin/l4t-base"
SEED_IMAGES = {
    "admin/l4t-base": "L4T base (jetson-lab seed image)",
    "alice/cuda-dev": "CUDA development (jetson-lab seed image)",
    "bob/ros": "ROS (jetson-lab seed image)",
}
LAB_SSH_KEYS = {
    "alice": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILabAliceLabAliceLabAliceLabAliceLabAlice00 alice@lab",
    "bob": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILabBobLabBobLabBobLabBobLabBobLabBobLab0 bob@lab",
    "admin": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILabAdminLabAdminLabAdminLabAdminLabAdm0 admin@lab",
}


def default_image(board):
    """Board ``board``'s own default image: an image sits at one nfsroot at most (rule 1), so
    each board gets its own copy of the base image, named after it."""
    return f"{DEFAULT_IMAGE}-{board}"


def seed_images(config, site=SITE_MINION):
    """{image: description} of every image a fresh lab holds on ``site``: the seed images on
    every site, and each board's default image on the board's own site."""
    images = dict(SEED_IMAGES)
    for board in config.boards:
        if config.site_of(board) == site:
            images[default_image(board)] = f"L4T base for {board} (jetson-lab seed image)"
    return images


def lab_pillar(config, ganesha_dbus=None):
    """The lab's ``jetson`` pillar: each site on its own Ganesha (``ganesha_dbus``: ``{site:
    its bus address}``), boards on the bridge, power via the lab."""
    net = config.network
    sites = {}
    for site in config.site_names:
        nfs = {
            "backend": "ganesha",
            "network": str(net.network),
            "options": ["rw", "insecure", "no_subtree_check", "async", "no_root_squash"],
            "ganesha_conf": str(config.ganesha_dir_of(site) / "jetson.conf"),
        }
        if (ganesha_dbus or {}).get(site):
            nfs["ganesha_dbus"] = ganesha_dbus[site]
        sites[site] = {"minion": site, "root": str(config.site_root_of(site)),
                       "address": config.site_address(site), "nfs": nfs}
    pillar = {
        "master": net.bridge_addr,
        "timezone": "UTC",
        "sites": sites,
        "defaults": {"image": DEFAULT_IMAGE, "boot_timeout": 60, "down_timeout": 20,
                     "power": {"driver": "lab", "socket": config.socket_path}},
        "boards": {},
        "users": {
            "admin": {"email": "admin@example.org", "admin": True, "ssh_keys": [LAB_SSH_KEYS["admin"]]},
            "alice": {"email": "alice@example.org", "ssh_keys": [LAB_SSH_KEYS["alice"]], "quota_gb": 50},
            "bob": {"email": "bob@example.org", "ssh_keys": [LAB_SSH_KEYS["bob"]], "quota_gb": 5},
        },
        "images": {DEFAULT_IMAGE: {"shared": True, "description": SEED_IMAGES[DEFAULT_IMAGE]}},
    }
    for board in config.boards:
        pillar["images"][default_image(board)] = {"shared": True,
                                                  "description": f"L4T base for {board}"}
    for index, board in enumerate(config.boards, start=1):
        pillar["boards"][board] = {
            "site": config.site_of(board),
            "minion": board,
            "ip": net.board_addr(index),
            "mac": f"02:4a:4c:00:{index // 256:02x}:{index % 256:02x}",
            "nfsroot": config.nfsroot(board),
            "netmask": "255.255.255.0",
            "gateway": net.bridge_addr,
            "flash": {"target": "jetson-tk1", "iface": "eth0"},
            "image": default_image(board),
        }
    if config.vm_boards:
        pillar["boards"].update(vm_farm.pillar_boards(config))
        for board in config.vm_boards:
            pillar["images"][vm_farm.default_image(board)] = {"shared": True,
                                                               "description": f"Debian NFS root for {board}"}
    return pillar


def write_pillar(config, pillar):
    """top.sls (the inventory for the site minion only: rule 6) and jetson.sls."""
    config.pillar_dir.mkdir(parents=True, exist_ok=True)
    top = "".join(f"  '{site}':\n    - jetson\n    - recipes\n" for site in config.site_names)
    (config.pillar_dir / "top.sls").write_text(f"base:\n{top}")
    # The image recipes jetson_rootfs.build reads (pillar jetson_recipes), beside the inventory.
    recipes = {"jetson_recipes": vm_farm.recipes()}
    (config.pillar_dir / "recipes.sls").write_text(json.dumps(recipes, indent=1))
    tmp = config.pillar_dir / "jetson.sls.tmp"
    tmp.write_text(json.dumps({"jetson": pillar}, indent=1))
    os.replace(tmp, config.pillar_dir / "jetson.sls")


def read_pillar(config):
    return json.loads((config.pillar_dir / "jetson.sls").read_text())["jetson"]


def ensure_identities(config, boards):
    """Each board's minion key pair in ``<root>/boards/<b>/identity/``, accepted on the master
    (the fallback where the runner's ``jetson.enroll`` is not available)."""
    for board in boards:
        identity = config.site_root_of(config.site_of(board)) / "boards" / board / "identity"
        accept_key(config, board, ensure_key_pair(identity))


def ensure_images(config):
    """Each site's seed images in its store, unless already somewhere (store slot or an nfsroot)."""
    for site in config.site_names:
        root = config.site_root_of(site)
        for image, description in seed_images(config, site).items():
            slot = root / "images" / image
            if slot.exists() or _at_some_nfsroot(root, image):
                continue
            _make_rootfs(slot, image, description)
            log.info("seeded image %s on %s", image, site)


def _at_some_nfsroot(root, image):
    for state_file in (root / "state").glob("*.json"):
        try:
            if json.loads(state_file.read_text()).get("image") == image:
                return True
        except (OSError, ValueError):
            continue
    return False


def _make_rootfs(slot, image, description):
    user, name = image.split("/")
    for rel in ("bin", "etc", "home", "root", "tmp", "usr/bin", "var/log"):
        (slot / rel).mkdir(parents=True, exist_ok=True)
    (slot / "etc" / "os-release").write_text(
        f'NAME="jetson-lab {name}"\nID={name}\nPRETTY_NAME="{description}"\n'
        f"JETSON_LAB_IMAGE={image}\n")
    (slot / "etc" / "hostname").write_text(f"{name}\n")
    (slot / "etc" / "motd").write_text(f"{description}, owned by {user}\n")
    (slot / "usr" / "bin" / "hello").write_text(f"#!/bin/sh\necho hello from {image}\n")
    os.chmod(slot / "usr" / "bin" / "hello", 0o755)  # noqa: S103 - an executable of the image
    os.chmod(slot / "tmp", 0o1777)  # noqa: S103 - a rootfs's /tmp is sticky, world-writable
    pathlib.Path(slot / "home" / ".keep").touch()
