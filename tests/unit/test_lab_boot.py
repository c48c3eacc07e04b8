"""What a lab board takes from its nfsroot at boot, and the config it builds from it."""

import json

import pytest
import yaml

from jetson_farm import marker
from jetson_lab import boot
from jetson_lab.errors import BootFailed

PEM = (b"-----BEGIN RSA PRIVATE KEY-----\n"
       b"MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
       b"-----END RSA PRIVATE KEY-----\n")
PUB = (b"-----BEGIN PUBLIC KEY-----\n"
       b"MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n"
       b"-----END PUBLIC KEY-----\n")


def boot_files(**changes):
    files = {
        marker.MINION_ID: b"jtk1\n",
        marker.MINION_CONF: b'# written by jetson-farm\nmaster: "10.213.5.1"\nid: "jtk1"\n',
        f"{marker.PKI_DIR}/minion.pem": PEM,
        f"{marker.PKI_DIR}/minion.pub": PUB,
        marker.MARKER: json.dumps({"board": "jtk1", "image": "alice/cuda-dev", "user": "alice",
                                   "switch_id": "s1", "extra": "dropped"}).encode(),
        marker.HOSTNAME: b"jtk1\n",
    }
    files.update(changes)
    return {k: v for k, v in files.items() if v is not None}


def test_identity_is_read_from_the_injected_files():
    assert boot.parse_identity(boot_files()) == ("jtk1", "10.213.5.1", 4506)


@pytest.mark.parametrize(("changes", "message"), [
    ({marker.MINION_ID: b"../etc\n"}, "etc/salt/minion_id: invalid minion"),
    ({marker.MINION_CONF: b"master: [unclosed\n"}, "etc/salt/minion.d/jetson.conf is not YAML"),
    ({marker.MINION_CONF: b"- a list\n"}, "must be a mapping with master and id"),
    ({marker.MINION_CONF: b"master: 10.213.5.1\nid: jtk2\n"},
     "names id 'jtk2', but etc/salt/minion_id says 'jtk1'"),
    ({marker.MINION_CONF: b"master: 'evil host; rm -rf /'\n"},
     "master 'evil host; rm -rf /' is not an address"),
    ({marker.MINION_CONF: b"master: 10.213.5.1\nmaster_port: 99999\n"},
     "master_port 99999 is not a TCP port"),
    ({f"{marker.PKI_DIR}/minion.pem": b"not a key"}, "etc/salt/pki/minion/minion.pem is not a PEM key"),
])
def test_a_bad_identity_fails_the_boot_naming_the_file(changes, message):
    with pytest.raises(BootFailed, match=None) as err:
        boot.parse_identity(boot_files(**changes))
    assert message in str(err.value)


def test_the_runtime_dir_holds_everything_and_config_points_nowhere_else(tmp_path):
    run_dir = tmp_path / "run" / "jtk1"
    minion_id, conf_dir = boot.prepare_runtime(run_dir, boot_files(), run_dir / "control.sock")
    assert minion_id == "jtk1" and conf_dir == str(run_dir / "etc" / "salt")
    config = yaml.safe_load((run_dir / "etc" / "salt" / "minion").read_text())
    assert config["id"] == "jtk1" and config["master"] == "10.213.5.1"
    paths = [v for v in config.values() if isinstance(v, str) and v.startswith("/")]
    paths += [p for v in config.values() if isinstance(v, list) for p in v if p.startswith("/")]
    assert paths, config
    for path in paths:
        assert path == str(run_dir) or path.startswith(str(run_dir) + "/"), path
    assert (run_dir / "etc/salt/pki/minion/minion.pem").stat().st_mode & 0o777 == 0o600
    assert (run_dir / "extmods/modules/system.py").is_file()
    # No copy of the board grain: it comes through the package's salt.loader entry point.
    assert not (run_dir / "extmods/grains").exists() and "grains_dirs" not in config
    # The marker reaches the grain re-serialised from its known keys only.
    assert marker.read_marker(config["jetson_root"]) == {
        "board": "jtk1", "image": "alice/cuda-dev", "user": "alice", "switch_id": "s1"}
    assert json.loads((run_dir / "root" / marker.MARKER).read_text()).keys() == {
        "board", "image", "user", "switch_id"}


def test_a_reboot_starts_from_a_clean_ram_but_keeps_the_logs(tmp_path):
    run_dir = tmp_path / "jtk1"
    boot.prepare_runtime(run_dir, boot_files(), run_dir / "control.sock")
    (run_dir / "log" / "minion").write_text("first boot\n")
    boot.prepare_runtime(run_dir, boot_files(**{marker.MARKER: None}), run_dir / "control.sock")
    assert not (run_dir / "root" / marker.MARKER).exists()
    assert (run_dir / "log" / "minion").read_text() == "first boot\n"


def test_nfs_url_names_version_4_and_the_port():
    assert boot.nfs_url("10.213.5.1", 2049, "/srv/NFSRoot1/", "etc/salt/minion_id") == \
        "nfs://10.213.5.1/srv/NFSRoot1/etc/salt/minion_id?version=4&nfsport=2049"
