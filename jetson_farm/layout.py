"""Where things live on a site server (docs/architecture.md, "The site server").

::

    <root>/images/<user>/<image>/      a parked rootfs, owned by <user>
    <root>/boards/<board>/identity/    the board's minion key pair and SSH host keys
    <root>/state/<board>.json          what sits at the board's nfsroot, and the switch in progress
"""

import os
from dataclasses import dataclass

from jetson_farm.names import check_name, parse_image


@dataclass(frozen=True)
class SiteLayout:
    root: str

    @property
    def images_dir(self):
        return os.path.join(self.root, "images")

    @property
    def boards_dir(self):
        return os.path.join(self.root, "boards")

    @property
    def state_dir(self):
        return os.path.join(self.root, "state")

    def user_dir(self, user):
        return os.path.join(self.images_dir, check_name("user", user))

    def image_path(self, image):
        """The store slot of ``user/name``."""
        user, name = parse_image(image)
        return os.path.join(self.images_dir, user, name)

    def identity_dir(self, board):
        return os.path.join(self.boards_dir, check_name("board", board), "identity")

    def state_file(self, board):
        return os.path.join(self.state_dir, f"{check_name('board', board)}.json")

    def ensure(self):
        """Create the store's folders (root-owned, not world-writable)."""
        for path in (self.images_dir, self.boards_dir, self.state_dir):
            os.makedirs(path, mode=0o755, exist_ok=True)
