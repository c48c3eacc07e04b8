"""salt/states/jetson/bridge.sls renders on a real minion: config, secrets, the systemd timer."""

import json

PILLAR = {"jetson_bridge": {
    "command": "/opt/jetson-farm/.venv/bin/calendar-bridge",
    "schedule": "*:0/5",
    "caldav_password": "not-shown",
    "config": {"caldav": {"url": "https://dav.example.org/", "username": "bridge",
                          "password_file": "/etc/jetson-farm/caldav.secret"},
               "calendar_template": "{user}/boards/", "lead_time": "10m"},
}}


def test_bridge_sls_renders_config_secret_and_timer(farm):
    ret = farm.call("state.show_sls", "jetson.bridge", f"pillar={json.dumps(PILLAR)}")
    assert ret.returncode == 0, ret
    high = ret.data
    config = next(a["dataset"] for a in high["jetson-bridge-config"]["file"] if isinstance(a, dict)
                  and "dataset" in a)
    assert config["calendar_template"] == "{user}/boards/"
    secret = {k: v for a in high["jetson-bridge-caldav_password"]["file"] if isinstance(a, dict)
              for k, v in a.items()}
    assert secret["name"] == "/etc/jetson-farm/caldav.secret" and secret["mode"] == "0600"
    assert secret["contents_pillar"] == "jetson_bridge:caldav_password" and secret["show_changes"] is False
    timer = next(a["contents"] for a in high["jetson-bridge-timer"]["file"] if isinstance(a, dict)
                 and "contents" in a)
    assert "OnCalendar=*:0/5" in timer
    service = next(a["contents"] for a in high["jetson-bridge-service"]["file"] if isinstance(a, dict)
                   and "contents" in a)
    assert ("ExecStart=/opt/jetson-farm/.venv/bin/calendar-bridge --config /etc/jetson-farm/bridge.yaml sync"
            in service)
    assert "jetson-bridge-salt_api_password" not in high  # only the secrets the pillar has
