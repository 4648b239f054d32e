"""report.html: one self-contained page (inline CSS, inline JS, data embedded as JSON).

The page is rendered from the Jinja2 template ``templates/report.html.j2``; ``--template PATH``
replaces it (the override may still ``{% include %}`` files from the package's template folder).
The charts are drawn in the browser by ``templates/charts.js`` from the JSON the page embeds.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jinja2

from peakdrill import __version__
from peakdrill.errors import SpecError
from peakdrill.report.capacity import capacity_result
from peakdrill.report.rundata import RunData
from peakdrill.report.score import Score
from peakdrill.report.stats import chart_series
from peakdrill.report.servermetrics import cache_metrics

TEMPLATE_NAME = "report.html.j2"
NOTABLE_EVENTS = {"fault_injected", "fault_removed", "abort", "interrupted", "worker_lost", "generator_saturated"}


def _package_templates() -> Path:
    return Path(str(resources.files("peakdrill.report") / "templates"))


def _environment(template: Path | None) -> tuple[jinja2.Environment, str]:
    folders = [str(_package_templates())]
    name = TEMPLATE_NAME
    if template is not None:
        template = Path(template)
        if not template.is_file():
            raise SpecError(str(template), "", "template not found",
                            f"give an existing Jinja2 file, e.g. a copy of {_package_templates() / TEMPLATE_NAME}")
        folders.insert(0, str(template.parent.resolve()))
        name = template.name
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env, name


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _event_detail(event) -> str:
    return ", ".join(f"{k}={v}" for k, v in event.fields.items() if v not in (None, ""))


def page_data(data: RunData, score: Score) -> dict:
    """The JSON the page's script draws from (also handy for other tools)."""
    faults = [{"start_t": f.start_t, "end_t": f.end_t, "label": f"{f.fault or f.fault_id} (fault)"}
              for f in score.faults]
    stages = [{"name": s.name, "start_s": s.start_s, "end_s": s.end_s, "measured": s.measured}
              for s in data.info.stages]
    return {
        "run_id": data.info.run_id, "verdict": score.verdict, "duration_s": score.totals["duration_s"],
        "latency_bounds": list(score.latency_bounds), "faults": faults, "stages": stages,
        "series": chart_series(data),
        "server_cache": cache_metrics(data),
    }


def _script_json(value: dict) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def render_html(data: RunData, score: Score, template: Path | None = None) -> str:
    env, name = _environment(template)
    chart_data = page_data(data, score)
    charts_js = (_package_templates() / "charts.js").read_text(encoding="utf-8")
    context = {
        "score": score, "info": data.info, "run": data.info.raw, "version": __version__,
        "interrupted": score.interrupted, "stages": data.info.stages,
        "events": [{"t": e.t, "type": e.type, "detail": _event_detail(e), "notable": e.type in NOTABLE_EVENTS}
                   for e in data.events],
        "journals": data.journals, "faults": score.faults, "endpoints": score.endpoints,
        "capacity": score.capacity, "integrity": score.integrity, "capacity_result": capacity_result,
        "generator": [{"source": s, "max_cpu": c, "saturated": s in score.saturated}
                      for s, c in score.generator_max_cpu.items()],
        "server_cache": chart_data["server_cache"], "chart_json": _script_json(chart_data),
        "charts_js": charts_js.replace("</script", "<\\/script"),
    }
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise SpecError(str(exc.filename or name), f"line {exc.lineno}", f"template syntax error: {exc.message}",
                        "fix the Jinja2 syntax or drop --template to use the built-in one") from exc
