"""Reading one uploaded file from a multipart body, bounded, with a problem naming the field when it
is missing (the issuer's verifier and the gap engine both take baked badge images this way)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from shared import input_guard
from shared.errors import Unprocessable


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str
    content_type: str


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


@asynccontextmanager
async def bounded_form(
    request: Request, *, max_files: int, max_fields: int, max_part_size: int
) -> AsyncIterator[FormData]:
    """The multipart form within its bounds. Starlette answers a body past them (too many fields or
    files, a part too large) or a malformed one with a bare 400; here it is a 422 problem that says
    which bound, the answer every other unprocessable body gets."""
    try:
        async with request.form(max_files=max_files, max_fields=max_fields, max_part_size=max_part_size) as form:
            yield form
    except HTTPException as refused:
        if refused.status_code != 400:
            raise
        raise Unprocessable(f"The multipart body was refused: {refused.detail}", field="body") from refused


async def read_upload(request: Request, field: str, missing: str, *, as_text: bool = False) -> Upload:
    """The file in `field`, read up to the service's body bound plus one byte (so the caller can tell
    an oversized one); `missing` is the problem detail when there is no such file. A text or JSON file
    (or any, with `as_text`) gets the screening the edge gives such bodies (shared/input_guard.py)."""
    max_bytes = request.app.state.settings.max_body_bytes
    async with bounded_form(request, max_files=1, max_fields=5, max_part_size=max_bytes) as form:
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            raise Unprocessable(missing, field=field)
        data = await upload.read(max_bytes + 1)
        content_type = upload.content_type or ""
    refused = input_guard.upload_problem(data, content_type, f"the file `{field}`", as_text=as_text)
    if refused:
        raise Unprocessable(refused, field=field)
    return Upload(data=data, filename=upload.filename or "", content_type=content_type)
