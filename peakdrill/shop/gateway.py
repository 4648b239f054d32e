"""The payment-gateway client: charges go over HTTP to the payment provider (the stand-in).

The contract is that of real gateways (Stripe, Adyen): a charge carries an idempotency key and
the gateway returns the same charge for the same key, which is what makes the client's bounded
retries, and the customer's retries of a pending payment, safe: never two charges for one key.
"""

from __future__ import annotations

from dataclasses import dataclass

from peakdrill.shop.outbound import Dependency, Policy

# 3 attempts of at most 1 s: a payment request answers within ~3.2 s even when the gateway hangs.
POLICY = Policy(timeout_s=1.0, retries=2, backoff_s=0.05, breaker_failures=5, breaker_reset_s=5.0)


@dataclass(frozen=True)
class Charge:
    ref: str
    status: str  # succeeded | declined


class Gateway:
    def __init__(self, base_url: str, policy: Policy = POLICY) -> None:
        self.dependency = Dependency("payment", base_url, policy)

    def charge(self, idempotency_key: str, amount_cents: int) -> Charge:
        """Charge ``amount_cents`` under ``idempotency_key``. A refusal (4xx) is a decline; a
        failure to get an answer raises DependencyError: the outcome is unknown, so the payment
        stays pending and is retried with the same key."""
        status, body = self.dependency.call("POST", "/charges", {"idempotency_key": idempotency_key,
                                                                 "amount_cents": amount_cents})
        if status in (200, 201) and body.get("status") == "succeeded":
            return Charge(ref=str(body["charge_id"]), status="succeeded")
        return Charge(ref=str(body.get("charge_id", f"declined-http-{status}")), status="declined")
