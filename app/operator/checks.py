"""One finding of the doctor, as a line with a mark and a fix."""

from __future__ import annotations

from dataclasses import dataclass

PERMISSION_CODES = frozenset({10, *range(200, 300)})  # (#10), (#200)…(#299): permission errors


@dataclass(frozen=True)
class Check:
    """One finding: ok, warn (works, act soon), fail, or skip (could not be checked)."""

    status: str
    name: str
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        """A failed check makes the doctor exit non-zero."""
        return self.status == "fail"

    def line(self) -> str:
        """One line: mark, name, finding, and the fix or note when there is one."""
        mark = {"ok": "✓", "warn": "⚠", "fail": "✗"}.get(self.status, "–")
        text = f"{mark} {self.name}: {self.detail}"
        if self.fix:
            label = {"fail": "fix", "warn": "warning"}.get(self.status, "note")
            text += f" — {label}: {self.fix}"
        return text
