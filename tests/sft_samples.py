"""Published SFT samples shared by the tests, each with the page it was copied from."""

from __future__ import annotations

from typing import Any

#: The sample body of https://docs.sft.bics.com/sft/how-to-receive-plan-based-notifications-by-apis-in
#: (also https://help.sft.bics.com/sftnf/17-enterprise-tools), as published: its message is the
#: customer's free text, so the portal stores it and shows it to staff.
PUBLISHED_10011_SAMPLE: dict[str, Any] = {
    "Request": {
        "apiCallback": {
            "accountId": "41094429",
            "callbackProcessId": "1029",
            "callbackProcessName": "CallBackNotification",
            "callbackUri": "https://customer/url/abc",
        },
        "notification": {
            "callbackId": "3868551829710785",
            "callbackTimestamp": "11/09/2020 01:25:23",
            "message": "Notification Message defined by the customer with variables",
        },
    }
}
