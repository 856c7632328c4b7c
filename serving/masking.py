"""Masking of personal identifiers (phone numbers, 身份证号, medical record numbers) in text."""

from __future__ import annotations

import hashlib
import hmac
import re

# 18-digit resident id (last may be X) or the old 15-digit form; not inside a longer digit run
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8,11}(\d{3}[\dXx])(?![0-9A-Za-z])|(?<!\d)(\d{6})\d{5}(\d{4})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?\d{3,4}(\d{4})(?!\d)")
# a record number is recognised by the word that announces it
_RECORD = re.compile(
    r"((?:病历|病案|住院|门诊|就诊卡|医保卡|社保卡|卡)号?(?:码)?\s*(?:是|为)?[:：#]?\s*|(?:MRN|mrn)\s*[:：#]?\s*)([A-Za-z0-9-]{4,})")


def _keep_ends(head: str, tail: str, hidden: int) -> str:
    return head + "*" * hidden + tail


def mask_pii(text: str) -> str:
    """The text with identifiers replaced by stars, keeping a few characters so a person can match a record."""
    if not text:
        return text
    text = _RECORD.sub(lambda m: m.group(1) + "*" * max(len(m.group(2)) - 2, 2) + m.group(2)[-2:], text)

    def id_card(m: re.Match) -> str:
        if m.group(1):
            return _keep_ends(m.group(1)[:3], m.group(2)[-2:], len(m.group(0)) - 5)
        return _keep_ends(m.group(3)[:3], m.group(4)[-2:], len(m.group(0)) - 5)

    text = _ID_CARD.sub(id_card, text)
    text = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(2), text)
    return _LANDLINE.sub(lambda m: m.group(1) + "-****" + m.group(2)[-2:], text)


def hash_patient_ref(ref: str, salt: str) -> str:
    """A keyed hash: the same patient links up across comments, the reference itself is never stored."""
    return hmac.new(salt.encode(), ref.strip().encode(), hashlib.sha256).hexdigest()
