"""Faults on the shop's provider stand-ins, through their admin API: the payment gateway or the
courier-tracking provider erroring, timing out or unreachable, and the AI chat bot's capacity cut.
"""

from __future__ import annotations

from peakdrill.chaos import args, lifecycle
from peakdrill.chaos.target import shop_state, shop_state_if_up
from peakdrill.shop import get_bot_capacity, get_standin_fault, set_bot_capacity, set_standin_fault
from peakdrill.shop.standin_model import MAX_LATENCY_MS, MAX_SLOTS, MODES

__all__ = ["fail_standin", "validate_fail_standin", "heal_standin", "validate_heal_standin",
           "cut_bot_capacity", "validate_cut_bot_capacity", "restore_bot_capacity", "validate_restore_bot_capacity"]

PROVIDERS = ("payment", "courier")
FAILURE_MODES = tuple(mode for mode in MODES if mode != "ok")
STANDIN_FAULT = "standin-failing"
BOT_FAULT = "bot-capacity-cut"


def validate_fail_standin(shop_dir: str = ".peakdrill/shop", standin: str = "payment", mode: str = "error",
                          duration: float = 30, latency_ms: int = 0, error_ratio: float = 1.0) -> None:
    args.choice("standin", standin, PROVIDERS)
    args.choice("mode", mode, FAILURE_MODES)
    args.duration(duration)
    args.whole("latency_ms", latency_ms, 0, MAX_LATENCY_MS, 500)
    args.number("error_ratio", error_ratio, 0.0, 1.0, 1.0)


def fail_standin(shop_dir: str = ".peakdrill/shop", standin: str = "payment", mode: str = "error",
                 duration: float = 30, latency_ms: int = 0, error_ratio: float = 1.0,
                 configuration: dict | None = None) -> dict:
    """Put a provider stand-in into a failure mode for at most ``duration`` s."""
    validate_fail_standin(shop_dir, standin, mode, duration, latency_ms, error_ratio)
    state = shop_state(shop_dir, configuration)
    setting: dict = {}

    def fail() -> None:
        setting.update(set_standin_fault(state, standin, mode, int(latency_ms), float(error_ratio)))

    lifecycle.inject(shop_dir, fault=STANDIN_FAULT, fault_id=f"{STANDIN_FAULT}:{standin}", target=f"{standin} stand-in",
                     duration_s=float(duration), undo=heal, params={"standin": standin}, do=fail)
    return {"standin": standin, "fault": setting}


def validate_heal_standin(shop_dir: str = ".peakdrill/shop", standin: str = "payment", by: str = "method") -> None:
    args.choice("standin", standin, PROVIDERS)
    args.remover_by(by)


def heal_standin(shop_dir: str = ".peakdrill/shop", standin: str = "payment", by: str = "method",
                 configuration: dict | None = None) -> dict:
    """Put the stand-in back to ``ok`` (no latency, no errors); idempotent."""
    validate_heal_standin(shop_dir, standin, by)
    lifecycle.remove(shop_dir, f"{STANDIN_FAULT}:{standin}", by)
    heal(shop_dir, {"standin": standin})  # a fault set outside the ledger is healed too
    return {"standin": standin, "fault": get_standin_fault(shop_state(shop_dir, configuration), standin)}


def heal(shop_dir: str, params: dict) -> None:
    state = shop_state_if_up(shop_dir)
    if state is not None:
        set_standin_fault(state, params["standin"])


def validate_cut_bot_capacity(shop_dir: str = ".peakdrill/shop", slots: int = 0, duration: float = 30) -> None:
    args.whole("slots", slots, 0, MAX_SLOTS, 0)
    args.duration(duration)


def cut_bot_capacity(shop_dir: str = ".peakdrill/shop", slots: int = 0, duration: float = 30,
                     configuration: dict | None = None) -> dict:
    """Cut the AI bot to ``slots`` concurrent chats (0 = down) for at most ``duration`` s."""
    validate_cut_bot_capacity(shop_dir, slots, duration)
    state = shop_state(shop_dir, configuration)
    before = int(get_bot_capacity(state)["slots"])

    def cut() -> None:
        set_bot_capacity(state, int(slots))

    lifecycle.inject(shop_dir, fault=BOT_FAULT, fault_id=f"{BOT_FAULT}:bot", target="bot stand-in",
                     duration_s=float(duration), undo=restore_slots, params={"slots": before},
                     do=cut)
    return {"slots_before": before, "slots": get_bot_capacity(state)["slots"]}


def validate_restore_bot_capacity(shop_dir: str = ".peakdrill/shop", by: str = "method") -> None:
    args.remover_by(by)


def restore_bot_capacity(shop_dir: str = ".peakdrill/shop", by: str = "method", configuration: dict | None = None) -> dict:
    """Give the bot back the capacity it had before the cut; idempotent."""
    validate_restore_bot_capacity(shop_dir, by)
    removed = lifecycle.remove(shop_dir, f"{BOT_FAULT}:bot", by)
    return {"restored": removed is not None, "slots": get_bot_capacity(shop_state(shop_dir, configuration))["slots"]}


def restore_slots(shop_dir: str, params: dict) -> None:
    state = shop_state_if_up(shop_dir)
    if state is not None:
        set_bot_capacity(state, int(params["slots"]))
