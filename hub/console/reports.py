"""Adapters' reports on the console (:class:`hub.spi.Report`): a list, one table per report with its
parameters as a form, and the same rows as CSV. Rendered generically: the console knows no adapter."""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from hub.console.app import console_of, page, signed_in
from hub.problems import Problem
from hub.spi import Report

router = APIRouter(prefix="/console", include_in_schema=False)


def _reports(request: Request) -> list[tuple[str, Report]]:
    return [
        (adapter.name, report)
        for adapter in console_of(request).runtime.adapters
        for report in adapter.reports()
    ]


def _find(request: Request, adapter: str, name: str) -> Report:
    for owner, report in _reports(request):
        if (owner, report.name) == (adapter, name):
            return report
    raise Problem("not-found", f"no report {name!r} of adapter {adapter!r}")


def _params(request: Request, report: Report) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in report.parameters}


@router.get("/reports")
def reports_page(request: Request) -> HTMLResponse:
    who = signed_in(request)
    return page(request, "reports.html", who=who, reports=_reports(request), report=None)


@router.get("/reports/{adapter}/{name}")
def report_page(request: Request, adapter: str, name: str) -> HTMLResponse:
    who = signed_in(request)
    report = _find(request, adapter, name)
    params = _params(request, report)
    rows = report.rows(params) if all(params.values()) else []
    return page(
        request,
        "reports.html",
        who=who,
        reports=_reports(request),
        adapter=adapter,
        report=report,
        params=params,
        rows=rows,
        csv_query=str(request.url.query),
    )


@router.get("/reports/{adapter}/{name}/csv")
def report_csv(request: Request, adapter: str, name: str) -> Response:
    signed_in(request)
    report = _find(request, adapter, name)
    params = _params(request, report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(report.columns)
    writer.writerows(report.rows(params))
    suffix = "-".join(v for v in params.values() if v)
    filename = f"{adapter}-{name}{'-' + suffix if suffix else ''}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
