"""The one mechanism of the admin states (``travelsim.state.admin.base``): every handler of
every admin state goes through the staff gate and shows Reflex the page's arguments only;
the lists' filter forms read and check their fields in one way. Expected values come from
the forms' field names (``travelsim.pages.admin``) and the documented date format
(``YYYY-MM-DD``, UTC)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from reflex.state import State

from travelsim.state.admin import ADMIN_STATES
from travelsim.state.admin.base import (
    ANY,
    STAFF_GATED,
    AdminState,
    FormFilter,
    ListMixin,
    filter_value,
    form_number,
)
from travelsim.state.admin.orders import AdminOrdersState
from travelsim.state.admin.travelers import AdminTravelersState


def _handlers() -> list[tuple[type[AdminState], str]]:
    return [(cls, name) for cls in ADMIN_STATES for name in cls.event_handlers if name != "setvar"]


def test_every_admin_handler_passes_the_staff_gate() -> None:
    found = _handlers()
    assert len(found) > 40
    for cls, name in found:
        fn = cls.event_handlers[name].fn
        assert getattr(fn, STAFF_GATED, False) is True, f"{cls.__name__}.{name}"
        wrapped = list(inspect.signature(fn.__wrapped__).parameters)
        shown = list(inspect.signature(fn).parameters)
        assert wrapped[1] == "staff", f"{cls.__name__}.{name}"
        assert shown == [wrapped[0], *wrapped[2:]], f"{cls.__name__}.{name}"


def test_every_list_handles_load_search_paging_and_sorting() -> None:
    lists = [cls for cls in ADMIN_STATES if issubclass(cls, ListMixin)]
    assert len(lists) == 6
    for cls in lists:
        assert {"load", "search", "next_page", "prev_page", "sort_by"} <= set(cls.event_handlers)
        fields = cls.get_fields()
        assert cls.filters, cls.__name__
        assert len({f.key for f in cls.filters}) == len(cls.filters), cls.__name__
        for f in cls.filters:
            assert f.var in fields, (cls.__name__, f.var)


def test_form_filters_read_their_field() -> None:
    form: dict[str, Any] = {
        "traveler": "x" * 150,
        "status": "",
        "staff_only": "on",
        "date_from": "  2025-03-04  ",
    }
    assert FormFilter("f_traveler", "traveler", max_len=100).read(form) == "x" * 100
    assert FormFilter("f_missing", "missing").read(form) == ""
    assert FormFilter("f_status", "status", "choice").read(form) == ANY
    assert FormFilter("f_status", "status", "choice").read({"status": "paid"}) == "paid"
    assert FormFilter("f_staff", "staff_only", "flag").read(form) is True
    assert FormFilter("f_staff", "staff_only", "flag").read({}) is False
    assert FormFilter("f_from", "date_from", "day").read(form) == "2025-03-04"
    assert FormFilter("f_from", "date_from", "day").read({"date_from": "1" * 30}) == "1" * 20


def test_only_a_day_that_does_not_parse_is_refused() -> None:
    day = FormFilter("f_from", "date_from", "day", label="From")
    assert day.refusal("") is None
    assert day.refusal("2025-03-04") is None
    refusal = day.refusal("2025-02-30")
    assert refusal is not None and refusal.startswith("From: ")
    assert FormFilter("f_q", "query").refusal("2025-02-30") is None


def test_filter_values_and_numbers() -> None:
    assert filter_value("") is None
    assert filter_value(None) is None
    assert filter_value(ANY) is None
    assert filter_value("  ab  ") == "ab"
    assert filter_value("y" * 120) == "y" * 100
    assert form_number("1,5") == 1.5
    assert form_number("200") == 200.0
    assert form_number("lots") == 0.0


def _state(cls: type[AdminState]) -> Any:
    root = State(_reflex_internal_init=True)
    return root.get_substate(cls.get_full_name().split(".")[1:])


@pytest.fixture
def as_staff(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The gate lets the tab in (a stand-in staff member); list reads are recorded (the
    page asked for) instead of going to the database."""
    reads: list[int] = []

    async def staff(self: Any) -> object:
        return object()

    async def reload(self: Any) -> None:
        reads.append(self.page)

    for cls in (AdminOrdersState, AdminTravelersState):
        monkeypatch.setattr(cls, "_staff", staff)
        monkeypatch.setattr(cls, "_reload", reload)
    return reads


async def test_search_refuses_a_bad_date_and_reads_nothing(as_staff: list[int]) -> None:
    state = _state(AdminOrdersState)
    state.page = 3
    search = AdminOrdersState.event_handlers["search"].fn
    form = {"status": "", "traveler": "t" * 120, "date_from": " 2025-02-30 ", "date_to": ""}
    assert await search(state, form) is None
    assert (state.f_status, state.f_traveler, state.f_from) == (ANY, "t" * 100, "2025-02-30")
    assert state.notice_result == "refused" and state.notice.startswith("From: ")
    assert as_staff == [] and state.page == 3
    assert await search(state, {**form, "date_from": "2025-02-28"}) is None
    assert (state.notice, state.notice_result) == ("", "")
    assert as_staff == [1]


async def test_a_search_without_dates_keeps_the_notice(as_staff: list[int]) -> None:
    state = _state(AdminTravelersState)
    state.notice, state.notice_result = "ok: staff role granted", "ok"
    search = AdminTravelersState.event_handlers["search"].fn
    await search(state, {"email": "a@", "staff_only": "on"})
    assert (state.f_email, state.f_staff) == ("a@", True)
    assert state.notice == "ok: staff role granted"
    assert as_staff == [1]


async def test_sorting_twice_flips_the_direction(as_staff: list[int]) -> None:
    state = _state(AdminOrdersState)
    sort_by = AdminOrdersState.event_handlers["sort_by"].fn
    await sort_by(state, "amount")
    assert (state.sort, state.desc, state.page) == ("amount", False, 1)
    await sort_by(state, "amount")
    assert (state.sort, state.desc) == ("amount", True)
    assert as_staff == [1, 1]
