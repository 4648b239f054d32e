"""One verdict of a run (a target measured over its window) and the words and exit codes of verdicts."""

from __future__ import annotations

from dataclasses import dataclass

from peakdrill.exitcodes import ExitCode

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
EXIT_CODES = {PASS: ExitCode.PASS, FAIL: ExitCode.FAIL, INCONCLUSIVE: ExitCode.INCONCLUSIVE}


@dataclass(frozen=True)
class Verdict:
    id: str
    title: str
    verdict: str
    measured: float | None
    target: float | None
    unit: str
    comparison: str
    window: str
    detail: str = ""
    measured_text: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "verdict": self.verdict, "measured": self.measured,
                "measured_text": self.measured_text, "target": self.target, "unit": self.unit,
                "comparison": self.comparison, "window": self.window, "detail": self.detail}

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        unit = self.unit if self.unit == "%" else f" {self.unit}"
        return f"{self.comparison} {self.target:g}{unit}".strip()

