"""VM boards: the kernel they take from their image, their command line, the accelerator."""

import os

import pytest

from jetson_lab import vm_board
from jetson_lab.errors import LabError


def test_newest_kernel_with_its_initramfs():
    names = {"vmlinuz-6.1.0-9-cloud-amd64", "initrd.img-6.1.0-9-cloud-amd64",
             "vmlinuz-6.1.0-50-cloud-amd64", "vmlinuz-6.2.0-1-cloud-amd64", "initrd.img-6.1.0-50-cloud-amd64"}
    # 6.2.0-1 has no initramfs; of the others 50 is newer than 9
    assert vm_board.newest_kernel(names) == ("vmlinuz-6.1.0-50-cloud-amd64",
                                             "initrd.img-6.1.0-50-cloud-amd64")
    assert vm_board.newest_kernel({"vmlinuz-1"}) is None


def test_boot_files_never_follow_the_images_links(tmp_path):
    root = tmp_path / "nfsroot"
    (root / "boot").mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_text("site server file")
    os.symlink(secret, root / "boot" / "vmlinuz-1")
    (root / "boot" / "initrd.img-1").write_bytes(b"initrd")
    with pytest.raises(LabError, match="symlink"):
        vm_board.extract_boot_files(str(root), tmp_path / "run")
    os.unlink(root / "boot" / "vmlinuz-1")
    (root / "boot" / "vmlinuz-1").write_bytes(b"kernel")
    assert vm_board.extract_boot_files(str(root), tmp_path / "run") == ("vmlinuz-1", "initrd.img-1")
    assert (tmp_path / "run" / "vmlinuz").read_bytes() == b"kernel"
    with pytest.raises(LabError, match="no boot/ folder"):
        vm_board.extract_boot_files(str(tmp_path / "run"), tmp_path / "run2")


def test_cmdline_names_the_board_and_its_export(tmp_path):
    board = vm_board.LabVMBoard("jvm1", "/lab/nfsroot/jvm1", tmp_path, ip="10.213.5.111",
                                mac="02:4a:4c:00:00:65", tap="jlabcdt101", server="10.213.5.1",
                                netmask="255.255.255.0", nfs_port=2049, rootdelay=7)
    line = board.cmdline()
    assert f"boot=nfs4 nfsroot=10.213.5.1:/lab/nfsroot/jvm1,{vm_board.NFS_OPTIONS} " in line
    assert "ip=10.213.5.111::10.213.5.1:255.255.255.0:jvm1:eth0:off" in line
    assert "rootdelay=7" in line and "net.ifnames=0" in line and "panic=5" in line
    board.nfs_port = 12049
    assert f"nfsroot=10.213.5.1:/lab/nfsroot/jvm1,port=12049,{vm_board.NFS_OPTIONS} " in board.cmdline()
    assert board.status()["power"] == "off"


def test_accel_is_tcg_under_a_nested_software_kvm(monkeypatch):
    monkeypatch.delenv("JETSON_LAB_ACCEL", raising=False)
    if os.path.exists("/sys/module/kvm_pvm") or not os.path.exists("/dev/kvm"):
        assert vm_board.choose_accel() == "tcg"
    monkeypatch.setenv("JETSON_LAB_ACCEL", "kvm")
    assert vm_board.choose_accel() == "kvm"
