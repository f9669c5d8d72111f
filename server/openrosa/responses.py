"""OpenRosa XML documents and headers, built (never parsed) with ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from django.http import HttpResponse
from django.utils.http import http_date

OPENROSA_VERSION = "1.0"
NS_RESPONSE = "http://openrosa.org/http/response"
NS_FORMLIST = "http://openrosa.org/xforms/xformsList"
NS_MANIFEST = "http://openrosa.org/xforms/xformsManifest"


def with_openrosa_headers(response: HttpResponse) -> HttpResponse:
    response["X-OpenRosa-Version"] = OPENROSA_VERSION
    response["Date"] = http_date()
    return response


def xml_response(root: ET.Element, status: int = 200) -> HttpResponse:
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    response = HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
    return with_openrosa_headers(response)


def message_response(text: str, status: int, nature: str = "") -> HttpResponse:
    root = ET.Element("OpenRosaResponse", xmlns=NS_RESPONSE)
    message = ET.SubElement(root, "message")
    if nature:
        message.set("nature", nature)
    message.text = text
    return xml_response(root, status)


def element(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child
