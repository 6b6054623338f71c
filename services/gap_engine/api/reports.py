"""Placeholder router, filled in by the reports work."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
