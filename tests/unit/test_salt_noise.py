"""The filter for Salt's own finalizer warnings (jetson_farm/salt_noise.py), against real Salt objects.

Salt 3008.3 logs ``unclosed <class> ...`` when one of its objects is collected without
``destroy()``. The filter must hide exactly the three Salt leaves behind by itself and nothing
else: a MasterEvent left open (the kind of leak our own code could make) still shows.
"""

import gc
import logging

import pytest
import salt.config
import salt.minion
import salt.runner
import salt.utils.event

from jetson_farm.salt_noise import SALT_OWN_LEAKS, SaltLeakFilter, hide_salt_leak_warnings


@pytest.fixture
def opts(tmp_path):
    opts = salt.config.master_config(str(tmp_path / "master"))
    opts.update(sock_dir=str(tmp_path / "sock"), cachedir=str(tmp_path / "cache"),
                extension_modules=str(tmp_path / "extmods"))
    return opts


@pytest.fixture
def hidden():
    hide_salt_leak_warnings()
    yield
    for name in SALT_OWN_LEAKS:
        logger = logging.getLogger(name)
        for installed in [f for f in logger.filters if isinstance(f, SaltLeakFilter)]:
            logger.removeFilter(installed)


def leaked_messages(caplog, make):
    """The ``unclosed`` warnings logged when the object ``make()`` returns is dropped undestroyed."""
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        obj = make()
        del obj
        gc.collect()
    return [record.getMessage() for record in caplog.records if "unclosed" in record.getMessage()]


def test_salt_does_warn_about_its_dropped_objects(opts, caplog):
    # Without the filter: what the filter is for (if Salt stops warning, the filter can go).
    assert [m.split(" <")[0] for m in leaked_messages(caplog, lambda: salt.runner.RunnerClient(opts))] == [
        "unclosed RunnerClient"]
    assert [m.split(" <")[0] for m in leaked_messages(
        caplog, lambda: salt.minion.MasterMinion(opts, states=False, rend=False, matcher=False))] == [
        "unclosed MasterMinion"]


def test_the_filter_hides_salts_own_leaks(opts, caplog, hidden):
    assert leaked_messages(caplog, lambda: salt.runner.RunnerClient(opts)) == []
    assert leaked_messages(
        caplog, lambda: salt.minion.MasterMinion(opts, states=False, rend=False, matcher=False)) == []


def test_the_filter_leaves_other_leaks_visible(opts, caplog, hidden):
    messages = leaked_messages(caplog, lambda: salt.utils.event.get_master_event(opts, opts["sock_dir"],
                                                                                 listen=True))
    assert [m.split(" <")[0] for m in messages] == ["unclosed MasterEvent"]


def test_installing_twice_adds_one_filter_per_logger(hidden):
    hide_salt_leak_warnings()
    for name in SALT_OWN_LEAKS:
        assert sum(isinstance(f, SaltLeakFilter) for f in logging.getLogger(name).filters) == 1
