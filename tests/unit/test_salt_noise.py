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


def _installed():
    return {name: [f for f in logging.getLogger(name).filters if isinstance(f, SaltLeakFilter)]
            for name in SALT_OWN_LEAKS}


@pytest.fixture
def unhidden():
    """No filter while the test runs (as before the fix), then the process's filters back.

    Salt imports jetson_farm.loader, which installs them, whenever it builds a loader here."""
    import jetson_farm.loader  # noqa: F401  (its import-time install happens now, not mid-test)

    before = _installed()
    for name, filters in before.items():
        for installed in filters:
            logging.getLogger(name).removeFilter(installed)
    yield
    for name, filters in before.items():
        for installed in filters:
            logging.getLogger(name).addFilter(installed)


@pytest.fixture
def hidden():
    hide_salt_leak_warnings()


def leaked_messages(caplog, make):
    """The ``unclosed`` warnings logged when the object ``make()`` returns is dropped undestroyed."""
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        obj = make()
        del obj
        gc.collect()
    return [record.getMessage() for record in caplog.records if "unclosed" in record.getMessage()]


def test_salt_does_warn_about_its_dropped_objects(opts, caplog, unhidden):
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
