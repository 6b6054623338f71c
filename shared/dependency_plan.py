"""A route's dependencies solved by a plan made once, instead of FastAPI's per-request walk.

Why: FastAPI (0.165) re-derives every parameter's kind on every request (sequence or not, which
aliases, generator or coroutine), so solving a cached read's three parameters and its token check
took ~146 us of its ~400 us in-process, where a route without parameters spends ~36 us.
A plan reads the same facts once, when the route is built, and then does only the per-request part:
take each value from the request, validate it with the field FastAPI made, call each dependency.

It covers what the services' routes use: path, query, header and cookie parameters of one value,
the Request, and coroutine or async-generator dependencies, cached per request as FastAPI caches
them. Anything else (a body, a list parameter, a parameter model, a Response or BackgroundTasks
parameter, sync dependencies, security scopes) makes `compile_plan` answer None, and the route keeps
FastAPI's solver; so does every request while the app has dependency overrides.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant, _get_cache_key
from fastapi.dependencies.utils import (
    _get_param_aliases,
    _get_param_model,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
    _is_json_field,
    _solve_generator,
    _validate_value_with_model_field,
    field_annotation_is_sequence,
)
from fastapi.exceptions import RequestValidationError
from pydantic_core import PydanticUndefined


@dataclass(frozen=True, slots=True)
class _Parameter:
    """One request value: where it comes from, the keys it may come under, and its validator."""

    field: ModelField
    location: str  # "path", "query", "header", "cookie": also the first element of an error's loc
    request_keys: tuple[str, ...]  # in FastAPI's order of preference; the first when none is sent


@dataclass(frozen=True, slots=True)
class _Plan:
    dependencies: tuple["_Dependency", ...]
    parameters: tuple[_Parameter, ...]
    request_names: tuple[str, ...]  # the parameters that receive the Request itself


@dataclass(frozen=True, slots=True)
class _Dependency:
    dependant: Dependant
    plan: _Plan
    cache_key: Any
    generator: bool


def compile_plan(dependant: Dependant) -> _Plan | None:
    """The plan for `dependant` and everything under it, or None when it needs what plans do not do."""
    unsupported = (
        dependant.body_params
        or dependant.websocket_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    )
    if unsupported:
        return None
    parameters = []
    for location, fields in (
        ("path", dependant.path_params),
        ("query", dependant.query_params),
        ("header", dependant.header_params),
        ("cookie", dependant.cookie_params),
    ):
        for field in fields:
            if (
                _get_param_model(field) is not None
                or _is_json_field(field)
                or field_annotation_is_sequence(field.field_info.annotation)
            ):
                return None
            keys = tuple(request_key for _, request_key in _get_param_aliases(field))
            parameters.append(_Parameter(field, location, keys))
    dependencies = []
    for sub in dependant.dependencies:
        if sub.concurrency is not None or _is_gen_callable(sub.call):
            return None
        generator = _is_async_gen_callable(sub.call)
        if not generator and not _is_coroutine_callable(sub.call):
            return None
        sub_plan = compile_plan(sub)
        if sub_plan is None:
            return None
        dependencies.append(_Dependency(sub, sub_plan, _get_cache_key(dependant=sub), generator))
    request_names = tuple(name for name in (dependant.request_param_name, dependant.http_connection_param_name) if name)
    return _Plan(tuple(dependencies), tuple(parameters), request_names)


async def _solve(plan: _Plan, request: Request, cache: dict[Any, Any], errors: list[Any]) -> dict[str, Any]:
    """The values for one dependant, in FastAPI's order: its dependencies (each skipped when its own
    parameters failed), then its parameters; failures are added to `errors`."""
    values: dict[str, Any] = {}
    for dependency in plan.dependencies:
        failures_before = len(errors)
        sub_values = await _solve(dependency.plan, request, cache, errors)
        if len(errors) > failures_before:
            continue
        dependant = dependency.dependant
        if dependant.use_cache and dependency.cache_key in cache:
            solved = cache[dependency.cache_key]
        elif dependency.generator:
            stack_name = "fastapi_function_astack" if dependant.scope == "function" else "fastapi_inner_astack"
            solved = await _solve_generator(
                dependant=dependant, stack=request.scope[stack_name], sub_values=sub_values, request=request
            )
        else:
            solved = await dependant.call(**sub_values)  # type: ignore[misc]
        if dependant.name is not None:
            values[dependant.name] = solved
        cache.setdefault(dependency.cache_key, solved)
    for parameter in plan.parameters:
        received = _received(request, parameter.location)
        request_key = next((key for key in parameter.request_keys if key in received), parameter.request_keys[0])
        value = received.get(request_key)
        value, failures = _validate_value_with_model_field(
            field=parameter.field,
            value=PydanticUndefined if value is None else value,
            values=values,
            loc=(parameter.location, request_key),
        )
        if failures:
            errors.extend(failures)
        else:
            values[parameter.field.name] = value
    for name in plan.request_names:
        values[name] = request
    return values


def _received(request: Request, location: str) -> Any:
    if location == "path":
        return request.path_params
    if location == "query":
        return request.query_params
    if location == "header":
        return request.headers
    return request.cookies


def planned_endpoint(plan: _Plan, endpoint: Callable[..., Awaitable[Any]]) -> Callable[[Request], Awaitable[Any]]:
    """An endpoint taking only the Request, which solves `endpoint`'s dependencies by `plan` and
    calls it; invalid parameters raise the RequestValidationError FastAPI would have raised."""

    async def solved(request: Request) -> Any:
        errors: list[Any] = []
        values = await _solve(plan, request, {}, errors)
        if errors:
            raise RequestValidationError(errors)
        return await endpoint(**values)

    solved.__name__ = getattr(endpoint, "__name__", "endpoint")
    solved.__qualname__ = getattr(endpoint, "__qualname__", solved.__name__)
    solved.__module__ = getattr(endpoint, "__module__", __name__)
    return solved
