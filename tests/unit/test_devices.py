"""The device list and its loose search (services/devices.py, docs/esim.md#device-compatibility):
the shipped file, a seller file merged over it, malformed files refused, start-up refusing them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from travelsim import startup
from travelsim.services import devices
from travelsim.settings import Settings

SHIPPED = json.loads(devices.SHIPPED_FILE.read_text(encoding="utf-8"))["devices"]


def _write(tmp_path: Path, entries: object, name: str = "seller.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"devices": entries}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("pixel 8", "Google Pixel 8"),
        ("Pixel 8", "Google Pixel 8"),
        ("PIXEL8", "Google Pixel 8"),
        ("iphone15", "Apple iPhone 15"),
        ("iPhone 15 Pro Max", "Apple iPhone 15 Pro Max"),
        ("galaxy s24", "Samsung Galaxy S24"),
        ("Samsung Galaxy S24", "Samsung Galaxy S24"),
        ("samsung s24 ultra", "Samsung Galaxy S24 Ultra"),
        ("SM-S921B", "Samsung Galaxy S24"),
        ("sm-f731b", "Samsung Galaxy Z Flip5"),
    ],
)
def test_loose_queries_name_one_device(query: str, name: str) -> None:
    match = devices.check(query)
    assert match.device is not None
    assert match.device.name == name
    assert match.verdict in ("supported", "caveat")


def test_an_exact_name_comes_before_the_longer_names_it_starts() -> None:
    found = [d.name for d in devices.search("pixel 8")]
    assert found[0] == "Google Pixel 8"
    assert set(found[1:3]) == {"Google Pixel 8 Pro", "Google Pixel 8a"}


def test_a_device_without_caveat_is_supported_one_with_a_caveat_says_it() -> None:
    pixel = devices.check("pixel 8")
    assert pixel.verdict == "supported"
    assert pixel.device is not None and pixel.device.caveat == ""
    iphone = devices.check("iphone 15")
    assert iphone.verdict == "caveat"
    raw = next(e for e in SHIPPED if e["model"] == "iPhone 15")
    assert iphone.device is not None and iphone.device.caveat == raw["caveat"]
    assert "mainland China" in iphone.device.caveat


def test_a_vague_or_unknown_query_is_not_a_verdict() -> None:
    vague = devices.check("pixel")
    assert vague.verdict == "unknown" and vague.device is None
    assert len(vague.candidates) > 1
    assert all(d.brand == "Google" for d in vague.candidates)
    unknown = devices.check("Nokia 3310")
    assert (unknown.verdict, unknown.device, unknown.candidates) == ("unknown", None, ())
    assert devices.search("   ") == []


def test_every_shipped_entry_names_a_manufacturer_page_and_a_kind() -> None:
    hosts = {"support.apple.com", "support.google.com", "www.samsung.com"}
    for entry in SHIPPED:
        assert entry["kind"] in devices.KINDS
        assert entry["source"].split("/")[2] in hosts, entry
    kinds = {e["kind"] for e in SHIPPED}
    assert kinds == {"phone", "tablet", "watch"}


def test_every_shipped_caveat_is_marked_for_translation() -> None:
    caveats = {e["caveat"] for e in SHIPPED if e.get("caveat")}
    assert caveats <= set(devices.CAVEATS)


def test_a_seller_file_replaces_and_extends_the_list(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {
                "brand": "Google",
                "model": "Pixel 8",
                "kind": "phone",
                "source": "https://support.google.com/pixelphone/answer/9449293",
                "caveat": "Not the Japanese carrier models.",
            },
            {
                "brand": "Fairphone",
                "model": "Fairphone 5",
                "kind": "phone",
                "source": "https://support.fairphone.com/hc/en-us",
            },
        ],
    )
    listed = devices.device_list(Settings(devices_file=path))
    assert len(listed) == len(SHIPPED) + 1
    pixel = devices.check("pixel 8", devices=listed)
    assert pixel.verdict == "caveat"
    assert pixel.device is not None and pixel.device.caveat == "Not the Japanese carrier models."
    fair = devices.check("fairphone 5", devices=listed)
    assert fair.verdict == "supported"
    assert fair.device is not None and fair.device.name == "Fairphone 5"
    assert devices.check("fairphone 5").verdict == "unknown"  # not in the shipped list


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        ("{not json", "cannot be read as JSON"),
        (json.dumps({"phones": []}), 'expected {"devices": [...]}'),
        (json.dumps({"devices": ["Pixel 8"]}), "entry 1: an entry must be an object"),
        (
            json.dumps(
                {
                    "devices": [
                        {
                            "brand": "X",
                            "model": "Y",
                            "kind": "laptop",
                            "source": "https://x.example",
                        }
                    ]
                }
            ),
            "entry 1: kind must be one of phone, tablet, watch",
        ),
        (
            json.dumps(
                {
                    "devices": [
                        {"brand": "X", "model": "", "kind": "phone", "source": "https://x.example"}
                    ]
                }
            ),
            "entry 1: model is missing",
        ),
        (
            json.dumps(
                {
                    "devices": [
                        {"brand": "X", "model": "Y", "kind": "phone", "source": "http://x.example"}
                    ]
                }
            ),
            "entry 1: source must be the manufacturer's https:// page",
        ),
        (
            json.dumps(
                {
                    "devices": [
                        {
                            "brand": "X",
                            "model": "Y",
                            "kind": "phone",
                            "source": "https://x.example",
                            "esim": True,
                        }
                    ]
                }
            ),
            "entry 1: unknown field(s) esim",
        ),
        (
            json.dumps(
                {
                    "devices": [
                        {
                            "brand": "X",
                            "model": "Y",
                            "kind": "phone",
                            "source": "https://x.example",
                        },
                        {
                            "brand": "x",
                            "model": "y",
                            "kind": "watch",
                            "source": "https://x.example",
                        },
                    ]
                }
            ),
            "entry 2: x y is listed twice",
        ),
    ],
)
def test_a_malformed_seller_file_is_refused_naming_the_fault(
    tmp_path: Path, content: str, fault: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(devices.DeviceListError) as err:
        devices.device_list(Settings(devices_file=path))
    assert str(path) in str(err.value)
    assert fault in str(err.value)


def test_start_up_refuses_a_malformed_seller_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"devices": [{"brand": "X"}]}), encoding="utf-8")
    found = startup.problems(Settings(devices_file=bad))
    assert [p for p in found if p.startswith("DEVICES_FILE: ")] == [
        f"DEVICES_FILE: device file {bad}, entry 1: model is missing"
    ]
    assert startup.devices_problem(Settings(devices_file=None)) is None
    missing = tmp_path / "nowhere.json"
    assert "cannot be read" in (startup.devices_problem(Settings(devices_file=missing)) or "")
