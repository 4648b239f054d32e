"""The payment-gateway client. For now the "gateway" runs in-process; every call goes through
:func:`charge` so it can later become an HTTP call to a payment-gateway stand-in process without
touching the order code.

The contract is that of real gateways (Stripe, Adyen): a charge carries an idempotency key and
the gateway returns the same charge for the same key, so a retry can never charge twice.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

from peakdrill.shop.control import Control


class GatewayError(Exception):
    """The gateway failed or timed out; the outcome of the charge is unknown, retry with the same key."""


@dataclass(frozen=True)
class Charge:
    ref: str
    amount_cents: int
    status: str  # succeeded | declined


def charge(idempotency_key: str, amount_cents: int, control: Control | None = None) -> Charge:
    """Charge ``amount_cents``. Same key, same charge: the reference is derived from the key.
    ``control`` carries the payment-gateway-failure fault (see :mod:`peakdrill.shop.control`)."""
    control = control or Control()
    if control.gateway_mode == "error":
        raise GatewayError("payment gateway answered 503")
    if control.gateway_mode == "timeout":
        time.sleep(control.gateway_timeout_s)
        raise GatewayError(f"payment gateway timed out after {control.gateway_timeout_s:g}s")
    time.sleep(random.uniform(0.01, 0.04))  # stands in for the network round trip to the provider
    ref = "ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
    return Charge(ref=ref, amount_cents=amount_cents, status="succeeded")
