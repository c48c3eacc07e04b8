"""What a user root on a board can send with its own minion key, past ``event.fire_master``: a raw
``_return`` request on the master's request channel that names another minion as its
``resource_id``. Salt 3008 authenticates the sender, then files the return under that id
(``AESFuncs._return``), in the job cache too.

Run inside the board's network namespace:
``python -m tests.forge_return <minion config dir> '<load as JSON>'``; prints what the master said.
Without the load it is read from stdin: the process can be started (Salt imported, its config
read) before the job it answers exists.
"""

import json
import sys

import salt.channel.client
import salt.config
import salt.minion


def main(config_dir, load=None):
    opts = salt.config.minion_config(f"{config_dir}/minion")
    opts.update(salt.minion.resolve_dns(opts))  # master_ip and master_uri, as salt-call finds them
    if load is None:
        load = sys.stdin.read()
    with salt.channel.client.ReqChannel.factory(opts) as channel:
        print(json.dumps(channel.send(dict(json.loads(load), cmd="_return"), timeout=30)))


if __name__ == "__main__":
    main(*sys.argv[1:])
