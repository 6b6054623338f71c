"""Placeholder router, filled in by the insights work."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
