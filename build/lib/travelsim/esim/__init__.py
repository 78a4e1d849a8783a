"""eSIM activation codes, QR rendering and install links: pure functions, no Reflex/DB/network."""

from travelsim.esim.activation_code import ActivationCode, InvalidActivationCode
from travelsim.esim.install_links import (
    android_link,
    device_platform,
    in_app_browser_name,
    ios_link,
    is_in_app_browser,
    is_mobile,
    lpa_uri,
)
from travelsim.esim.qr import qr_data_uri_png, qr_png, qr_svg

__all__ = [
    "ActivationCode",
    "InvalidActivationCode",
    "android_link",
    "device_platform",
    "in_app_browser_name",
    "ios_link",
    "is_in_app_browser",
    "is_mobile",
    "lpa_uri",
    "qr_data_uri_png",
    "qr_png",
    "qr_svg",
]
