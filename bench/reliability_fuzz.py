"""Two scenarios read from the running service's OpenAPI: schemathesis cases for every operation with every
role's key, and the role matrix (every operation with every role, no key and a bad key, against the permission
each route declares)."""

from __future__ import annotations

import time

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import HypothesisException

from reliability_support import ROLES, Counter, Row, Server, create_keys

FUZZ = "schemathesis"
MATRIX = "role matrix"
ABSENT_ID = 2**40  # a valid id no row has: the matrix's requests reach the handler and change nothing


def declared_permissions() -> dict[tuple[str, str], set]:
    """(method, path) -> the permissions its route's dependencies require (`Allowed(Perm.x)`), read from the
    app's own routes: the OpenAPI only says that a bearer key is needed, not which role's."""
    from fastapi.routing import APIRoute

    from pvoice.serving.api import ROUTERS
    from pvoice.serving.services.auth import Perm

    def perms_of(dependant) -> set:
        found = set()
        for dep in dependant.dependencies:
            for cell in getattr(dep.call, "__closure__", None) or ():
                if isinstance(cell.cell_contents, Perm):
                    found.add(cell.cell_contents)
            found |= perms_of(dep)
        return found

    # the app includes each router as it is, without a prefix of its own (serving/main.py)
    return {(method.lower(), route.path): perms_of(route.dependant)
            for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)
            for method in route.methods}


def _operations(server: Server):
    spec = requests.get(f"{server.url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        security = spec["paths"][operation.path][operation.method.lower()].get("security")
        operations.append((operation, bool(security)))
    return operations


def _quiet(max_examples: int):
    return settings(max_examples=max_examples, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)


def _cases(operation, mode, max_examples: int, **fixed) -> list:
    """Up to `max_examples` generated cases; none where the mode cannot apply (negative of a bare GET)."""
    drawn = []

    @_quiet(max_examples)
    @given(operation.as_strategy(generation_mode=mode, **fixed))
    def draw(case):
        drawn.append(case)

    try:
        draw()
    except HypothesisException:
        pass
    return drawn


def _call(case, server: Server, session: requests.Session, key: str | None, *, keep_generated_auth: bool):
    if not keep_generated_auth:
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    extra = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        return case.call(base_url=server.url, session=session, headers=extra, timeout=60)
    except requests.RequestException as error:
        return error


def _describe(case, response) -> str:
    return case.formatted_path + (f" query={case.query}" if case.query else "")


def role_matrix(server: Server, permissions: dict, roles_allowed: dict) -> Row:
    """Each operation once per principal; 401/403 or through, as the route's declared permission says."""
    row = Row(MATRIX, faults="no key, bad key, 4 roles")
    count = Counter(row)
    session = requests.Session()
    principals = {"no key": None, "bad key": "pv_not-a-key-" + "x" * 30, **{r: server.keys[r] for r in ROLES}}
    for operation, secured in _operations(server):
        perms = permissions.get((operation.method.lower(), operation.path), set())
        if bool(perms) != secured:
            row.fail(f"{operation.method.upper()} {operation.path}: OpenAPI security {secured}, route permissions "
                     f"{sorted(p.value for p in perms)}")
        names = [p["name"] for p in operation.definition.raw.get("parameters", []) if p.get("in") == "path"]
        cases = _cases(operation, schemathesis.GenerationMode.POSITIVE, 1,
                       path_parameters=dict.fromkeys(names, ABSENT_ID))
        if not cases:
            row.fail(f"{operation.method.upper()} {operation.path}: no valid request could be generated")
            continue
        row.inputs += 1
        for principal, key in principals.items():
            response = _call(cases[0], server, session, key, keep_generated_auth=False)
            status = getattr(response, "status_code", None)
            count.saw(operation.method.upper(), operation.path, status, getattr(response, "text", str(response)))
            if key is None or principal == "bad key":
                expected = 401 if perms else "through"
            else:
                expected = "through" if all(p in roles_allowed[principal] for p in perms) else 403
            got_through = status is not None and status not in (401, 403) and status < 500
            if (expected == "through") != got_through or (expected != "through" and status != expected):
                row.fail(f"{operation.method.upper()} {operation.path} as {principal}: {status}, expected {expected}")
    return row


def fuzz(server: Server, permissions: dict, roles_allowed: dict, *, examples: int, at_least: int = 0) -> Row:
    """Positive and negative schemathesis cases per operation: `examples` each with every role allowed to call
    it, one positive case with each role that is not (it must be refused). Counts requests and 5xx; fewer than
    `at_least` requests is a failure of the run itself (hypothesis ran out of distinct cases)."""
    row = Row(FUZZ, faults="generated inputs, 4 roles")
    count = Counter(row)
    session = requests.Session()
    started = time.monotonic()
    for operation, _ in _operations(server):
        method, path = operation.method.upper(), operation.path
        perms = permissions.get((operation.method.lower(), path), set())
        for role in ROLES:
            allowed = all(p in roles_allowed[role] for p in perms)
            modes = [(schemathesis.GenerationMode.POSITIVE, examples if allowed else 1)]
            if allowed:
                modes.append((schemathesis.GenerationMode.NEGATIVE, examples))
            for mode, n in modes:
                for case in _cases(operation, mode, n):
                    row.inputs += 1
                    response = _call(case, server, session, server.keys[role], keep_generated_auth=not mode.is_positive)
                    status = getattr(response, "status_code", None)
                    count.saw(method, _describe(case, response), status, getattr(response, "text", str(response)))
                    if status is None:
                        row.fail(f"{method} {_describe(case, response)} as {role}: no answer ({response})")
                    elif not allowed and mode.is_positive and status < 400:
                        row.fail(f"{method} {_describe(case, response)} as {role}: {status}, expected 403")
                    if (method, path) == ("DELETE", "/v1/keys/{key_id}") and status == 200:
                        # a generated id revoked one of the bench's keys: mint a fresh set so the run goes on
                        server.keys.update(create_keys(server.database_url))
    row.notes.append(f"schemathesis {schemathesis.__version__}: {row.load} requests in "
                     f"{time.monotonic() - started:.0f} s")
    if row.load < at_least:
        row.fail(f"only {row.load} generated requests, fewer than {at_least}")
    return row
